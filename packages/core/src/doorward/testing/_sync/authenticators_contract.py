# Generated from packages/core/src/doorward/testing/_async/authenticators_contract.py by scripts/unasync.py. Do not edit: edit the source.
"""The authenticators contract: every rule of ``Authenticators``, races included.

Subclass ``AuthenticatorsContract`` with the same ``store`` fixture as
``StoreContract`` (the store needs the users capability too)::

    class TestMyStoreAuthenticators(AuthenticatorsContract):
        @pytest.fixture
        def store(self):
            yield make_my_store()
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from doorward.exceptions import DoorwardError, NotFound
from doorward.records import Authenticator, AuthenticatorKind
from doorward.testing._sync._concurrency import run_concurrently
from doorward.testing._sync.store_contract import T0, _AsyncContractBase, assert_same_second

__all__ = ["AuthenticatorsContract"]


def by_id(authenticator: Authenticator) -> str:
    """Sort key for records created at the same instant (their order is the store's)."""
    return authenticator.id


class AuthenticatorsContract(_AsyncContractBase):
    """The authenticators capability (``Authenticators``, with users)."""

    def authenticator(
        self, user: Any, kind: AuthenticatorKind = "totp", **overrides: Any
    ) -> Authenticator:
        """A new authenticator of ``user`` with random id and secret."""
        values: dict[str, Any] = {
            "id": "a" + secrets.token_urlsafe(12),
            "user_id": str(user.id),
            "kind": kind,
            "secret": secrets.token_urlsafe(40),
            "created_at": T0,
        }
        values.update(overrides)
        return Authenticator(**values)

    def confirmed_totp(self, store: Any, user: Any) -> Authenticator:
        """A stored, confirmed TOTP authenticator of ``user``."""
        totp = self.authenticator(user, "totp", confirmed_at=T0)
        store.create_authenticator(totp)
        return totp

    def test_authenticator_round_trips_every_field(self, store: Any) -> None:
        """list_authenticators returns the stored records, equal field by field."""
        user = store.create_user(self.new_user())
        bare = self.authenticator(user, "recovery")
        full = self.authenticator(
            user,
            "totp",
            created_at=T0 + timedelta(seconds=1),
            confirmed_at=T0 + timedelta(minutes=1),
            last_used_at=T0 + timedelta(hours=1),
            last_used_step=63_000_000_000,
            name="Phone ✓",
        )
        for authenticator in (bare, full):
            store.create_authenticator(authenticator)
        assert [bare, full] == store.list_authenticators(str(user.id))

    def test_list_filters_by_user_and_kind(self, store: Any) -> None:
        """Only the user's authenticators are listed, of the kind asked for, oldest first."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        codes = [
            self.authenticator(ada, "recovery", created_at=T0 + timedelta(seconds=9 - i))
            for i in range(3)
        ]
        for authenticator in [*codes, self.authenticator(ada), self.authenticator(bob)]:
            store.create_authenticator(authenticator)
        assert codes[::-1] == store.list_authenticators(str(ada.id), "recovery")
        assert len(store.list_authenticators(str(ada.id))) == 4
        assert store.list_authenticators(str(bob.id), "recovery") == []
        assert store.list_authenticators("no-such-user-id") == []

    def test_create_for_an_unknown_user_raises(self, store: Any) -> None:
        """An authenticator of a user that is not stored is refused with NotFound."""
        user = store.create_user(self.new_user())
        store.delete_user(user)
        try:
            store.create_authenticator(self.authenticator(user))
        except NotFound:
            return
        raise AssertionError("create_authenticator accepted an unknown user")

    def test_confirm_sets_confirmed_at_once(self, store: Any) -> None:
        """confirm_authenticator is True once; the time is kept; a second call is False."""
        user = store.create_user(self.new_user())
        totp = self.authenticator(user)
        store.create_authenticator(totp)
        assert store.confirm_authenticator(totp.id, T0 + timedelta(minutes=2))
        assert not store.confirm_authenticator(totp.id, T0 + timedelta(minutes=3))
        assert not store.confirm_authenticator("a-no-such-id", T0)
        (stored,) = store.list_authenticators(str(user.id))
        assert_same_second(T0 + timedelta(minutes=2), stored.confirmed_at)

    def test_delete_authenticators_by_kind_except_one(self, store: Any) -> None:
        """delete_authenticators removes the named kinds of one user, sparing except_id."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        totp = self.confirmed_totp(store, ada)
        codes = [self.authenticator(ada, "recovery") for _ in range(3)]
        for code in codes:
            store.create_authenticator(code)
        other = self.confirmed_totp(store, bob)
        assert (
            store.delete_authenticators(str(ada.id), ["recovery"], except_id=codes[0].id) == 2
        )
        kept = store.list_authenticators(str(ada.id))
        assert sorted([totp, codes[0]], key=by_id) == sorted(kept, key=by_id)
        assert store.delete_authenticators(str(ada.id), ["totp", "recovery"]) == 2
        assert store.list_authenticators(str(ada.id)) == []
        assert [other] == store.list_authenticators(str(bob.id))

    def test_use_recovery_code_once(self, store: Any) -> None:
        """A recovery code is used once; another user's or a TOTP secret never matches."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        code = self.authenticator(ada, "recovery")
        totp = self.confirmed_totp(store, ada)
        store.create_authenticator(code)
        assert not store.use_recovery_code(str(bob.id), code.secret)
        assert not store.use_recovery_code(str(ada.id), totp.secret)
        assert store.use_recovery_code(str(ada.id), code.secret)
        assert not store.use_recovery_code(str(ada.id), code.secret)
        assert [totp] == store.list_authenticators(str(ada.id))

    def test_accept_totp_step_moves_forward_only(self, store: Any) -> None:
        """A step is accepted once and only when later than the last one (MF-02)."""
        user = store.create_user(self.new_user())
        totp = self.confirmed_totp(store, user)
        at = T0 + timedelta(minutes=5)
        assert store.accept_totp_step(totp.id, 100, at)
        assert not store.accept_totp_step(totp.id, 100, at)
        assert not store.accept_totp_step(totp.id, 99, at)
        assert store.accept_totp_step(totp.id, 101, at)
        assert not store.accept_totp_step("a-no-such-id", 500, at)
        (stored,) = store.list_authenticators(str(user.id))
        assert stored.last_used_step == 101
        assert_same_second(at, stored.last_used_at)

    def test_unconfirmed_totp_accepts_no_step(self, store: Any) -> None:
        """An enrolment not yet confirmed cannot be used to pass a second step."""
        user = store.create_user(self.new_user())
        totp = self.authenticator(user)
        store.create_authenticator(totp)
        assert not store.accept_totp_step(totp.id, 100, T0)

    def test_delete_user_removes_authenticators(self, store: Any) -> None:
        """delete_user takes the user's authenticators with it."""
        user = store.create_user(self.new_user())
        self.confirmed_totp(store, user)
        store.create_authenticator(self.authenticator(user, "recovery"))
        store.delete_user(user)
        assert store.list_authenticators(str(user.id)) == []

    # -- races -----------------------------------------------------------------------------

    def test_mf02_concurrent_accepts_of_one_step_one_wins(self, store: Any) -> None:
        """Of concurrent accepts of one time step exactly one gets True (MF-02)."""
        user = store.create_user(self.new_user())
        totp = self.confirmed_totp(store, user)

        def accept(_: int) -> bool:
            result: bool = store.accept_totp_step(totp.id, 1000, T0)
            return result

        results = run_concurrently(accept, self.race_workers)
        assert [result for result in results if result is True] == [True]
        assert all(result is False for result in results if result is not True)

    def test_mf04_concurrent_uses_of_one_code_one_wins(self, store: Any) -> None:
        """Of concurrent uses of one recovery code exactly one succeeds (MF-04)."""
        user = store.create_user(self.new_user())
        code = self.authenticator(user, "recovery")
        store.create_authenticator(code)

        def use(_: int) -> bool:
            result: bool = store.use_recovery_code(str(user.id), code.secret)
            return result

        results = run_concurrently(use, self.race_workers)
        assert [result for result in results if result is True] == [True]
        assert all(result is False for result in results if result is not True)

    # -- passkeys (the PasskeyStore capability, MF-07) ---------------------------------------

    def passkey(self, store: Any, user: Any, **overrides: Any) -> Authenticator:
        """A new passkey record of ``user`` (skips the test on a store without passkeys)."""
        if not callable(getattr(store, "get_passkey", None)):
            pytest.skip("this store has no PasskeyStore capability")
        values: dict[str, Any] = {
            "secret": secrets.token_hex(32),
            "confirmed_at": T0,
            "name": "Laptop ✓",
            "credential_id": secrets.token_urlsafe(32),
            "public_key": secrets.token_urlsafe(77),
            "sign_count": 0,
            "transports": ("internal", "hybrid"),
            "user_handle": secrets.token_urlsafe(32),
        }
        values.update(overrides)
        return self.authenticator(user, "passkey", **values)

    def test_passkey_round_trips_and_is_found_by_its_secret(self, store: Any) -> None:
        """Every passkey field comes back from list_authenticators and get_passkey (with the user)."""
        user = store.create_user(self.new_user())
        passkey = self.passkey(store, user)
        store.create_authenticator(passkey)
        assert store.list_authenticators(str(user.id), "passkey") == [passkey]
        found = store.get_passkey(passkey.secret)
        assert found is not None
        assert found[0] == passkey
        assert str(found[1].id) == str(user.id)
        assert store.get_passkey(secrets.token_hex(32)) is None
        assert store.get_passkey("\x00") is None

    def test_mf07_a_passkey_secret_belongs_to_one_user(self, store: Any) -> None:
        """A second passkey with the same secret, for another user or the same, is refused."""
        first = store.create_user(self.new_user())
        second = store.create_user(self.new_user("bob@example.test"))
        passkey = self.passkey(store, first)
        store.create_authenticator(passkey)
        for owner in (second, first):
            with pytest.raises((ValueError, DoorwardError)):
                store.create_authenticator(self.passkey(store, owner, secret=passkey.secret))
        assert store.list_authenticators(str(second.id)) == []
        found = store.get_passkey(passkey.secret)
        assert found is not None
        assert str(found[1].id) == str(first.id)

    def test_use_passkey_is_a_compare_and_set(self, store: Any) -> None:
        """use_passkey moves only from the stored count, and only for a challenge issued after
        the last use; a recovery code or TOTP never moves."""
        user = store.create_user(self.new_user())
        passkey = self.passkey(store, user, sign_count=5)
        store.create_authenticator(passkey)
        t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
        assert not store.use_passkey(
            passkey.id, old_count=4, new_count=6, at=t1, issued_at=T0
        )
        assert store.use_passkey(passkey.id, old_count=5, new_count=6, at=t1, issued_at=T0)
        # a challenge issued before that use is dead, whatever the count says
        assert not store.use_passkey(
            passkey.id, old_count=6, new_count=7, at=t2, issued_at=t1 - timedelta(seconds=1)
        )
        assert store.use_passkey(passkey.id, old_count=6, new_count=7, at=t2, issued_at=t2)
        [stored] = store.list_authenticators(str(user.id), "passkey")
        assert stored.sign_count == 7
        assert_same_second(stored.last_used_at, t2)
        totp = self.confirmed_totp(store, user)
        assert not store.use_passkey(totp.id, old_count=0, new_count=1, at=t2, issued_at=t2)
        assert not store.use_passkey("nope", old_count=0, new_count=1, at=t2, issued_at=t2)

    def test_delete_passkey_deletes_only_the_owners(self, store: Any) -> None:
        """delete_passkey removes one passkey of its owner, once; never another kind."""
        user = store.create_user(self.new_user())
        other = store.create_user(self.new_user("bob@example.test"))
        passkey = self.passkey(store, user)
        store.create_authenticator(passkey)
        totp = self.confirmed_totp(store, user)
        assert not store.delete_passkey(passkey.id, str(other.id))
        assert not store.delete_passkey(totp.id, str(user.id))
        assert store.delete_passkey(passkey.id, str(user.id))
        assert not store.delete_passkey(passkey.id, str(user.id))
        assert store.get_passkey(passkey.secret) is None
        assert [a.kind for a in store.list_authenticators(str(user.id))] == ["totp"]

    def test_mf07_concurrent_uses_of_one_assertion_one_wins(self, store: Any) -> None:
        """Of concurrent use_passkey calls for one assertion exactly one gets True (MF-07)."""
        user = store.create_user(self.new_user())
        passkey = self.passkey(store, user)
        store.create_authenticator(passkey)
        at = T0 + timedelta(minutes=1)

        def use(_: int) -> bool:
            result: bool = store.use_passkey(
                passkey.id, old_count=0, new_count=0, at=at, issued_at=T0
            )
            return result

        results = run_concurrently(use, self.race_workers)
        assert [result for result in results if result is True] == [True]
        assert all(result is False for result in results if result is not True)
