"""The in-memory store passes the store contract on both faces, and the contract has teeth."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from doorward import AsyncUserStore, Credential, NewUser, Role, UserStore
from doorward.exceptions import EmailTaken, NotFound
from doorward.testing import (
    AsyncAuthenticatorsContract,
    AsyncFlowsContract,
    AsyncMemoryStore,
    AsyncProfilesContract,
    AsyncRefreshTokensContract,
    AsyncSignInCodesContract,
    AsyncSocialIdentitiesContract,
    AsyncStoreContract,
    AuthenticatorsContract,
    MemoryStore,
    MemoryUser,
    ProfilesContract,
    RefreshTokensContract,
    SignInCodesContract,
    SocialIdentitiesContract,
    StoreContract,
    UsernamesContract,
)
from doorward.testing._async._concurrency import run_concurrently as run_tasks
from doorward.testing._sync._concurrency import run_concurrently as run_threads
from doorward.threaded import AsyncThreadedStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def new_user(email: str = "ada@example.test", **overrides: Any) -> NewUser:
    values: dict[str, Any] = {
        "email": email,
        "normalized_email": email,
        "password_hash": None,
        "security_stamp": "stamp-0",
        "created_at": T0,
    }
    return NewUser(**(values | overrides))


class AppUser:
    """An application's own user class: every field an attribute, plus one of its own."""

    def __init__(self, *, display_name: str, **fields: Any) -> None:
        self.display_name = display_name
        self.__dict__.update(fields)


# -- the contract on both faces ---------------------------------------------------------


class TestAsyncMemoryAuthenticators(AsyncAuthenticatorsContract):
    """The async memory store has the authenticators capability."""

    @pytest.fixture
    def store(self) -> AsyncMemoryStore:
        return AsyncMemoryStore()


class TestMemoryAuthenticators(AuthenticatorsContract):
    """The sync memory store has the authenticators capability, raced by threads."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


class TestAsyncMemorySignIn(AsyncSignInCodesContract, AsyncRefreshTokensContract):
    """The async memory store has the sign-in codes and refresh tokens capabilities."""

    @pytest.fixture
    def store(self) -> AsyncMemoryStore:
        return AsyncMemoryStore()


class TestMemorySignIn(SignInCodesContract, RefreshTokensContract):
    """The sync memory store has both, raced by threads."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


class TestAsyncMemoryStore(AsyncStoreContract):
    """The async memory store with its default MemoryUser."""

    @pytest.fixture
    def store(self) -> AsyncUserStore:
        return AsyncMemoryStore()

    def extra_fields(self, email: str) -> dict[str, Any]:
        return {"display_name": email.split("@", maxsplit=1)[0], "tags": ["a", "b"]}

    def read_extra(self, user: MemoryUser, name: str) -> Any:
        return user.extra[name]


class TestMemoryStore(StoreContract):
    """The sync memory store with its default MemoryUser."""

    @pytest.fixture
    def store(self) -> UserStore:
        return MemoryStore()

    def extra_fields(self, email: str) -> dict[str, Any]:
        return {"display_name": email.split("@", maxsplit=1)[0]}

    def read_extra(self, user: MemoryUser, name: str) -> Any:
        return user.extra[name]


class TestMemoryStoreWithAppUser(StoreContract):
    """The sync memory store building the application's own user class."""

    @pytest.fixture
    def store(self) -> UserStore:
        return MemoryStore(user_factory=AppUser)

    def extra_fields(self, email: str) -> dict[str, Any]:
        return {"display_name": email.upper()}


class TestMemoryProfiles(ProfilesContract):
    """MemoryUser keeps application fields in ``extra``: any name but doorward's."""

    open_profile_fields = True

    @pytest.fixture
    def store(self) -> UserStore:
        return MemoryStore()

    def read_extra(self, user: MemoryUser, name: str) -> Any:
        return user.extra.get(name)


class TestAsyncProfilesWithAppUser(AsyncProfilesContract):
    """With the application's own user class, only its attributes can be written."""

    @pytest.fixture
    def store(self) -> AsyncUserStore:
        return AsyncMemoryStore(user_factory=AppUser)

    def extra_fields(self, email: str) -> dict[str, Any]:
        return {"display_name": email.upper()}


# -- the race tests catch a store that reads, then writes -------------------------------

RACE_TESTS = (
    "test_cc01_concurrent_creates_make_one_user",
    "test_cc02_concurrent_compare_and_set_has_one_winner",
    "test_cc02_concurrent_deletes_of_one_credential_have_one_winner",
    "test_cc03_concurrent_increments_add_up_exactly",
    "test_rl07_concurrent_restarts_count_exactly",
    "test_cc03_concurrent_logins_are_all_counted",
)
GAP = 0.005


class RacyMemoryStore(MemoryStore):
    """Checks and writes in two steps with a gap between: the bug the race tests exist for."""

    def create_user(self, new: NewUser) -> Any:
        if self.get_user_by_email(new.normalized_email) is not None:
            raise EmailTaken
        time.sleep(GAP)
        user = MemoryUser.from_fields(id=uuid.uuid4().hex, **new.as_fields())
        with self._lock:
            self._users[user.id] = user
            self._user_ids_by_email[new.normalized_email] = user.id
        return copy.deepcopy(user)

    def compare_and_set_stamp(self, user: Any, expected_stamp: str, changes: Any) -> Any:
        current = self.get_user(str(user.id))
        if current is None or current.security_stamp != expected_stamp:
            return None
        time.sleep(GAP)
        return self.update_user(user, changes)

    def increment_failed_logins(
        self, user: Any, at: datetime, *, keep_time: bool = False, restart_cutoff: Any = None
    ) -> int:
        stored = self.get_user(str(user.id))
        last = stored.last_failed_login_at
        restart = restart_cutoff is not None and last is not None and last <= restart_cutoff
        count: int = 1 if restart else stored.failed_logins + 1
        time.sleep(GAP / 5)
        self.update_user(user, {"failed_logins": count, "last_failed_login_at": at})
        return count

    def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        count = self.get_user(str(user.id)).login_count + 1
        time.sleep(GAP)
        return self.update_user(user, {"login_count": count, "current_login_at": at})

    def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        present = credential_id in self._credentials
        time.sleep(GAP)
        super().delete_credential(credential_id, user_id)
        return present


class AsyncRacyMemoryStore(AsyncMemoryStore):
    """The async twin of ``RacyMemoryStore``: it yields to other tasks between check and write."""

    async def create_user(self, new: NewUser) -> Any:
        if await self.get_user_by_email(new.normalized_email) is not None:
            raise EmailTaken
        await asyncio.sleep(0)
        user = MemoryUser.from_fields(id=uuid.uuid4().hex, **new.as_fields())
        with self._lock:
            self._users[user.id] = user
            self._user_ids_by_email[new.normalized_email] = user.id
        return copy.deepcopy(user)

    async def compare_and_set_stamp(self, user: Any, expected_stamp: str, changes: Any) -> Any:
        current = await self.get_user(str(user.id))
        if current is None or current.security_stamp != expected_stamp:
            return None
        await asyncio.sleep(0)
        return await self.update_user(user, changes)

    async def increment_failed_logins(
        self, user: Any, at: datetime, *, keep_time: bool = False, restart_cutoff: Any = None
    ) -> int:
        stored = await self.get_user(str(user.id))
        last = stored.last_failed_login_at
        restart = restart_cutoff is not None and last is not None and last <= restart_cutoff
        count: int = 1 if restart else stored.failed_logins + 1
        await asyncio.sleep(0)
        await self.update_user(user, {"failed_logins": count, "last_failed_login_at": at})
        return count

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        count = (await self.get_user(str(user.id))).login_count + 1
        await asyncio.sleep(0)
        return await self.update_user(user, {"login_count": count, "current_login_at": at})

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        present = credential_id in self._credentials
        await asyncio.sleep(0)
        await super().delete_credential(credential_id, user_id)
        return present


@pytest.mark.parametrize("name", RACE_TESTS)
def test_sync_race_tests_fail_a_read_then_write_store(name: str):
    """Each race test of StoreContract fails against a store that checks, then writes."""
    with pytest.raises(AssertionError):
        getattr(StoreContract(), name)(RacyMemoryStore())


@pytest.mark.asyncio
@pytest.mark.parametrize("name", RACE_TESTS)
async def test_async_race_tests_fail_a_read_then_write_store(name: str):
    """Each race test of AsyncStoreContract fails against a store that checks, then writes."""
    with pytest.raises(AssertionError):
        await getattr(AsyncStoreContract(), name)(AsyncRacyMemoryStore())


# -- the concurrency helpers -------------------------------------------------------------


def test_run_threads_returns_results_and_errors_in_call_order():
    """The sync helper runs every call in its own thread and hands back results or exceptions."""

    def call(i: int) -> int:
        if i == 2:
            raise KeyError(i)
        return i * 10

    results = run_threads(call, 4)
    assert [r if not isinstance(r, KeyError) else 20 for r in results] == [0, 10, 20, 30]
    assert isinstance(results[2], KeyError)


def test_run_threads_releases_all_calls_together():
    """No call starts before every thread is ready: all of them see all the others started."""
    started: list[int] = []

    def call(i: int) -> int:
        started.append(i)
        time.sleep(0.01)
        return len(started)

    assert run_threads(call, 4) == [4, 4, 4, 4]


@pytest.mark.asyncio
async def test_run_tasks_returns_results_and_errors_in_call_order():
    """The async helper gathers every call as a task and hands back results or exceptions."""

    async def call(i: int) -> int:
        await asyncio.sleep(0)
        if i == 1:
            raise KeyError(i)
        return i * 10

    results = await run_tasks(call, 3)
    assert results[0] == 0
    assert isinstance(results[1], KeyError)
    assert results[2] == 20


# -- choices of the memory store ---------------------------------------------------------


def test_returned_users_are_copies():
    """Changing a returned user changes nothing stored: only the store's methods write."""
    store = MemoryStore()
    user = store.create_user(new_user(extra={"tags": ["a"]}))
    user.active = False
    user.extra["tags"].append("b")
    stored = store.get_user(user.id)
    assert stored.active is True
    assert stored.extra["tags"] == ["a"]
    stored.failed_logins = 99
    assert store.get_user_by_email("ada@example.test").failed_logins == 0


def test_naive_datetimes_are_refused():
    """Every path that stores a datetime raises ValueError for a naive one, writing nothing."""
    store = MemoryStore()
    naive = datetime(2030, 1, 1)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="timezone-aware"):
        store.create_user(new_user(created_at=naive))
    assert store.get_user_by_email("ada@example.test") is None
    user = store.create_user(new_user())
    with pytest.raises(ValueError, match="timezone-aware"):
        store.update_user(user, {"confirmed_at": naive})
    with pytest.raises(ValueError, match="timezone-aware"):
        store.increment_failed_logins(user, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_login(user, naive, None)
    credential = Credential(
        id="c1", user_id=user.id, kind="session", secret_hash="h", stamp="s", created_at=naive
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        store.create_credential(credential)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.delete_expired_credentials(naive)
    stored = store.get_user(user.id)
    assert (stored.failed_logins, stored.confirmed_at) == (0, None)


def test_only_documented_fields_can_change():
    """update_user refuses ``id`` and undocumented fields with ValueError, writing nothing."""
    store = MemoryStore()
    user = store.create_user(new_user(extra={"display_name": "Ada"}))
    for changes in ({"id": "other"}, {"display_name": "Eve", "active": False}):
        with pytest.raises(ValueError, match="not writable"):
            store.update_user(user, changes)
    stored = store.get_user(user.id)
    assert (stored.extra["display_name"], stored.active) == ("Ada", True)


def test_compare_and_set_needs_a_new_stamp():
    """compare_and_set_stamp without a new security_stamp is a caller bug: ValueError."""
    store = MemoryStore()
    user = store.create_user(new_user())
    with pytest.raises(ValueError, match="security_stamp"):
        store.compare_and_set_stamp(user, "stamp-0", {"active": False})


def test_writes_to_a_deleted_user():
    """Writes to a deleted user raise NotFound, compare-and-set returns None."""
    store = MemoryStore()
    store.save_role(Role(name="admin"))
    user = store.create_user(new_user())
    store.delete_user(user)
    store.delete_user(user)
    for write in (
        lambda: store.update_user(user, {"active": False}),
        lambda: store.increment_failed_logins(user, T0),
        lambda: store.record_login(user, T0, None),
        lambda: store.add_user_role(user, "admin"),
    ):
        with pytest.raises(NotFound):
            write()
    assert store.compare_and_set_stamp(user, "stamp-0", {"security_stamp": "new"}) is None


def test_credentials_need_a_stored_user_and_touch_ignores_missing_ones():
    """A credential of an unknown user raises NotFound; touching a missing credential is a no-op."""
    store = MemoryStore()
    credential = Credential(
        id="c1", user_id="nobody", kind="session", secret_hash="h", stamp="s", created_at=T0
    )
    with pytest.raises(NotFound):
        store.create_credential(credential)
    store.touch_credential("c1", last_used_at=T0)
    assert store.get_credential("session", "h") is None


def test_a_failing_user_factory_writes_nothing():
    """When the user class refuses the fields, create_user raises and the email stays free."""

    def refuse(**fields: Any) -> Any:
        raise TypeError("missing display_name")

    store = MemoryStore(user_factory=refuse)
    with pytest.raises(TypeError):
        store.create_user(new_user())
    assert store.get_user_by_email("ada@example.test") is None


class TestThreadedMemoryStore(AsyncStoreContract):
    """A sync store behind AsyncThreadedStore keeps the async contract."""

    @pytest.fixture
    def store(self) -> AsyncUserStore:
        return AsyncThreadedStore(MemoryStore())


class TestThreadedFlows(AsyncFlowsContract):
    """Every async flow runs on a sync store through the thread-pool wrapper."""

    @pytest.fixture
    def store(self) -> AsyncUserStore:
        return AsyncThreadedStore(MemoryStore())


class TestMemoryUsernames(UsernamesContract):
    """The memory store finds users by a username application field."""

    @pytest.fixture
    def store(self) -> UserStore:
        return MemoryStore()


class TestAsyncMemorySocialIdentities(AsyncSocialIdentitiesContract):
    """The async memory store keeps provider links (OAuth) by the capability's rules."""

    @pytest.fixture
    def store(self) -> AsyncMemoryStore:
        return AsyncMemoryStore()


class TestMemorySocialIdentities(SocialIdentitiesContract):
    """The sync memory store keeps provider links (OAuth) by the capability's rules."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
