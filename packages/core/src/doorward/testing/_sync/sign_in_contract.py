# Generated from packages/core/src/doorward/testing/_async/sign_in_contract.py by scripts/unasync.py. Do not edit: edit the source.
"""The sign-in codes and refresh tokens contracts: every rule of ``SignInCodes`` and
``RefreshTokens``, races included.

Subclass them with the same ``store`` fixture as ``StoreContract`` (the store needs
the users capability too)::

    class TestMyStoreSignIn(SignInCodesContract, RefreshTokensContract):
        @pytest.fixture
        def store(self):
            yield make_my_store()
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from doorward.exceptions import NotFound
from doorward.records import RefreshToken, SignInCode
from doorward.testing._sync._concurrency import run_concurrently
from doorward.testing._sync.store_contract import T0, _AsyncContractBase, successes

__all__ = ["RefreshTokensContract", "SignInCodesContract"]


def _hash() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


class SignInCodesContract(_AsyncContractBase):
    """The sign-in codes capability (``SignInCodes``, with users)."""

    def code(self, user: Any, **overrides: Any) -> SignInCode:
        """A new code of ``user`` with a random id and hash."""
        values: dict[str, Any] = {
            "id": "s" + secrets.token_urlsafe(12),
            "user_id": str(user.id),
            "secret_hash": _hash(),
            "stamp": secrets.token_urlsafe(24),
            "created_at": T0,
            "expires_at": T0 + timedelta(minutes=15),
        }
        values.update(overrides)
        return SignInCode(**values)

    def test_code_round_trips_every_field(self, store: Any) -> None:
        """get_sign_in_code returns the stored record, equal field by field."""
        user = store.create_user(self.new_user())
        code = self.code(user, attempts=2)
        store.create_sign_in_code(code)
        assert code == store.get_sign_in_code(str(user.id))

    def test_a_new_code_replaces_the_old(self, store: Any) -> None:
        """A user has one code: the newest; other users' codes stay."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        old, new, bobs = self.code(ada), self.code(ada), self.code(bob)
        for code in (old, new, bobs):
            store.create_sign_in_code(code)
        assert new == store.get_sign_in_code(str(ada.id))
        assert bobs == store.get_sign_in_code(str(bob.id))
        assert not store.use_sign_in_code(old.id, 3)

    def test_create_for_an_unknown_user_raises(self, store: Any) -> None:
        """A code of a user that is not stored is refused with NotFound."""
        user = store.create_user(self.new_user())
        store.delete_user(user)
        try:
            store.create_sign_in_code(self.code(user))
        except NotFound:
            return
        raise AssertionError("create_sign_in_code accepted an unknown user")

    def test_fail_counts_and_use_respects_the_limit(self, store: Any) -> None:
        """Wrong tries count up; at the limit the code cannot be used."""
        user = store.create_user(self.new_user())
        code = self.code(user)
        store.create_sign_in_code(code)
        assert [store.fail_sign_in_code(code.id) for _ in range(3)] == [1, 2, 3]
        found = store.get_sign_in_code(str(user.id))
        assert found is not None
        assert found.attempts == 3
        assert not store.use_sign_in_code(code.id, 3)
        assert store.use_sign_in_code(code.id, 4)

    def test_use_deletes_once(self, store: Any) -> None:
        """A used code is gone: a second use fails, a wrong try counts nothing."""
        user = store.create_user(self.new_user())
        code = self.code(user)
        store.create_sign_in_code(code)
        assert store.use_sign_in_code(code.id, 3)
        assert not store.use_sign_in_code(code.id, 3)
        assert store.get_sign_in_code(str(user.id)) is None
        assert store.fail_sign_in_code(code.id) == 0

    def test_delete_codes_and_delete_user(self, store: Any) -> None:
        """delete_sign_in_codes and delete_user remove the user's code."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        store.create_sign_in_code(self.code(ada))
        store.create_sign_in_code(self.code(bob))
        assert store.delete_sign_in_codes(str(ada.id)) == 1
        assert store.delete_sign_in_codes(str(ada.id)) == 0
        store.delete_user(bob)
        assert store.get_sign_in_code(str(bob.id)) is None

    # -- races (PL-01) ---------------------------------------------------------------------

    def test_pl01_concurrent_uses_of_one_code_one_wins(self, store: Any) -> None:
        """Of concurrent uses of one code exactly one succeeds."""
        user = store.create_user(self.new_user())
        code = self.code(user)
        store.create_sign_in_code(code)

        def use(_: int) -> bool:
            return bool(store.use_sign_in_code(code.id, 3))

        results = run_concurrently(use, self.race_workers)
        assert successes(results) == results, results
        assert results.count(True) == 1, results

    def test_pl01_concurrent_wrong_tries_all_count(self, store: Any) -> None:
        """Concurrent wrong tries each count once: the counts are 1..n."""
        user = store.create_user(self.new_user())
        code = self.code(user)
        store.create_sign_in_code(code)

        def fail(_: int) -> int:
            return int(store.fail_sign_in_code(code.id))

        results = run_concurrently(fail, self.race_workers)
        assert sorted(r for r in results if isinstance(r, int)) == list(
            range(1, self.race_workers + 1)
        ), results

    def test_pl01_concurrent_new_codes_leave_one(self, store: Any) -> None:
        """Concurrent new codes of one user (a double submit) all succeed; one is left."""
        user = store.create_user(self.new_user())
        codes = [self.code(user) for _ in range(self.race_workers)]

        def create(i: int) -> bool:
            store.create_sign_in_code(codes[i])
            return True

        results = run_concurrently(create, self.race_workers)
        assert successes(results) == results, results
        found = store.get_sign_in_code(str(user.id))
        assert found in codes
        usable = [code.id for code in codes if store.use_sign_in_code(code.id, 3)]
        assert usable == [found.id]


class RefreshTokensContract(_AsyncContractBase):
    """The refresh tokens capability (``RefreshTokens``, with users)."""

    def refresh_token(self, user: Any, **overrides: Any) -> RefreshToken:
        """A new refresh token of ``user`` in a new family."""
        values: dict[str, Any] = {
            "id": "r" + secrets.token_urlsafe(12),
            "family_id": "f" + secrets.token_urlsafe(12),
            "user_id": str(user.id),
            "secret_hash": _hash(),
            "stamp": secrets.token_urlsafe(24),
            "created_at": T0,
            "expires_at": T0 + timedelta(days=30),
            "signed_in_at": T0,
        }
        values.update(overrides)
        return RefreshToken(**values)

    def test_refresh_token_round_trips_every_field(self, store: Any) -> None:
        """get_refresh_token returns the stored record (and its user), field by field."""
        user = store.create_user(self.new_user())
        bare = self.refresh_token(user)
        full = self.refresh_token(
            user,
            created_at=T0 + timedelta(minutes=5),
            signed_in_at=T0 - timedelta(days=1),
            used_at=T0 + timedelta(minutes=9),
            name="Ada's phone ✓",
            ip="2001:db8::1",
            user_agent="Doorward/1.0 (iPhone)",
        )
        for token in (bare, full):
            store.create_refresh_token(token)
            found = store.get_refresh_token(token.secret_hash)
            assert found is not None
            assert token == found[0]
            assert str(found[1].id) == str(user.id)
        assert store.get_refresh_token(_hash()) is None

    def test_refresh_token_for_an_unknown_user_raises(self, store: Any) -> None:
        """A refresh token of a user that is not stored is refused with NotFound."""
        user = store.create_user(self.new_user())
        store.delete_user(user)
        try:
            store.create_refresh_token(
                RefreshToken(
                    id="r" + secrets.token_urlsafe(12),
                    family_id="f" + secrets.token_urlsafe(12),
                    user_id=str(user.id),
                    secret_hash=_hash(),
                    stamp="stamp",
                    created_at=T0,
                    expires_at=T0 + timedelta(days=1),
                    signed_in_at=T0,
                )
            )
        except NotFound:
            return
        raise AssertionError("create_refresh_token accepted an unknown user")

    def test_hashes_are_unique(self, store: Any) -> None:
        """Two tokens with one hash are refused."""
        user = store.create_user(self.new_user())
        token = self.refresh_token(user)
        store.create_refresh_token(token)
        try:
            store.create_refresh_token(
                self.refresh_token(user, secret_hash=token.secret_hash)
            )
        except Exception:  # a ValueError or the database's integrity error
            return
        raise AssertionError("a duplicate refresh-token hash was stored")

    def test_use_marks_once_and_list_shows_unused(self, store: Any) -> None:
        """use_refresh_token sets used_at once; list shows the unused tokens, oldest first."""
        user = store.create_user(self.new_user())
        first = self.refresh_token(user)
        second = self.refresh_token(
            user, family_id=first.family_id, created_at=T0 + timedelta(minutes=1)
        )
        other = self.refresh_token(user, created_at=T0 - timedelta(minutes=1))
        for token in (first, second, other):
            store.create_refresh_token(token)
        at = T0 + timedelta(minutes=2)
        assert store.use_refresh_token(first.id, at)
        assert not store.use_refresh_token(first.id, at)
        found = store.get_refresh_token(first.secret_hash)
        assert found is not None
        assert found[0].used_at == at
        assert [other.id, second.id] == [
            t.id for t in store.list_refresh_tokens(str(user.id))
        ]

    def test_delete_family_and_user_tokens(self, store: Any) -> None:
        """delete_refresh_family ends one family (of that user only); delete_refresh_tokens all."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        first = self.refresh_token(ada)
        second = self.refresh_token(ada, family_id=first.family_id)
        other = self.refresh_token(ada)
        bobs = self.refresh_token(bob)
        for token in (first, second, other, bobs):
            store.create_refresh_token(token)
        assert store.delete_refresh_family(first.family_id, str(bob.id)) == 0
        assert store.delete_refresh_family(first.family_id, str(ada.id)) == 2
        assert store.get_refresh_token(second.secret_hash) is None
        assert store.delete_refresh_family(bobs.family_id) == 1
        assert store.delete_refresh_tokens(str(ada.id)) == 1
        assert store.list_refresh_tokens(str(ada.id)) == []

    def test_delete_expired_and_delete_user(self, store: Any) -> None:
        """Expired families are purged; delete_user removes the user's tokens."""
        user = store.create_user(self.new_user())
        old = self.refresh_token(user, expires_at=T0 - timedelta(seconds=1))
        live = self.refresh_token(user)
        for token in (old, live):
            store.create_refresh_token(token)
        assert store.delete_expired_refresh_tokens(T0) == 1
        assert store.get_refresh_token(live.secret_hash) is not None
        store.delete_user(user)
        assert store.get_refresh_token(live.secret_hash) is None

    # -- races (PL-03) ---------------------------------------------------------------------

    def test_pl03_concurrent_uses_of_one_token_one_wins(self, store: Any) -> None:
        """Of concurrent uses of one refresh token exactly one succeeds."""
        user = store.create_user(self.new_user())
        token = self.refresh_token(user)
        store.create_refresh_token(token)

        def use(_: int) -> bool:
            return bool(store.use_refresh_token(token.id, T0 + timedelta(seconds=1)))

        results = run_concurrently(use, self.race_workers)
        assert successes(results) == results, results
        assert results.count(True) == 1, results
