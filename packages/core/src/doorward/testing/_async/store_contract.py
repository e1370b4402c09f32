"""The store contract suite: every rule of the ``AsyncUserStore`` protocol, races included.

Subclass it and provide a ``store`` fixture that yields a fresh, empty store::

    class TestMyStore(AsyncStoreContract):
        @pytest_asyncio.fixture
        async def store(self):
            yield await make_my_store()

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
from doorward.testing._async._concurrency import run_concurrently

__all__ = ["AsyncStoreContract"]

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


class AsyncStoreContract:
    """The contract every store passes; the subclass provides ``store``."""

    pytestmark = pytest.mark.asyncio
    #: How many concurrent workers the race tests start.
    workers = 8

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("provide a `store` fixture yielding a fresh, empty store")

    # -- users -------------------------------------------------------------------------------

    async def test_create_and_get_user(self, store: Any) -> None:
        """A created user has every documented field with its initial value, by id and by email."""
        user = await store.create_user(new_user())
        for name in USER_FIELDS:
            assert hasattr(user, name), name
        assert user.email == "alice@example.com"
        assert user.active is True
        assert user.failed_logins == 0
        assert user.login_count == 0
        assert user.confirmed_at is None
        assert same_instant(T0, user.created_at)
        by_id = await store.get_user(str(user.id))
        by_email = await store.get_user_by_email("alice@example.com")
        assert str(user.id) == str(by_id.id) == str(by_email.id)

    async def test_get_user_unknown_or_malformed_id(self, store: Any) -> None:
        """Unknown ids and ids of the wrong shape give None, never an error."""
        await store.create_user(new_user())
        for bad in ("", "0", "999999", "not-an-id", "' OR 1=1 --", "x" * 300, "{}", "$ne"):
            assert await store.get_user(bad) is None

    async def test_get_user_by_email_is_exact(self, store: Any) -> None:
        """Lookup compares the normalized email exactly; no case folding or patterns in the store."""
        await store.create_user(new_user())
        assert await store.get_user_by_email("Alice@example.com") is None
        assert await store.get_user_by_email("alice@example.co") is None
        assert await store.get_user_by_email("%") is None
        assert await store.get_user_by_email(".*") is None

    async def test_duplicate_email_raises_email_taken(self, store: Any) -> None:
        """A second user with the same normalized email is refused and nothing is written."""
        await store.create_user(new_user())
        with pytest.raises(EmailTaken):
            await store.create_user(
                new_user("ALICE@example.com", normalized_email="alice@example.com")
            )
        user = await store.get_user_by_email("alice@example.com")
        assert user.email == "alice@example.com"

    async def test_update_user_writes_only_named_fields(self, store: Any) -> None:
        """update_user sets the named fields and leaves the others as they were."""
        user = await store.create_user(new_user())
        updated = await store.update_user(user, {"confirmed_at": T0, "pending_email": "new@x.org"})
        assert same_instant(T0, updated.confirmed_at)
        assert updated.pending_email == "new@x.org"
        again = await store.get_user(str(user.id))
        assert same_instant(T0, again.confirmed_at)
        assert again.security_stamp == "stamp-0"
        assert user.password_hash == again.password_hash

    async def test_update_user_email_collision(self, store: Any) -> None:
        """Moving a user to a taken normalized email raises EmailTaken and writes nothing."""
        alice = await store.create_user(new_user())
        await store.create_user(new_user("bob@example.com"))
        with pytest.raises(EmailTaken):
            await store.update_user(
                alice,
                {
                    "email": "bob@example.com",
                    "normalized_email": "bob@example.com",
                    "pending_email": "x",
                },
            )
        again = await store.get_user(str(alice.id))
        assert again.normalized_email == "alice@example.com"
        assert again.pending_email is None

    async def test_datetimes_round_trip_aware(self, store: Any) -> None:
        """Datetimes come back timezone-aware and equal to the millisecond."""
        moment = datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
        user = await store.create_user(new_user())
        await store.update_user(user, {"confirmed_at": moment, "last_failed_login_at": moment})
        again = await store.get_user(str(user.id))
        assert same_instant(moment, again.confirmed_at)
        assert same_instant(moment, again.last_failed_login_at)

    async def test_compare_and_set_stamp(self, store: Any) -> None:
        """The stamp moves only from the expected value, with the other changes, in one step."""
        user = await store.create_user(new_user())
        assert await store.compare_and_set_stamp(user, "wrong", {"security_stamp": "s1"}) is None
        moved = await store.compare_and_set_stamp(
            user, "stamp-0", {"security_stamp": "s1", "password_hash": "h2", "failed_logins": 0}
        )
        assert moved.security_stamp == "s1"
        assert moved.password_hash == "h2"
        assert await store.compare_and_set_stamp(user, "stamp-0", {"security_stamp": "s2"}) is None
        again = await store.get_user(str(user.id))
        assert again.security_stamp == "s1"
        assert again.password_hash == "h2"

    async def test_compare_and_set_stamp_email_collision(self, store: Any) -> None:
        """A stamp change that would take another user's email raises EmailTaken and writes nothing."""
        alice = await store.create_user(new_user())
        await store.create_user(new_user("bob@example.com"))
        with pytest.raises(EmailTaken):
            await store.compare_and_set_stamp(
                alice,
                "stamp-0",
                {
                    "security_stamp": "s1",
                    "email": "bob@example.com",
                    "normalized_email": "bob@example.com",
                },
            )
        assert (await store.get_user(str(alice.id))).security_stamp == "stamp-0"

    async def test_delete_user_cascades(self, store: Any) -> None:
        """Deleting a user removes their credentials and role links; the email is free again."""
        user = await store.create_user(new_user())
        await store.save_role(Role(name="admin"))
        await store.add_user_role(user, "admin")
        await store.create_credential(credential(user))
        await store.delete_user(user)
        assert await store.get_user(str(user.id)) is None
        assert await store.get_credential("session", credential(user).secret_hash) is None
        assert await store.list_credentials(str(user.id), "session") == []
        again = await store.create_user(new_user())
        assert frozenset() == await store.get_user_roles(again)

    async def test_increment_failed_logins(self, store: Any) -> None:
        """Each increment adds one and records the time; the new count is returned."""
        user = await store.create_user(new_user())
        assert await store.increment_failed_logins(user, T0) == 1
        assert await store.increment_failed_logins(user, T0 + timedelta(seconds=5)) == 2
        again = await store.get_user(str(user.id))
        assert again.failed_logins == 2
        assert same_instant(T0 + timedelta(seconds=5), again.last_failed_login_at)

    async def test_record_login(self, store: Any) -> None:
        """A login shifts current to last, sets current, counts, and zeroes the failures."""
        user = await store.create_user(new_user())
        await store.increment_failed_logins(user, T0)
        first = await store.record_login(user, T0, "192.0.2.1")
        assert first.login_count == 1
        assert first.failed_logins == 0
        assert first.last_failed_login_at is None
        assert first.last_login_at is None
        second = await store.record_login(first, T0 + timedelta(hours=1), "192.0.2.2")
        assert second.login_count == 2
        assert same_instant(T0, second.last_login_at)
        assert second.last_login_ip == "192.0.2.1"
        assert same_instant(T0 + timedelta(hours=1), second.current_login_at)
        assert second.current_login_ip == "192.0.2.2"

    # -- roles ---------------------------------------------------------------------------------

    async def test_roles(self, store: Any) -> None:
        """Roles are saved, replaced, listed by name, linked, unlinked and deleted."""
        await store.save_role(Role(name="viewer", permissions=frozenset({"read"})))
        await store.save_role(
            Role(name="admin", description="all", permissions=frozenset({"read", "write"}))
        )
        await store.save_role(
            Role(name="viewer", description="v2", permissions=frozenset({"read", "list"}))
        )
        assert [r.name for r in await store.list_roles()] == ["admin", "viewer"]
        viewer = await store.get_role("viewer")
        assert viewer.description == "v2"
        assert frozenset({"read", "list"}) == viewer.permissions
        assert await store.get_role("nobody") is None
        user = await store.create_user(new_user())
        assert await store.add_user_role(user, "viewer")
        assert not await store.add_user_role(user, "viewer")
        with pytest.raises(NotFound):
            await store.add_user_role(user, "nobody")
        assert await store.add_user_role(user, "admin")
        assert frozenset({"viewer", "admin"}) == await store.get_user_roles(user)
        assert frozenset({"read", "list", "write"}) == await store.get_user_permissions(user)
        assert await store.remove_user_role(user, "admin")
        assert not await store.remove_user_role(user, "admin")
        assert frozenset({"read", "list"}) == await store.get_user_permissions(user)
        assert await store.delete_role("viewer")
        assert not await store.delete_role("viewer")
        assert frozenset() == await store.get_user_roles(user)

    # -- credentials -----------------------------------------------------------------------------

    async def test_credentials_round_trip(self, store: Any) -> None:
        """A credential comes back with its user by (kind, hash), with every field intact."""
        user = await store.create_user(new_user())
        record = credential(
            user, authenticated_at=T0, ip="192.0.2.1", user_agent="UA/1", last_used_at=T0
        )
        await store.create_credential(record)
        found = await store.get_credential("session", record.secret_hash)
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
        assert await store.get_credential("api", record.secret_hash) is None
        assert await store.get_credential("session", "0" * 64) is None

    async def test_list_touch_and_delete_credentials(self, store: Any) -> None:
        """Listing is per user and kind, oldest first; touch updates times; deletes are scoped."""
        alice = await store.create_user(new_user())
        bob = await store.create_user(new_user("bob@example.com"))
        for n in (2, 0, 1):
            await store.create_credential(credential(alice, n))
        await store.create_credential(credential(alice, 9, kind="api", name="ci"))
        await store.create_credential(credential(bob, 5))
        listed = await store.list_credentials(str(alice.id), "session")
        assert [c.id for c in listed] == ["cred-session-0", "cred-session-1", "cred-session-2"]
        assert [c.name for c in await store.list_credentials(str(alice.id), "api")] == ["ci"]
        later = T0 + timedelta(hours=2)
        await store.touch_credential("cred-session-0", last_used_at=later, authenticated_at=later)
        await store.touch_credential("cred-session-1", last_used_at=later)
        found = {c.id: c for c in await store.list_credentials(str(alice.id), "session")}
        assert same_instant(later, found["cred-session-0"].authenticated_at)
        assert found["cred-session-1"].authenticated_at is None
        assert same_instant(later, found["cred-session-1"].last_used_at)
        assert not await store.delete_credential("cred-session-5", str(alice.id))
        assert await store.delete_credential("cred-session-2", str(alice.id))
        assert not await store.delete_credential("cred-session-2")
        removed = await store.delete_credentials(
            str(alice.id), ["session", "api"], except_id="cred-session-0"
        )
        assert removed == 2
        assert [c.id for c in await store.list_credentials(str(alice.id), "session")] == [
            "cred-session-0"
        ]
        assert len(await store.list_credentials(str(bob.id), "session")) == 1

    async def test_delete_expired_credentials(self, store: Any) -> None:
        """Only credentials whose expiry is before now are removed."""
        user = await store.create_user(new_user())
        await store.create_credential(credential(user, 1, expires_at=T0 - timedelta(seconds=1)))
        await store.create_credential(credential(user, 2, expires_at=T0 + timedelta(seconds=1)))
        await store.create_credential(credential(user, 3, kind="api", expires_at=None))
        assert await store.delete_expired_credentials(T0) == 1
        assert [c.id for c in await store.list_credentials(str(user.id), "session")] == [
            "cred-session-2"
        ]
        assert len(await store.list_credentials(str(user.id), "api")) == 1

    # -- races -------------------------------------------------------------------------------------

    async def test_cc01_concurrent_registrations_one_account(self, store: Any) -> None:
        """Concurrent creates of one normalized email: exactly one succeeds, the rest get EmailTaken."""

        async def create(i: int) -> Any:
            return await store.create_user(new_user("race@example.com", security_stamp=f"s{i}"))

        results = await run_concurrently(create, self.workers)
        created = [r for r in results if not isinstance(r, BaseException)]
        assert len(created) == 1, results
        assert all(isinstance(r, EmailTaken) for r in results if isinstance(r, BaseException))
        assert str(created[0].id) == str((await store.get_user_by_email("race@example.com")).id)

    async def test_cc02_concurrent_stamp_swaps_one_winner(self, store: Any) -> None:
        """Concurrent compare-and-set from the same stamp: exactly one returns the user."""
        user = await store.create_user(new_user())

        async def swap(i: int) -> Any:
            return await store.compare_and_set_stamp(
                user, "stamp-0", {"security_stamp": f"winner-{i}", "password_hash": f"h{i}"}
            )

        results = await run_concurrently(swap, self.workers)
        assert not [r for r in results if isinstance(r, BaseException)], results
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        stored = await store.get_user(str(user.id))
        assert winners[0].security_stamp == stored.security_stamp
        assert "h" + stored.security_stamp.removeprefix("winner-") == stored.password_hash

    async def test_cc03_concurrent_increments_exact(self, store: Any) -> None:
        """Concurrent failed-login increments add up exactly and each sees a distinct count."""
        user = await store.create_user(new_user())
        rounds = 5

        async def bump(i: int) -> list[int]:
            return [await store.increment_failed_logins(user, T0) for _ in range(rounds)]

        results = await run_concurrently(bump, self.workers)
        assert not [r for r in results if isinstance(r, BaseException)], results
        seen = sorted(n for counts in results for n in counts)
        assert list(range(1, self.workers * rounds + 1)) == seen
        assert self.workers * rounds == (await store.get_user(str(user.id))).failed_logins

    async def test_concurrent_credential_delete_one_winner(self, store: Any) -> None:
        """Concurrent deletes of one credential: exactly one caller is told it removed it."""
        user = await store.create_user(new_user())
        await store.create_credential(credential(user, kind="remember"))

        async def delete(i: int) -> bool:
            return bool(await store.delete_credential("cred-remember-0"))

        results = await run_concurrently(delete, self.workers)
        assert [r for r in results if r is True] == [True], results
