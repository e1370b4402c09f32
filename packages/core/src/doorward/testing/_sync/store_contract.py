# Generated from packages/core/src/doorward/testing/_async/store_contract.py by scripts/unasync.py. Do not edit: edit the source.
"""The store contract suite: every rule of the ``UserStore`` protocol, races included.

Subclass it and provide a ``store`` fixture that yields a fresh, empty store::

    class TestMyStore(StoreContract):
        @pytest_asyncio.fixture
        def store(self):
            yield make_my_store()

The store object is shared by the concurrent workers of the race tests, so it must be
safe to use from several threads (sync) or tasks (async) at once, each operation on its
own connection from a pool. ``StoreContract`` is the generated sync twin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from doorward.exceptions import EmailTaken, NotFound
from doorward.records import USER_FIELDS, Credential, NewUser, Role
from doorward.testing._sync._concurrency import run_concurrently

__all__ = ["StoreContract"]

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def new_user(email: str = "alice@example.com", **overrides: Any) -> NewUser:
    """A ``NewUser`` whose normalized email is the lower-cased address."""
    values: dict[str, Any] = {
        "email": email,
        "normalized_email": email.lower(),
        "password_hash": "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "security_stamp": "stamp-0",
        "created_at": T0,
    }
    values.update(overrides)
    return NewUser(**values)


def credential(user: Any, n: int = 0, kind: Any = "session", **overrides: Any) -> Credential:
    """A credential record of ``user``."""
    values: dict[str, Any] = {
        "id": f"cred-{kind}-{n}",
        "user_id": str(user.id),
        "kind": kind,
        "secret_hash": f"{kind}-{n}".ljust(64, "0"),
        "stamp": user.security_stamp,
        "created_at": T0 + timedelta(seconds=n),
        "expires_at": T0 + timedelta(days=1),
    }
    values.update(overrides)
    return Credential(**values)


def same_instant(a: datetime | None, b: datetime | None) -> bool:
    """Equal to the millisecond, both timezone-aware (stores may keep less than microseconds)."""
    if a is None or b is None:
        return a is b
    assert a.tzinfo is not None, "stores must return timezone-aware datetimes"
    return abs((a - b).total_seconds()) < 0.001


class StoreContract:
    """The contract every store passes; the subclass provides ``store``."""

    pytestmark: list[pytest.MarkDecorator] = []
    #: How many concurrent workers the race tests start.
    workers = 8

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("provide a `store` fixture yielding a fresh, empty store")

    # -- users -------------------------------------------------------------------------------

    def test_create_and_get_user(self, store: Any) -> None:
        """A created user has every documented field with its initial value, by id and by email."""
        user = store.create_user(new_user())
        for name in USER_FIELDS:
            assert hasattr(user, name), name
        assert user.email == "alice@example.com"
        assert user.active is True
        assert user.failed_logins == 0
        assert user.login_count == 0
        assert user.confirmed_at is None
        assert same_instant(T0, user.created_at)
        by_id = store.get_user(str(user.id))
        by_email = store.get_user_by_email("alice@example.com")
        assert str(user.id) == str(by_id.id) == str(by_email.id)

    def test_get_user_unknown_or_malformed_id(self, store: Any) -> None:
        """Unknown ids and ids of the wrong shape give None, never an error."""
        store.create_user(new_user())
        for bad in ("", "0", "999999", "not-an-id", "' OR 1=1 --", "x" * 300, "{}", "$ne"):
            assert store.get_user(bad) is None

    def test_get_user_by_email_is_exact(self, store: Any) -> None:
        """Lookup compares the normalized email exactly; no case folding or patterns in the store."""
        store.create_user(new_user())
        assert store.get_user_by_email("Alice@example.com") is None
        assert store.get_user_by_email("alice@example.co") is None
        assert store.get_user_by_email("%") is None
        assert store.get_user_by_email(".*") is None

    def test_duplicate_email_raises_email_taken(self, store: Any) -> None:
        """A second user with the same normalized email is refused and nothing is written."""
        store.create_user(new_user())
        with pytest.raises(EmailTaken):
            store.create_user(
                new_user("ALICE@example.com", normalized_email="alice@example.com")
            )
        user = store.get_user_by_email("alice@example.com")
        assert user.email == "alice@example.com"

    def test_update_user_writes_only_named_fields(self, store: Any) -> None:
        """update_user sets the named fields and leaves the others as they were."""
        user = store.create_user(new_user())
        updated = store.update_user(user, {"confirmed_at": T0, "pending_email": "new@x.org"})
        assert same_instant(T0, updated.confirmed_at)
        assert updated.pending_email == "new@x.org"
        again = store.get_user(str(user.id))
        assert same_instant(T0, again.confirmed_at)
        assert again.security_stamp == "stamp-0"
        assert user.password_hash == again.password_hash

    def test_update_user_email_collision(self, store: Any) -> None:
        """Moving a user to a taken normalized email raises EmailTaken and writes nothing."""
        alice = store.create_user(new_user())
        store.create_user(new_user("bob@example.com"))
        with pytest.raises(EmailTaken):
            store.update_user(
                alice,
                {
                    "email": "bob@example.com",
                    "normalized_email": "bob@example.com",
                    "pending_email": "x",
                },
            )
        again = store.get_user(str(alice.id))
        assert again.normalized_email == "alice@example.com"
        assert again.pending_email is None

    def test_datetimes_round_trip_aware(self, store: Any) -> None:
        """Datetimes come back timezone-aware and equal to the millisecond."""
        moment = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
        user = store.create_user(new_user())
        store.update_user(user, {"confirmed_at": moment, "last_failed_login_at": moment})
        again = store.get_user(str(user.id))
        assert same_instant(moment, again.confirmed_at)
        assert same_instant(moment, again.last_failed_login_at)

    def test_compare_and_set_stamp(self, store: Any) -> None:
        """The stamp moves only from the expected value, with the other changes, in one step."""
        user = store.create_user(new_user())
        assert store.compare_and_set_stamp(user, "wrong", {"security_stamp": "s1"}) is None
        moved = store.compare_and_set_stamp(
            user, "stamp-0", {"security_stamp": "s1", "password_hash": "h2", "failed_logins": 0}
        )
        assert moved.security_stamp == "s1"
        assert moved.password_hash == "h2"
        assert store.compare_and_set_stamp(user, "stamp-0", {"security_stamp": "s2"}) is None
        again = store.get_user(str(user.id))
        assert again.security_stamp == "s1"
        assert again.password_hash == "h2"

    def test_compare_and_set_stamp_email_collision(self, store: Any) -> None:
        """A stamp change that would take another user's email raises EmailTaken and writes nothing."""
        alice = store.create_user(new_user())
        store.create_user(new_user("bob@example.com"))
        with pytest.raises(EmailTaken):
            store.compare_and_set_stamp(
                alice,
                "stamp-0",
                {
                    "security_stamp": "s1",
                    "email": "bob@example.com",
                    "normalized_email": "bob@example.com",
                },
            )
        assert (store.get_user(str(alice.id))).security_stamp == "stamp-0"

    def test_delete_user_cascades(self, store: Any) -> None:
        """Deleting a user removes their credentials and role links; the email is free again."""
        user = store.create_user(new_user())
        store.save_role(Role(name="admin"))
        store.add_user_role(user, "admin")
        store.create_credential(credential(user))
        store.delete_user(user)
        assert store.get_user(str(user.id)) is None
        assert store.get_credential("session", credential(user).secret_hash) is None
        assert store.list_credentials(str(user.id), "session") == []
        again = store.create_user(new_user())
        assert frozenset() == store.get_user_roles(again)

    def test_increment_failed_logins(self, store: Any) -> None:
        """Each increment adds one and records the time; the new count is returned."""
        user = store.create_user(new_user())
        assert store.increment_failed_logins(user, T0) == 1
        assert store.increment_failed_logins(user, T0 + timedelta(seconds=5)) == 2
        again = store.get_user(str(user.id))
        assert again.failed_logins == 2
        assert same_instant(T0 + timedelta(seconds=5), again.last_failed_login_at)

    def test_record_login(self, store: Any) -> None:
        """A login shifts current to last, sets current, counts, and zeroes the failures."""
        user = store.create_user(new_user())
        store.increment_failed_logins(user, T0)
        first = store.record_login(user, T0, "192.0.2.1")
        assert first.login_count == 1
        assert first.failed_logins == 0
        assert first.last_failed_login_at is None
        assert first.last_login_at is None
        second = store.record_login(first, T0 + timedelta(hours=1), "192.0.2.2")
        assert second.login_count == 2
        assert same_instant(T0, second.last_login_at)
        assert second.last_login_ip == "192.0.2.1"
        assert same_instant(T0 + timedelta(hours=1), second.current_login_at)
        assert second.current_login_ip == "192.0.2.2"

    # -- roles ---------------------------------------------------------------------------------

    def test_roles(self, store: Any) -> None:
        """Roles are saved, replaced, listed by name, linked, unlinked and deleted."""
        store.save_role(Role(name="viewer", permissions=frozenset({"read"})))
        store.save_role(
            Role(name="admin", description="all", permissions=frozenset({"read", "write"}))
        )
        store.save_role(
            Role(name="viewer", description="v2", permissions=frozenset({"read", "list"}))
        )
        assert [r.name for r in store.list_roles()] == ["admin", "viewer"]
        viewer = store.get_role("viewer")
        assert viewer.description == "v2"
        assert frozenset({"read", "list"}) == viewer.permissions
        assert store.get_role("nobody") is None
        user = store.create_user(new_user())
        assert store.add_user_role(user, "viewer")
        assert not store.add_user_role(user, "viewer")
        with pytest.raises(NotFound):
            store.add_user_role(user, "nobody")
        assert store.add_user_role(user, "admin")
        assert frozenset({"viewer", "admin"}) == store.get_user_roles(user)
        assert frozenset({"read", "list", "write"}) == store.get_user_permissions(user)
        assert store.remove_user_role(user, "admin")
        assert not store.remove_user_role(user, "admin")
        assert frozenset({"read", "list"}) == store.get_user_permissions(user)
        assert store.delete_role("viewer")
        assert not store.delete_role("viewer")
        assert frozenset() == store.get_user_roles(user)

    # -- credentials -----------------------------------------------------------------------------

    def test_credentials_round_trip(self, store: Any) -> None:
        """A credential comes back with its user by (kind, hash), with every field intact."""
        user = store.create_user(new_user())
        record = credential(
            user, authenticated_at=T0, ip="192.0.2.1", user_agent="UA/1", last_used_at=T0
        )
        store.create_credential(record)
        found = store.get_credential("session", record.secret_hash)
        assert found is not None
        got, owner = found
        assert str(user.id) == str(owner.id)
        assert (record.id, record.user_id, record.kind, record.secret_hash, record.stamp) == (
            got.id,
            got.user_id,
            got.kind,
            got.secret_hash,
            got.stamp,
        )
        assert same_instant(record.expires_at, got.expires_at)
        assert same_instant(T0, got.authenticated_at)
        assert (got.ip, got.user_agent) == ("192.0.2.1", "UA/1")
        assert store.get_credential("api", record.secret_hash) is None
        assert store.get_credential("session", "0" * 64) is None

    def test_list_touch_and_delete_credentials(self, store: Any) -> None:
        """Listing is per user and kind, oldest first; touch updates times; deletes are scoped."""
        alice = store.create_user(new_user())
        bob = store.create_user(new_user("bob@example.com"))
        for n in (2, 0, 1):
            store.create_credential(credential(alice, n))
        store.create_credential(credential(alice, 9, kind="api", name="ci"))
        store.create_credential(credential(bob, 5))
        listed = store.list_credentials(str(alice.id), "session")
        assert [c.id for c in listed] == ["cred-session-0", "cred-session-1", "cred-session-2"]
        assert [c.name for c in store.list_credentials(str(alice.id), "api")] == ["ci"]
        later = T0 + timedelta(hours=2)
        store.touch_credential("cred-session-0", last_used_at=later, authenticated_at=later)
        store.touch_credential("cred-session-1", last_used_at=later)
        found = {c.id: c for c in store.list_credentials(str(alice.id), "session")}
        assert same_instant(later, found["cred-session-0"].authenticated_at)
        assert found["cred-session-1"].authenticated_at is None
        assert same_instant(later, found["cred-session-1"].last_used_at)
        assert not store.delete_credential("cred-session-5", str(alice.id))
        assert store.delete_credential("cred-session-2", str(alice.id))
        assert not store.delete_credential("cred-session-2")
        removed = store.delete_credentials(
            str(alice.id), ["session", "api"], except_id="cred-session-0"
        )
        assert removed == 2
        assert [c.id for c in store.list_credentials(str(alice.id), "session")] == [
            "cred-session-0"
        ]
        assert len(store.list_credentials(str(bob.id), "session")) == 1

    def test_delete_expired_credentials(self, store: Any) -> None:
        """Only credentials whose expiry is before now are removed."""
        user = store.create_user(new_user())
        store.create_credential(credential(user, 1, expires_at=T0 - timedelta(seconds=1)))
        store.create_credential(credential(user, 2, expires_at=T0 + timedelta(seconds=1)))
        store.create_credential(credential(user, 3, kind="api", expires_at=None))
        assert store.delete_expired_credentials(T0) == 1
        assert [c.id for c in store.list_credentials(str(user.id), "session")] == [
            "cred-session-2"
        ]
        assert len(store.list_credentials(str(user.id), "api")) == 1

    # -- races -------------------------------------------------------------------------------------

    def test_cc01_concurrent_registrations_one_account(self, store: Any) -> None:
        """Concurrent creates of one normalized email: exactly one succeeds, the rest get EmailTaken."""

        def create(i: int) -> Any:
            return store.create_user(new_user("race@example.com", security_stamp=f"s{i}"))

        results = run_concurrently(create, self.workers)
        created = [r for r in results if not isinstance(r, BaseException)]
        assert len(created) == 1, results
        assert all(isinstance(r, EmailTaken) for r in results if isinstance(r, BaseException))
        assert str(created[0].id) == str((store.get_user_by_email("race@example.com")).id)

    def test_cc02_concurrent_stamp_swaps_one_winner(self, store: Any) -> None:
        """Concurrent compare-and-set from the same stamp: exactly one returns the user."""
        user = store.create_user(new_user())

        def swap(i: int) -> Any:
            return store.compare_and_set_stamp(
                user, "stamp-0", {"security_stamp": f"winner-{i}", "password_hash": f"h{i}"}
            )

        results = run_concurrently(swap, self.workers)
        assert not [r for r in results if isinstance(r, BaseException)], results
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        stored = store.get_user(str(user.id))
        assert winners[0].security_stamp == stored.security_stamp
        assert "h" + stored.security_stamp.removeprefix("winner-") == stored.password_hash

    def test_cc03_concurrent_increments_exact(self, store: Any) -> None:
        """Concurrent failed-login increments add up exactly and each sees a distinct count."""
        user = store.create_user(new_user())
        rounds = 5

        def bump(i: int) -> list[int]:
            return [store.increment_failed_logins(user, T0) for _ in range(rounds)]

        results = run_concurrently(bump, self.workers)
        assert not [r for r in results if isinstance(r, BaseException)], results
        seen = sorted(n for counts in results for n in counts)
        assert list(range(1, self.workers * rounds + 1)) == seen
        assert self.workers * rounds == (store.get_user(str(user.id))).failed_logins

    def test_concurrent_credential_delete_one_winner(self, store: Any) -> None:
        """Concurrent deletes of one credential: exactly one caller is told it removed it."""
        user = store.create_user(new_user())
        store.create_credential(credential(user, kind="remember"))

        def delete(i: int) -> bool:
            return bool(store.delete_credential("cred-remember-0"))

        results = run_concurrently(delete, self.workers)
        assert [r for r in results if r is True] == [True], results
