# Generated from packages/core/src/doorward/testing/_async/store_contract.py by scripts/unasync.py. Do not edit: edit the source.
"""The store contract: every rule of ``UserStore`` as tests for your store to pass.

Subclass ``StoreContract`` in a test module and give it a ``store`` fixture that
returns a fresh, empty store::

    import pytest
    from doorward.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self):
            store = make_my_store()  # empty
            yield store
            store.close()

The race tests share that one store between several concurrent callers released at the
same instant (tasks on the async face, threads on the sync face), so the store must be
safe to share that way, each call taking its own connection from a pool: the races then
happen in the database, where a real deployment has them.

Hooks a subclass may override: ``extra_fields`` (application fields your user model
needs or keeps), ``read_extra`` (how to read one back) and ``race_workers``.

Datetimes: every datetime a store returns must be timezone-aware UTC. Whole seconds must
round-trip exactly; a store may keep less than microsecond precision, but not less than
the second.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from doorward._sync.protocols import Users, UserStore
from doorward.exceptions import EmailTaken, NotFound
from doorward.records import USER_FIELDS, Credential, CredentialKind, NewUser, Role, UserLike
from doorward.testing._sync._concurrency import run_concurrently

__all__ = [
    "CredentialsContract",
    "ProfilesContract",
    "RolesContract",
    "StoreContract",
    "UsernamesContract",
    "UsersContract",
]

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ARGON2_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA"
    "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0Lq8ZWJcNsU"
)
IPV6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
#: ids no store can have issued: wrong shape for ints, UUIDs and ObjectIds alike
GARBAGE_IDS = ("", "x", "not-an-id", "1; DROP TABLE users", "\x00", "ü" * 8, "z" * 300)
#: ids of a plausible shape that an empty store cannot know
UNKNOWN_IDS = (
    "0",
    "1",
    "-1",
    "99999999999999999999999999",
    "0" * 24,
    "f" * 32,
    "00000000-0000-4000-8000-000000000000",
)


def fields_of(user: Any) -> dict[str, Any]:
    """The documented fields of a user object, except ``id``."""
    return {name: getattr(user, name) for name in USER_FIELDS if name != "id"}


def stamp() -> str:
    """A fresh random security stamp."""
    return secrets.token_urlsafe(24)


def assert_aware_utc(value: datetime) -> None:
    """Fail unless ``value`` is a timezone-aware datetime at UTC."""
    assert value.tzinfo is not None, f"{value!r} is naive"
    assert timedelta(0) == value.utcoffset(), f"{value!r} is not UTC"


def assert_same_second(expected: datetime, actual: Any) -> None:
    """Fail unless ``actual`` is an aware UTC datetime less than a second from ``expected``."""
    assert isinstance(actual, datetime), f"{actual!r} is not a datetime"
    assert_aware_utc(actual)
    assert abs(actual - expected) < timedelta(seconds=1)


def successes(results: list[Any]) -> list[Any]:
    """The results of the concurrent calls that returned instead of raising."""
    return [result for result in results if not isinstance(result, BaseException)]


def errors(results: list[Any]) -> list[BaseException]:
    """The exceptions raised by the concurrent calls."""
    return [result for result in results if isinstance(result, BaseException)]


def role_named(store: Any, name: str) -> Role | None:
    """The stored role of exactly this name, or ``None``."""
    roles: list[Role] = store.list_roles()
    return next((role for role in roles if role.name == name), None)


class _AsyncContractBase:
    """What every capability suite shares: the ``store`` fixture and record builders."""


    #: how many concurrent callers each race test starts (at most 10 keeps it fast)
    race_workers: ClassVar[int] = 8

    @pytest.fixture
    def store(self) -> Any:
        """A fresh, empty store: override this fixture in your subclass."""
        raise NotImplementedError("define a `store` fixture returning a fresh, empty store")

    def extra_fields(self, email: str) -> dict[str, Any]:
        """Application fields to pass in ``NewUser.extra`` for the user with this email.

        Override when your user model has required fields of its own, or to prove that
        the store keeps them (``test_update_user_keeps_application_fields``). Derive
        unique values from ``email`` if your model needs them unique.
        """
        return {}

    def read_extra(self, user: Any, name: str) -> Any:
        """Read one application field back from a user object."""
        return getattr(user, name)

    def new_user(self, email: str = "ada@example.test", **overrides: Any) -> NewUser:
        """A ``NewUser`` with realistic values; ``overrides`` replace any of them."""
        values: dict[str, Any] = {
            "email": email,
            "normalized_email": email.lower(),
            "password_hash": ARGON2_HASH,
            "security_stamp": stamp(),
            "created_at": T0,
            "extra": self.extra_fields(email),
        }
        values.update(overrides)
        return NewUser(**values)

    def credential(
        self, user: Any, kind: CredentialKind = "session", **overrides: Any
    ) -> Credential:
        """A new credential of ``user`` with random id and hash; ``overrides`` replace values."""
        values: dict[str, Any] = {
            "id": secrets.token_urlsafe(16),
            "user_id": str(user.id),
            "kind": kind,
            "secret_hash": secrets.token_hex(32),
            "stamp": user.security_stamp,
            "created_at": T0,
        }
        values.update(overrides)
        return Credential(**values)

    def reload(self, store: Users, user: Any) -> Any:
        """The stored state of ``user``, read again by id (failing if it is gone)."""
        fetched = store.get_user(str(user.id))
        assert fetched is not None, "the user is no longer stored"
        return fetched


class UsersContract(_AsyncContractBase):
    """The users capability (``Users``): subclass it and provide ``store``."""

    # -- create_user and lookups -----------------------------------------------------------

    def test_create_user_returns_the_users_fields(self, store: Users) -> None:
        """create_user returns a user object with an id and every field of the NewUser."""
        new = self.new_user()
        user = store.create_user(new)
        assert isinstance(user, UserLike)
        assert str(user.id)
        expected = new.as_fields()
        assert {k: expected[k] for k in fields_of(user)} == fields_of(user)

    def test_every_user_field_round_trips(self, store: Users) -> None:
        """Each documented field is stored and read back exactly, set or empty."""
        full = self.new_user(
            "Zoë.Full@Example.test",
            normalized_email="zoë.full@example.test",
            active=False,
            confirmed_at=T0 + timedelta(hours=1),
        )
        bare = self.new_user("bare@example.test", password_hash=None)
        for new in (full, bare):
            created = store.create_user(new)
            fetched = self.reload(store, created)
            assert str(created.id) == str(fetched.id)
            assert fields_of(created) == fields_of(fetched)
            expected = new.as_fields()
            assert {k: expected[k] for k in fields_of(fetched)} == fields_of(fetched)

    def test_users_get_distinct_ids(self, store: Users) -> None:
        """Two users get two ids, and each id finds its own user."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        assert str(ada.id) != str(bob.id)
        for user in (ada, bob):
            found = self.reload(store, user)
            assert user.normalized_email == found.normalized_email

    def test_get_user_of_unknown_or_malformed_id_is_none(self, store: Users) -> None:
        """get_user returns None, never raises, for ids it never issued, of any shape."""
        for user_id in UNKNOWN_IDS + GARBAGE_IDS:
            assert store.get_user(user_id) is None, repr(user_id)
        store.create_user(self.new_user())
        for user_id in GARBAGE_IDS:
            assert store.get_user(user_id) is None, repr(user_id)

    def test_get_user_by_email_finds_the_user(self, store: Users) -> None:
        """get_user_by_email finds a user by normalised email and returns None for others."""
        user = store.create_user(self.new_user("Ada@Example.test"))
        found = store.get_user_by_email("ada@example.test")
        assert found is not None
        assert str(user.id) == str(found.id)
        assert store.get_user_by_email("bob@example.test") is None

    def test_le06_get_user_by_email_matches_exactly(self, store: Users) -> None:
        """The lookup compares exactly: no case folding, no Unicode collation, no padding."""
        store.create_user(self.new_user("strasse@example.test"))
        store.create_user(self.new_user("ada@example.test"))
        near_misses = (
            "ADA@example.test",
            "ada@example.test ",
            " ada@example.test",
            "ada@example.tes",
            "ada@example.test\x00",
            "straße@example.test",
            "STRASSE@example.test",
            "\uff41\uff44\uff41@example.test",
        )
        for email in near_misses:
            assert store.get_user_by_email(email) is None, repr(email)

    def test_le06_unicode_and_long_emails_round_trip(self, store: Users) -> None:
        """Non-ASCII and 254-character addresses are stored and found unchanged."""
        for email in ("jürgen.ßtraße@bücher.example", "é" * 64 + "@" + "a" * 184 + ".test"):
            new = self.new_user(email, normalized_email=email)
            store.create_user(new)
            found = store.get_user_by_email(email)
            assert found is not None
            assert email == found.email
            assert email == found.normalized_email

    def test_cc01_duplicate_email_raises_and_writes_nothing(self, store: Users) -> None:
        """A second user with the same normalised email raises EmailTaken; the first is intact."""
        first = store.create_user(self.new_user("ada@example.test"))
        clash = self.new_user("ADA@example.test", normalized_email="ada@example.test")
        with pytest.raises(EmailTaken):
            store.create_user(clash)
        found = store.get_user_by_email("ada@example.test")
        assert found is not None
        assert str(first.id) == str(found.id)
        assert fields_of(first) == fields_of(found)

    def test_cc01_concurrent_creates_make_one_user(self, store: Users) -> None:
        """Of concurrent registrations of one email, one succeeds and the rest raise EmailTaken."""
        n = self.race_workers

        def register(i: int) -> Any:
            email = f"Ada+{i}@Example.test"
            return store.create_user(
                self.new_user(email, normalized_email="ada@example.test")
            )

        results = run_concurrently(register, n)
        winners = successes(results)
        assert len(winners) == 1, results
        assert all(isinstance(exc, EmailTaken) for exc in errors(results)), results
        found = store.get_user_by_email("ada@example.test")
        assert found is not None
        assert str(winners[0].id) == str(found.id)
        assert winners[0].email == found.email

    def test_concurrent_creates_of_different_emails_all_succeed(
        self, store: Users
    ) -> None:
        """Concurrent registrations of different emails all succeed: only a true clash refuses."""
        n = self.race_workers

        def register(i: int) -> Any:
            return store.create_user(self.new_user(f"user{i}@example.test"))

        results = run_concurrently(register, n)
        assert not errors(results), results
        assert n == len({str(user.id) for user in successes(results)})
        for i in range(n):
            assert store.get_user_by_email(f"user{i}@example.test") is not None

    # -- update_user ----------------------------------------------------------------------

    def test_update_user_writes_only_the_named_fields(self, store: Users) -> None:
        """update_user returns and stores the new values; every other field is unchanged."""
        user = store.create_user(self.new_user(confirmed_at=T0))
        before = fields_of(user)
        changes = {"active": False, "pending_email": "new@example.test"}
        updated = store.update_user(user, changes)
        fetched = self.reload(store, user)
        assert before | changes == fields_of(updated)
        assert before | changes == fields_of(fetched)
        assert str(user.id) == str(updated.id)

    def test_update_user_from_a_stale_copy_keeps_other_changes(
        self, store: Users
    ) -> None:
        """Updates through two copies of one user both stick: no stale object is written whole."""
        created = store.create_user(self.new_user())
        copy_a = self.reload(store, created)
        copy_b = self.reload(store, created)
        store.update_user(copy_a, {"active": False})
        store.update_user(copy_b, {"pending_email": "new@example.test"})
        fetched = self.reload(store, created)
        assert fetched.active is False
        assert fetched.pending_email == "new@example.test"

    def test_update_user_sets_and_clears_nullable_fields(self, store: Users) -> None:
        """Optional fields can be set to a value and back to None."""
        user = store.create_user(self.new_user())
        values = {
            "password_hash": None,
            "confirmed_at": T0 + timedelta(days=1),
            "pending_email": "next@example.test",
            "last_login_ip": "203.0.113.7",
        }
        updated = store.update_user(user, values)
        assert values == {name: getattr(updated, name) for name in values}
        cleared = dict.fromkeys(("confirmed_at", "pending_email", "last_login_ip"))
        cleared["password_hash"] = ARGON2_HASH
        updated = store.update_user(updated, cleared)
        fetched = self.reload(store, user)
        assert cleared == {name: getattr(fetched, name) for name in cleared}

    def test_update_user_keeps_application_fields(self, store: Users) -> None:
        """Application fields given at creation survive every kind of update unchanged."""
        extra = self.extra_fields("ada@example.test")
        if not extra:
            pytest.skip("extra_fields() gives no application fields for this store")
        user = store.create_user(self.new_user("ada@example.test"))
        store.update_user(user, {"active": False, "password_hash": None})
        store.compare_and_set_stamp(user, user.security_stamp, {"security_stamp": stamp()})
        store.increment_failed_logins(user, T0)
        store.record_login(user, T0, "192.0.2.1")
        for fetched in (
            self.reload(store, user),
            store.get_user_by_email("ada@example.test"),
        ):
            assert extra == {name: self.read_extra(fetched, name) for name in extra}

    def test_cc01_update_user_email_clash_raises_and_writes_nothing(
        self, store: Users
    ) -> None:
        """Moving a user onto a taken email raises EmailTaken and writes none of the changes."""
        store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        changes = {"normalized_email": "ada@example.test", "email": "ada@example.test"}
        with pytest.raises(EmailTaken):
            store.update_user(bob, {**changes, "active": False})
        fetched = self.reload(store, bob)
        assert fields_of(bob) == fields_of(fetched)

    def test_update_user_to_its_own_email_is_no_clash(self, store: Users) -> None:
        """Writing a user's own normalised email back is not a collision."""
        ada = store.create_user(self.new_user("ada@example.test"))
        changes = {"email": "ADA@example.test", "normalized_email": "ada@example.test"}
        updated = store.update_user(ada, changes)
        assert updated.email == "ADA@example.test"
        found = store.get_user_by_email("ada@example.test")
        assert found is not None
        assert str(ada.id) == str(found.id)

    def test_update_user_moves_the_email(self, store: Users) -> None:
        """After an email change the new address finds the user, the old one is free again."""
        ada = store.create_user(self.new_user("ada@example.test"))
        changes = {"email": "ada@new.example", "normalized_email": "ada@new.example"}
        store.update_user(ada, changes)
        found = store.get_user_by_email("ada@new.example")
        assert found is not None
        assert str(ada.id) == str(found.id)
        assert store.get_user_by_email("ada@example.test") is None
        other = store.create_user(self.new_user("ada@example.test"))
        assert str(ada.id) != str(other.id)

    # -- compare_and_set_stamp --------------------------------------------------------------

    def test_cc02_compare_and_set_applies_changes_when_stamp_matches(
        self, store: Users
    ) -> None:
        """With the current stamp the changes are written and the updated user returned."""
        user = store.create_user(self.new_user())
        changes = {"security_stamp": stamp(), "password_hash": None, "confirmed_at": T0}
        updated = store.compare_and_set_stamp(user, user.security_stamp, changes)
        assert updated is not None
        assert fields_of(user) | changes == fields_of(updated)
        assert fields_of(updated) == fields_of(self.reload(store, user))

    def test_cc02_compare_and_set_refuses_a_moved_stamp(self, store: Users) -> None:
        """With a stamp that has moved on, None is returned and nothing is written."""
        user = store.create_user(self.new_user())
        old = user.security_stamp
        moved = store.compare_and_set_stamp(user, old, {"security_stamp": stamp()})
        assert moved is not None
        again = store.compare_and_set_stamp(
            user, old, {"security_stamp": stamp(), "active": False}
        )
        assert again is None
        assert fields_of(moved) == fields_of(self.reload(store, user))
        never = store.compare_and_set_stamp(user, "never-issued", {"security_stamp": stamp()})
        assert never is None

    def test_cc02_compare_and_set_uses_the_expected_stamp_not_the_copy(
        self, store: Users
    ) -> None:
        """The stored stamp is compared with ``expected_stamp``, whatever the caller's copy says."""
        stale = store.create_user(self.new_user())
        current = stamp()
        store.update_user(stale, {"security_stamp": current})
        refused = store.compare_and_set_stamp(
            stale, stale.security_stamp, {"security_stamp": stamp()}
        )
        assert refused is None
        new = stamp()
        updated = store.compare_and_set_stamp(stale, current, {"security_stamp": new})
        assert updated is not None
        assert new == updated.security_stamp

    def test_cc01_compare_and_set_email_clash_raises_and_writes_nothing(
        self, store: Users
    ) -> None:
        """A compare-and-set onto a taken email raises EmailTaken and leaves stamp and email."""
        store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        changes = {
            "security_stamp": stamp(),
            "email": "ada@example.test",
            "normalized_email": "ada@example.test",
        }
        with pytest.raises(EmailTaken):
            store.compare_and_set_stamp(bob, bob.security_stamp, changes)
        assert fields_of(bob) == fields_of(self.reload(store, bob))

    def test_cc02_concurrent_compare_and_set_has_one_winner(self, store: Users) -> None:
        """Of concurrent compare-and-sets with one expected stamp exactly one returns a user."""
        user = store.create_user(self.new_user())
        new_stamps = [stamp() for _ in range(self.race_workers)]

        def use_token(i: int) -> Any:
            changes = {"security_stamp": new_stamps[i], "password_hash": f"hash-{i}"}
            return store.compare_and_set_stamp(user, user.security_stamp, changes)

        results = run_concurrently(use_token, self.race_workers)
        assert not errors(results), results
        winners = [result for result in results if result is not None]
        assert len(winners) == 1, results
        winner = results.index(winners[0])
        fetched = self.reload(store, user)
        assert new_stamps[winner] == fetched.security_stamp
        assert f"hash-{winner}" == fetched.password_hash

    # -- delete_user ------------------------------------------------------------------------

    # -- increment_failed_logins and record_login -------------------------------------------

    def test_cc03_increment_failed_logins_counts_from_the_stored_value(
        self, store: Users
    ) -> None:
        """Each call adds one to the stored count (not the caller's copy) and sets the time."""
        stale = store.create_user(self.new_user())
        counts = [
            store.increment_failed_logins(stale, T0 + timedelta(seconds=i)) for i in range(3)
        ]
        assert counts == [1, 2, 3]
        fetched = self.reload(store, stale)
        assert fetched.failed_logins == 3
        assert T0 + timedelta(seconds=2) == fetched.last_failed_login_at
        assert fields_of(stale) | {
            "failed_logins": 3,
            "last_failed_login_at": T0 + timedelta(seconds=2),
        } == fields_of(fetched)

    def test_cc03_concurrent_increments_add_up_exactly(self, store: Users) -> None:
        """Concurrent increments lose nothing: the count is exact, each value returned once."""
        user = store.create_user(self.new_user())
        rounds = 5

        def fail_logins(i: int) -> list[int]:
            return [store.increment_failed_logins(user, T0) for _ in range(rounds)]

        results = run_concurrently(fail_logins, self.race_workers)
        assert not errors(results), results
        total = self.race_workers * rounds
        returned = sorted(count for counts in successes(results) for count in counts)
        assert list(range(1, total + 1)) == returned
        assert total == (self.reload(store, user)).failed_logins

    def test_rl07_keep_time_counts_without_moving_the_time(self, store: Users) -> None:
        """With keep_time an attempt is counted but the stored failure time stays (RL-07)."""
        user = store.create_user(self.new_user())
        assert store.increment_failed_logins(user, T0, keep_time=True) == 1
        assert (self.reload(store, user)).last_failed_login_at == T0  # set when None
        later = T0 + timedelta(minutes=29)
        counts = [store.increment_failed_logins(user, later, keep_time=True) for _ in "ab"]
        assert counts == [2, 3]
        fetched = self.reload(store, user)
        assert (fetched.failed_logins, fetched.last_failed_login_at) == (3, T0)
        assert fields_of(user) | {"failed_logins": 3, "last_failed_login_at": T0} == fields_of(
            fetched
        )

    def test_rl07_restart_cutoff_restarts_only_an_expired_count(
        self, store: Users
    ) -> None:
        """The count restarts at 1 when the stored time is at or before the cutoff, else adds."""
        user = store.create_user(self.new_user())
        for _ in range(3):
            store.increment_failed_logins(user, T0)
        before = T0 - timedelta(seconds=1)
        assert store.increment_failed_logins(user, T0, restart_cutoff=before) == 4
        restarted = T0 + timedelta(minutes=30)  # the stored time equals the cutoff: restart
        assert store.increment_failed_logins(user, restarted, restart_cutoff=T0) == 1
        fetched = self.reload(store, user)
        assert (fetched.failed_logins, fetched.last_failed_login_at) == (1, restarted)
        later = restarted + timedelta(minutes=30)
        fresh = store.create_user(self.new_user("fresh@example.com"))
        assert store.increment_failed_logins(fresh, T0, restart_cutoff=later) == 1

    def test_rl07_concurrent_restarts_count_exactly(self, store: Users) -> None:
        """After an expired lock, concurrent failures restart the count once and add up exactly."""
        user = store.create_user(self.new_user())
        for _ in range(10):
            store.increment_failed_logins(user, T0)
        now = T0 + timedelta(minutes=31)
        cutoff = T0 + timedelta(minutes=1)

        def fail_after_lock(i: int) -> int:
            return store.increment_failed_logins(user, now, restart_cutoff=cutoff)

        results = run_concurrently(fail_after_lock, self.race_workers)
        assert not errors(results), results
        assert list(range(1, self.race_workers + 1)) == sorted(successes(results))
        fetched = self.reload(store, user)
        assert (self.race_workers, now) == (fetched.failed_logins, fetched.last_failed_login_at)

    def test_record_login_moves_current_to_last(self, store: Users) -> None:
        """record_login shifts current_* to last_*, sets current_*, and counts the login."""
        user = store.create_user(self.new_user())
        first = store.record_login(user, T0, "192.0.2.1")
        assert (
            first.last_login_at,
            first.last_login_ip,
            first.current_login_at,
            first.current_login_ip,
            first.login_count,
        ) == (None, None, T0, "192.0.2.1", 1)
        later = T0 + timedelta(hours=1)
        second = store.record_login(user, later, IPV6)
        assert (T0, "192.0.2.1", later, IPV6, 2) == (
            second.last_login_at,
            second.last_login_ip,
            second.current_login_at,
            second.current_login_ip,
            second.login_count,
        )
        third = store.record_login(user, later + timedelta(hours=1), None)
        assert (later, IPV6, None, 3) == (
            third.last_login_at,
            third.last_login_ip,
            third.current_login_ip,
            third.login_count,
        )
        assert fields_of(third) == fields_of(self.reload(store, user))

    def test_record_login_clears_failed_logins(self, store: Users) -> None:
        """A successful login sets failed_logins to 0 and last_failed_login_at to None."""
        user = store.create_user(self.new_user())
        for _ in range(3):
            store.increment_failed_logins(user, T0)
        updated = store.record_login(user, T0, None)
        assert updated.failed_logins == 0
        assert updated.last_failed_login_at is None
        assert store.increment_failed_logins(user, T0) == 1

    def test_record_login_uses_the_stored_values_not_the_copy(
        self, store: Users
    ) -> None:
        """record_login computes from what is stored, so a stale copy loses no login."""
        stale = store.create_user(self.new_user())
        store.record_login(stale, T0, "192.0.2.1")
        store.increment_failed_logins(stale, T0)
        later = T0 + timedelta(minutes=5)
        updated = store.record_login(stale, later, "192.0.2.2")
        assert (
            updated.last_login_at,
            updated.last_login_ip,
            updated.login_count,
            updated.failed_logins,
        ) == (T0, "192.0.2.1", 2, 0)

    def test_cc03_concurrent_logins_are_all_counted(self, store: Users) -> None:
        """Concurrent record_login calls each add exactly one to login_count."""
        user = store.create_user(self.new_user())

        def log_in(i: int) -> Any:
            return store.record_login(user, T0 + timedelta(seconds=i), f"192.0.2.{i}")

        results = run_concurrently(log_in, self.race_workers)
        assert not errors(results), results
        fetched = self.reload(store, user)
        assert self.race_workers == fetched.login_count
        assert sorted(r.login_count for r in successes(results)) == list(
            range(1, self.race_workers + 1)
        )


class RolesContract(_AsyncContractBase):
    """The roles capability (``Roles``, with users): subclass it and provide ``store``."""

    # -- roles ----------------------------------------------------------------------------

    def test_save_role_creates_and_replaces(self, store: UserStore) -> None:
        """save_role creates a role, then replaces its description and permissions."""
        role = Role(name="editor", description="Edits", permissions=frozenset({"p:edit", "p:read"}))
        assert role == store.save_role(role)
        assert role == role_named(store, "editor")
        replaced = Role(name="editor", description="Reads", permissions=frozenset({"posts:read"}))
        assert replaced == store.save_role(replaced)
        assert replaced == role_named(store, "editor")
        assert [replaced] == store.list_roles()

    def test_role_names_match_exactly(self, store: UserStore) -> None:
        """A role is found only by its exact name: one differing in case is unknown."""
        store.save_role(Role(name="admin"))
        user = store.create_user(self.new_user())
        assert Role(name="admin") == role_named(store, "admin")
        for name in ("Admin", "ADMIN", "admin ", "adm", ""):
            assert role_named(store, name) is None, repr(name)
            with pytest.raises(NotFound):
                store.add_user_role(user, name)

    def test_list_roles_is_sorted_by_name(self, store: UserStore) -> None:
        """list_roles is empty at first, then returns every role sorted by name."""
        assert store.list_roles() == []
        for name in ("support", "admin", "editor"):
            store.save_role(Role(name=name, permissions=frozenset({f"{name}:all"})))
        roles = store.list_roles()
        assert [role.name for role in roles] == ["admin", "editor", "support"]
        assert frozenset({"editor:all"}) == roles[1].permissions

    def test_delete_role_removes_it_and_its_links(self, store: UserStore) -> None:
        """delete_role returns True once and unlinks all users; a re-created role starts bare."""
        store.save_role(Role(name="admin", permissions=frozenset({"users:edit"})))
        store.save_role(Role(name="editor", permissions=frozenset({"posts:edit"})))
        user = store.create_user(self.new_user())
        store.add_user_role(user, "admin")
        store.add_user_role(user, "editor")
        assert store.delete_role("admin") is True
        assert store.delete_role("admin") is False
        assert role_named(store, "admin") is None
        assert frozenset({"editor"}) == store.get_user_roles(user)
        assert frozenset({"posts:edit"}) == store.get_user_permissions(user)
        store.save_role(Role(name="admin", permissions=frozenset({"users:edit"})))
        assert frozenset({"editor"}) == store.get_user_roles(user)

    def test_add_user_role_reports_whether_it_changed(self, store: UserStore) -> None:
        """add_user_role returns True when it links, False when the user already had the role."""
        store.save_role(Role(name="admin"))
        user = store.create_user(self.new_user())
        assert store.add_user_role(user, "admin") is True
        assert store.add_user_role(user, "admin") is False
        assert frozenset({"admin"}) == store.get_user_roles(user)

    def test_add_user_role_of_a_missing_role_raises_not_found(
        self, store: UserStore
    ) -> None:
        """Linking a role that does not exist raises NotFound and links nothing."""
        user = store.create_user(self.new_user())
        store.save_role(Role(name="admin"))
        with pytest.raises(NotFound):
            store.add_user_role(user, "ghost")
        with pytest.raises(NotFound):
            store.add_user_role(user, "Admin")
        assert frozenset() == store.get_user_roles(user)

    def test_remove_user_role_reports_whether_it_changed(self, store: UserStore) -> None:
        """remove_user_role returns True when it unlinks, False when there was nothing to unlink."""
        store.save_role(Role(name="admin"))
        user = store.create_user(self.new_user())
        assert store.remove_user_role(user, "admin") is False
        assert store.remove_user_role(user, "ghost") is False
        store.add_user_role(user, "admin")
        assert store.remove_user_role(user, "admin") is True
        assert store.remove_user_role(user, "admin") is False
        assert frozenset() == store.get_user_roles(user)
        assert role_named(store, "admin") is not None

    def test_user_permissions_are_the_union_of_their_roles(
        self, store: UserStore
    ) -> None:
        """get_user_permissions unions the user's roles' permissions and follows role changes."""
        store.save_role(Role(name="reader", permissions=frozenset({"posts:read"})))
        editor = Role(name="editor", permissions=frozenset({"posts:read", "posts:edit"}))
        store.save_role(editor)
        store.save_role(Role(name="empty"))
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        assert frozenset() == store.get_user_permissions(ada)
        for name in ("reader", "editor", "empty"):
            store.add_user_role(ada, name)
        store.add_user_role(bob, "reader")
        assert frozenset({"posts:read", "posts:edit"}) == store.get_user_permissions(ada)
        assert frozenset({"reader", "editor", "empty"}) == store.get_user_roles(ada)
        assert frozenset({"reader"}) == store.get_user_roles(bob)
        reader = Role(name="reader", permissions=frozenset({"posts:read", "comments:read"}))
        store.save_role(reader)
        assert frozenset({"posts:read", "comments:read"}) == store.get_user_permissions(bob)


class CredentialsContract(_AsyncContractBase):
    """The credentials capability (``Credentials``, with users)."""

    # -- credentials ----------------------------------------------------------------------

    def test_credential_round_trips_every_field(self, store: UserStore) -> None:
        """get_credential returns the stored record, equal field by field, with its user."""
        user = store.create_user(self.new_user())
        bare = self.credential(user, "remember")
        full = self.credential(
            user,
            "api",
            expires_at=T0 + timedelta(days=30),
            last_used_at=T0 + timedelta(hours=1),
            authenticated_at=T0 + timedelta(minutes=1),
            name="CI deploy key ✓",
            ip=IPV6,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0",
        )
        for credential in (bare, full):
            store.create_credential(credential)
            found = store.get_credential(credential.kind, credential.secret_hash)
            assert found is not None
            stored, owner = found
            assert credential == stored
            assert str(user.id) == str(owner.id)
            assert fields_of(user) == fields_of(owner)

    def test_get_credential_returns_the_current_user(self, store: UserStore) -> None:
        """The user returned with a credential carries the latest stored values."""
        user = store.create_user(self.new_user())
        credential = self.credential(user)
        store.create_credential(credential)
        new_stamp = stamp()
        store.update_user(user, {"security_stamp": new_stamp, "active": False})
        found = store.get_credential("session", credential.secret_hash)
        assert found is not None
        assert (new_stamp, False) == (found[1].security_stamp, found[1].active)

    def test_get_credential_needs_kind_and_hash(self, store: UserStore) -> None:
        """Another kind or an unknown hash finds nothing; one hash may serve two kinds."""
        user = store.create_user(self.new_user())
        session = self.credential(user, "session")
        store.create_credential(session)
        assert store.get_credential("remember", session.secret_hash) is None
        assert store.get_credential("api", session.secret_hash) is None
        assert store.get_credential("session", "0" * 64) is None
        assert store.get_credential("session", session.secret_hash.upper()) is None
        twin = self.credential(user, "api", secret_hash=session.secret_hash)
        store.create_credential(twin)
        found = store.get_credential("api", session.secret_hash)
        assert found is not None
        assert twin == found[0]
        found = store.get_credential("session", session.secret_hash)
        assert found is not None
        assert session == found[0]

    def test_duplicate_credential_is_refused(self, store: UserStore) -> None:
        """A second credential with a used id or (kind, secret_hash) raises; the first is intact."""
        user = store.create_user(self.new_user())
        first = self.credential(user)
        store.create_credential(first)
        same_hash = self.credential(user, secret_hash=first.secret_hash)
        same_id = self.credential(user, id=first.id)
        for duplicate in (same_hash, same_id):
            with pytest.raises(Exception):  # noqa: B017 - the contract names no error type
                store.create_credential(duplicate)
        found = store.get_credential("session", first.secret_hash)
        assert found is not None
        assert first == found[0]
        assert [first] == store.list_credentials(str(user.id), "session")

    def test_list_credentials_of_one_user_and_kind_oldest_first(
        self, store: UserStore
    ) -> None:
        """list_credentials returns one user's credentials of one kind, oldest first."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        sessions = [
            self.credential(ada, created_at=T0 + timedelta(minutes=minutes))
            for minutes in (30, 10, 20)
        ]
        for credential in sessions:
            store.create_credential(credential)
        store.create_credential(self.credential(ada, "api"))
        store.create_credential(self.credential(bob))
        expected = sorted(sessions, key=lambda credential: credential.created_at)
        assert expected == store.list_credentials(str(ada.id), "session")
        assert store.list_credentials(str(ada.id), "remember") == []
        assert len(store.list_credentials(str(bob.id), "session")) == 1
        for user_id in GARBAGE_IDS:
            assert store.list_credentials(user_id, "session") == [], repr(user_id)

    def test_touch_credential_sets_the_times_of_use(self, store: UserStore) -> None:
        """touch_credential sets last_used_at, and authenticated_at only when given."""
        user = store.create_user(self.new_user())
        credential = self.credential(user, authenticated_at=T0)
        other = self.credential(user)
        store.create_credential(credential)
        store.create_credential(other)
        used = T0 + timedelta(minutes=5)
        store.touch_credential(credential.id, last_used_at=used)
        found = store.get_credential("session", credential.secret_hash)
        assert found is not None
        assert (used, T0) == (found[0].last_used_at, found[0].authenticated_at)
        again = T0 + timedelta(minutes=9)
        store.touch_credential(credential.id, last_used_at=again, authenticated_at=again)
        found = store.get_credential("session", credential.secret_hash)
        assert found is not None
        assert (again, again) == (found[0].last_used_at, found[0].authenticated_at)
        unchanged = store.get_credential("session", other.secret_hash)
        assert unchanged is not None
        assert other == unchanged[0]

    def test_delete_credential_returns_true_once(self, store: UserStore) -> None:
        """delete_credential removes the record and returns True, then False."""
        user = store.create_user(self.new_user())
        credential = self.credential(user)
        store.create_credential(credential)
        assert store.delete_credential(credential.id) is True
        assert store.get_credential("session", credential.secret_hash) is None
        assert store.delete_credential(credential.id) is False
        for credential_id in GARBAGE_IDS:
            assert store.delete_credential(credential_id) is False, repr(credential_id)

    def test_delete_credential_checks_the_owner(self, store: UserStore) -> None:
        """With a user_id, only that user's credential is deleted; another's is left alone."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        credential = self.credential(ada, "api")
        store.create_credential(credential)
        assert store.delete_credential(credential.id, str(bob.id)) is False
        assert store.delete_credential(credential.id, "not-an-id") is False
        assert store.get_credential("api", credential.secret_hash) is not None
        assert store.delete_credential(credential.id, str(ada.id)) is True
        assert store.get_credential("api", credential.secret_hash) is None

    def test_cc02_concurrent_deletes_of_one_credential_have_one_winner(
        self, store: UserStore
    ) -> None:
        """Of concurrent delete_credential calls for one id exactly one returns True."""
        user = store.create_user(self.new_user())
        credential = self.credential(user, "remember")
        store.create_credential(credential)

        def rotate(i: int) -> bool:
            return store.delete_credential(credential.id)

        results = run_concurrently(rotate, self.race_workers)
        assert not errors(results), results
        assert [result for result in results if result is True] == [True]
        assert store.get_credential("remember", credential.secret_hash) is None

    def test_delete_credentials_by_kind_except_one(self, store: UserStore) -> None:
        """delete_credentials removes one user's credentials of the given kinds except one."""
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        sessions = [self.credential(ada) for _ in range(3)]
        remember = self.credential(ada, "remember")
        api = self.credential(ada, "api")
        bobs = self.credential(bob)
        for credential in (*sessions, remember, api, bobs):
            store.create_credential(credential)
        wanted: tuple[CredentialKind, ...] = ("session", "remember")
        kinds = (kind for kind in wanted)
        deleted = store.delete_credentials(str(ada.id), kinds, except_id=sessions[0].id)
        assert deleted == 3
        assert [sessions[0]] == store.list_credentials(str(ada.id), "session")
        assert store.list_credentials(str(ada.id), "remember") == []
        assert [api] == store.list_credentials(str(ada.id), "api")
        assert [bobs] == store.list_credentials(str(bob.id), "session")
        assert store.delete_credentials(str(ada.id), ["session"]) == 1
        assert store.delete_credentials(str(ada.id), ["session", "remember"]) == 0
        assert store.delete_credentials(str(ada.id), []) == 0
        assert store.delete_credentials("not-an-id", ["api"]) == 0
        assert [api] == store.list_credentials(str(ada.id), "api")

    def test_delete_expired_credentials(self, store: UserStore) -> None:
        """Credentials that expired before now go; those expiring now, later or never stay."""
        user = store.create_user(self.new_user())
        now = T0 + timedelta(days=1)
        ages: list[tuple[CredentialKind, int]] = [("session", 1), ("remember", 60), ("api", 86400)]
        expired = [
            self.credential(user, kind, expires_at=now - timedelta(seconds=seconds))
            for kind, seconds in ages
        ]
        kept = [
            self.credential(user, expires_at=now),
            self.credential(user, expires_at=now + timedelta(seconds=1)),
            self.credential(user, "api"),
        ]
        for credential in (*expired, *kept):
            store.create_credential(credential)
        assert store.delete_expired_credentials(now) == 3
        for credential in expired:
            assert store.get_credential(credential.kind, credential.secret_hash) is None
        for credential in kept:
            assert store.get_credential(credential.kind, credential.secret_hash) is not None
        assert store.delete_expired_credentials(now) == 0

    def test_rebind_credentials_moves_only_the_old_stamp(self, store: UserStore) -> None:
        """rebind_credentials moves this user's credentials of the old stamp, except one."""
        user = store.create_user(self.new_user("ada@example.test"))
        other = store.create_user(self.new_user("bob@example.test"))
        old = user.security_stamp
        moved = self.credential(user, "session")
        kept = self.credential(user, "session")
        dead = self.credential(user, "api", stamp="an-older-stamp")
        foreign = self.credential(other, "session", stamp=old)
        for credential in (moved, kept, dead, foreign):
            store.create_credential(credential)
        assert (
            store.rebind_credentials(str(user.id), old, "new-stamp", except_id=kept.id) == 1
        )
        stamps = {
            c.id: c.stamp
            for kind in ("session", "api")
            for owner in (user, other)
            for c in store.list_credentials(str(owner.id), kind)
        }
        assert {
            moved.id: "new-stamp",
            kept.id: old,
            dead.id: "an-older-stamp",
            foreign.id: old,
        } == stamps


class ProfilesContract(_AsyncContractBase):
    """The profiles capability (``Profiles``, with users).

    Set ``profile_field`` to an application field of your user model that takes a short
    string; ``open_profile_fields`` when any name is accepted (as ``MemoryUser.extra``).
    """

    profile_field: ClassVar[str] = "display_name"
    open_profile_fields: ClassVar[bool] = False

    def test_update_profile_writes_an_application_field(self, store: Any) -> None:
        """update_profile sets the field, returns the user with it, and leaves the rest."""
        user = store.create_user(self.new_user())
        updated = store.update_profile(user, {self.profile_field: "Ada L."})
        assert self.read_extra(updated, self.profile_field) == "Ada L."
        reloaded = self.reload(store, user)
        assert self.read_extra(reloaded, self.profile_field) == "Ada L."
        assert fields_of(user) == fields_of(reloaded)

    def test_update_profile_refuses_doorward_fields(self, store: Any) -> None:
        """doorward's own fields never change through update_profile: ValueError, no write."""
        user = store.create_user(self.new_user())
        user = store.update_profile(user, {self.profile_field: "Ada"})
        for name in ("email", "active", "security_stamp", "password_hash", "failed_logins"):
            with pytest.raises(ValueError):
                store.update_profile(user, {name: "x", self.profile_field: "Eve"})
        reloaded = self.reload(store, user)
        assert fields_of(user) == fields_of(reloaded)
        assert self.read_extra(reloaded, self.profile_field) == "Ada"

    def test_update_profile_refuses_unknown_fields(self, store: Any) -> None:
        """A name the user model does not have is a ValueError, writing nothing."""
        if self.open_profile_fields:
            pytest.skip("this user model accepts any application field")
        user = store.create_user(self.new_user())
        with pytest.raises(ValueError):
            store.update_profile(user, {"no_such_field_here": "x"})


class UsernamesContract(_AsyncContractBase):
    """The usernames capability (``Usernames``, with users).

    Set ``username_field`` to your model's username attribute (a short string column,
    unique); ``extra_fields`` must give it a distinct value per email (the default does).
    """

    username_field: ClassVar[str] = "username"

    def extra_fields(self, email: str) -> dict[str, Any]:
        return {self.username_field: email.split("@", 1)[0].lower()}

    def test_get_user_by_username_finds_exactly(self, store: Any) -> None:
        """The user of exactly this username, never a prefix, case variant or other user."""
        ada = store.create_user(self.new_user("ada@example.test"))
        store.create_user(self.new_user("adam@example.test"))
        found = store.get_user_by_username(self.username_field, "ada")
        assert found is not None
        assert str(ada.id) == str(found.id)
        for other in ("Ada", "ad", "ada ", "", "x" * 300, "ada\x00"):
            assert store.get_user_by_username(self.username_field, other) is None, other

    def test_get_user_by_username_refuses_doorward_fields(self, store: Any) -> None:
        """Looking users up by one of doorward's own fields is a caller bug: ValueError."""
        store.create_user(self.new_user("ada@example.test"))
        for field in ("email", "security_stamp", "password_hash"):
            with pytest.raises(ValueError):
                store.get_user_by_username(field, "ada@example.test")


class StoreContract(UsersContract, RolesContract, CredentialsContract):
    """Every capability of ``UserStore``, and the rules that span them."""

    # -- delete_user across capabilities -----------------------------------------------------

    def test_delete_user_removes_user_roles_and_credentials(
        self, store: UserStore
    ) -> None:
        """After delete_user the user, their role links and credentials are gone."""
        store.save_role(Role(name="admin", permissions=frozenset({"users:edit"})))
        user = store.create_user(self.new_user("ada@example.test"))
        store.add_user_role(user, "admin")
        credentials = [self.credential(user, kind) for kind in ("session", "remember", "api")]
        for credential in credentials:
            store.create_credential(credential)
        store.delete_user(user)
        assert store.get_user(str(user.id)) is None
        assert store.get_user_by_email("ada@example.test") is None
        for credential in credentials:
            assert store.get_credential(credential.kind, credential.secret_hash) is None
            assert store.list_credentials(str(user.id), credential.kind) == []
            assert store.delete_credential(credential.id) is False
        assert frozenset() == store.get_user_roles(user)
        assert role_named(store, "admin") is not None

    def test_delete_user_leaves_other_users_alone(self, store: UserStore) -> None:
        """Deleting one user keeps every other user's fields, roles and credentials."""
        store.save_role(Role(name="admin"))
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        store.add_user_role(ada, "admin")
        store.add_user_role(bob, "admin")
        credential = self.credential(bob)
        store.create_credential(credential)
        store.delete_user(ada)
        assert fields_of(bob) == fields_of(self.reload(store, bob))
        assert frozenset({"admin"}) == store.get_user_roles(bob)
        found = store.get_credential("session", credential.secret_hash)
        assert found is not None
        assert credential == found[0]

    def test_datetimes_are_aware_utc_to_the_second(self, store: UserStore) -> None:
        """Datetimes with microseconds come back aware, at UTC, within the same second."""
        at = T0 + timedelta(microseconds=654321)
        user = store.create_user(self.new_user(created_at=at, confirmed_at=at))
        store.record_login(user, at, None)
        store.record_login(user, at, None)
        store.increment_failed_logins(user, at)
        fetched = self.reload(store, user)
        names = ("created_at", "confirmed_at", "last_login_at", "current_login_at")
        for name in (*names, "last_failed_login_at"):
            assert_same_second(at, getattr(fetched, name))
        store.create_credential(
            self.credential(
                user,
                secret_hash="h" * 64,
                created_at=at,
                expires_at=at,
                last_used_at=at,
                authenticated_at=at,
            )
        )
        found = store.get_credential("session", "h" * 64)
        assert found is not None
        credential, owner = found
        for value in (credential.created_at, credential.expires_at, credential.last_used_at):
            assert_same_second(at, value)
        assert_same_second(at, credential.authenticated_at)
        assert_same_second(at, owner.created_at)

    def test_delete_user_frees_the_email(self, store: UserStore) -> None:
        """A deleted user's email can be registered again, as a new user without old roles."""
        store.save_role(Role(name="admin"))
        old = store.create_user(self.new_user("ada@example.test"))
        store.add_user_role(old, "admin")
        store.delete_user(old)
        new = store.create_user(self.new_user("ada@example.test"))
        assert frozenset() == store.get_user_roles(new)
        found = store.get_user_by_email("ada@example.test")
        assert found is not None
        assert str(new.id) == str(found.id)

    # -- the optional combined lookup (get_credential_with_roles) ----------------------------

    def _with_roles(
        self, store: Any, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        lookup = getattr(store, "get_credential_with_roles", None)
        if lookup is None:
            pytest.skip("the store has no get_credential_with_roles (optional)")
        found: tuple[Credential, Any, frozenset[str], frozenset[str]] | None = lookup(
            kind, secret_hash
        )
        return found

    def test_credential_with_roles_answers_as_the_separate_calls(
        self, store: UserStore
    ) -> None:
        """get_credential_with_roles gives get_credential's credential and user with
        get_user_roles' and get_user_permissions' answers, with and without roles."""
        store.save_role(Role(name="editor", permissions=frozenset({"p:edit", "p:read"})))
        store.save_role(Role(name="reader", permissions=frozenset({"p:read"})))
        store.save_role(Role(name="member"))
        store.save_role(Role(name="admin", permissions=frozenset({"users:edit"})))
        ada = store.create_user(self.new_user("ada@example.test"))
        bob = store.create_user(self.new_user("bob@example.test"))
        store.add_user_role(bob, "admin")
        credential = self.credential(ada, "api", name="deploy", ip=IPV6)
        store.create_credential(credential)
        for names in ((), ("member",), ("member", "editor", "reader")):
            for name in names:
                store.add_user_role(ada, name)
            found = self._with_roles(store, "api", credential.secret_hash)
            assert found is not None
            stored, owner, roles, permissions = found
            assert credential == stored
            assert fields_of(ada) == fields_of(owner)
            assert store.get_user_roles(ada) == roles == frozenset(names)
            assert store.get_user_permissions(ada) == permissions
        assert frozenset({"p:edit", "p:read"}) == permissions
        store.delete_role("editor")
        found = self._with_roles(store, "api", credential.secret_hash)
        assert found is not None
        assert (frozenset({"member", "reader"}), frozenset({"p:read"})) == found[2:]

    def test_credential_with_roles_needs_kind_and_hash(self, store: UserStore) -> None:
        """Like get_credential: another kind, an unknown hash or a deleted user find nothing."""
        store.save_role(Role(name="admin"))
        user = store.create_user(self.new_user())
        store.add_user_role(user, "admin")
        session = self.credential(user, "session")
        store.create_credential(session)
        assert self._with_roles(store, "remember", session.secret_hash) is None
        assert self._with_roles(store, "session", "0" * 64) is None
        assert self._with_roles(store, "session", "\x00") is None
        store.update_user(user, {"active": False})
        found = self._with_roles(store, "session", session.secret_hash)
        assert found is not None
        assert found[1].active is False
        store.delete_user(user)
        assert self._with_roles(store, "session", session.secret_hash) is None
