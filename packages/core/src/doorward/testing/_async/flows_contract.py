"""The flows suite: every flow of ``AsyncAuth`` end to end against a given store.

Subclass it and provide a ``store`` fixture that yields a fresh, empty store::

    class TestMyStoreFlows(AsyncFlowsContract):
        @pytest_asyncio.fixture
        async def store(self):
            yield await make_my_store()

The ``mailer`` fixture is an in-memory outbox; override it (and ``read_mail``) to run the
suite through a real SMTP server. ``FlowsContract`` is the generated sync twin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import argon2
import attrs
import pytest

from doorward._async.mailers import AsyncOutbox
from doorward._async.ratelimit import AsyncMemoryRateLimiter
from doorward._async.service import AsyncAuth
from doorward.clock import FrozenClock
from doorward.exceptions import (
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    PasswordRejected,
    RateLimited,
    ReauthRequired,
    ValidationFailed,
)
from doorward.hashing import AsyncArgon2Hasher
from doorward.records import Role
from doorward.settings import Argon2Params, RateLimit, Settings
from doorward.testing._async._concurrency import run_concurrently

__all__ = ["AsyncFlowsContract"]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase for me"
EMAIL = "Alice.Example@Example.COM"
SECRET = "flows-contract-secret-key-0123456789abcdef"


class AsyncCountingHasher:
    """Wraps a hasher and counts the hash computations, for LE-02."""

    def __init__(self, inner: AsyncArgon2Hasher) -> None:
        self.inner = inner
        self.hashes = 0
        self.verifies = 0

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return await self.inner.hash(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verifies += 1
        return await self.inner.verify(stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.inner.needs_rehash(stored_hash)

    @property
    def total(self) -> int:
        return self.hashes + self.verifies


class AsyncRecording:
    """Wraps a store, limiter or mailer and records each call, for LE-07 (as Django counts
    hasher calls): ``component.method``, with the limiter's key up to its last ``:``."""

    def __init__(self, inner: Any, component: str, calls: list[str]) -> None:
        self._inner = inner
        self._component = component
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name.startswith("_") or not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            record = f"{self._component}.{name}"
            if self._component == "limiter" and args and isinstance(args[0], str):
                record += f"({args[0].rsplit(':', 1)[0]})"
            self._calls.append(record)
            return await target(*args, **kwargs)

        return call


def token_of(link: str) -> str:
    """The token at the end of an emailed link."""
    return link.rstrip("/").rsplit("/", 1)[1]


class AsyncFlowsContract:
    """Every flow against the store given by the subclass's ``store`` fixture."""

    pytestmark = pytest.mark.asyncio

    # -- fixtures a subclass may override ---------------------------------------------------

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("provide a `store` fixture yielding a fresh store")

    @pytest.fixture
    def clock(self) -> FrozenClock:
        return FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))

    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(
            secret_keys=SECRET,
            base_url="https://auth.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            max_concurrent_hashes=4,
        )

    @pytest.fixture
    def mailer(self) -> Any:
        return AsyncOutbox()

    @pytest.fixture
    def read_mail(self, mailer: Any) -> Callable[[str], list[tuple[str, str]]]:
        """``read_mail(to)`` → ``[(kind, first_link)]`` of the mails sent to ``to``."""

        def read(to: str) -> list[tuple[str, str]]:
            return [(m.kind, _first_link(m.text)) for m in mailer.messages if m.to == to]

        return read

    @pytest.fixture
    def read_links(self, mailer: Any) -> Callable[[str], list[tuple[str, list[str]]]]:
        """``read_links(to)`` → ``[(kind, every_link)]`` of the mails sent to ``to``."""

        def read(to: str) -> list[tuple[str, list[str]]]:
            return [(m.kind, _links(m.text)) for m in mailer.messages if m.to == to]

        return read

    @pytest.fixture
    def hasher(self, settings: Settings) -> AsyncCountingHasher:
        return AsyncCountingHasher(AsyncArgon2Hasher.from_settings(settings))

    @pytest.fixture
    def auth(
        self,
        store: Any,
        settings: Settings,
        mailer: Any,
        hasher: AsyncCountingHasher,
        clock: FrozenClock,
    ) -> AsyncAuth:
        return AsyncAuth(settings, store, mailer=mailer, hasher=hasher, clock=clock)

    # -- helpers -----------------------------------------------------------------------------

    async def confirmed_user(self, auth: AsyncAuth, email: str = EMAIL) -> Any:
        """A registered and confirmed user with ``PASSWORD``."""
        return await auth.create_user(email, PASSWORD, confirmed=True)

    async def lock_account(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings, failures: int = 0
    ) -> datetime:
        """Lock ``EMAIL`` by checked wrong passwords (``lockout_threshold`` of them unless
        ``failures`` says how many are missing); the time the lock began."""
        for attempt in range(failures or settings.lockout_threshold):
            if attempt:
                clock.advance(settings.delay_max)
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
        return clock.now()

    def unlock_token(
        self, read_links: Callable[[str], list[tuple[str, list[str]]]], to: str
    ) -> str:
        """The token of the unlock link in the last lock notice to ``to``."""
        found = [
            link
            for kind, links in read_links(to)
            if kind == "account_locked"
            for link in links
            if "/unlock/" in link
        ]
        assert found, f"no unlock link mailed to {to}"
        return token_of(found[-1])

    def last_link(
        self, read_mail: Callable[[str], list[tuple[str, str]]], to: str, kind: str
    ) -> str:
        links = [link for k, link in read_mail(to) if k == kind]
        assert links, f"no {kind} mail to {to}"
        return links[-1]

    # -- registration and confirmation -------------------------------------------------------

    async def test_register_confirm_login(self, auth: AsyncAuth, read_mail: Any) -> None:
        """A new account gets a confirmation link; once confirmed, the password logs in."""
        user = await auth.register(EMAIL, PASSWORD)
        assert user is not None
        assert user.confirmed_at is None
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)
        link = self.last_link(read_mail, user.email, "confirm")
        assert link.startswith("https://auth.example.com/auth/confirm/")
        confirmed = await auth.confirm_email(token_of(link))
        assert confirmed.confirmed_at is not None
        logged_in, issued = await auth.login(EMAIL.lower(), PASSWORD)
        assert str(logged_in.id) == str(user.id)
        assert issued.token

    async def test_tk04_confirm_token_single_use(self, auth: AsyncAuth, read_mail: Any) -> None:
        """A confirmation link works once; the second use is refused."""
        user = await auth.register(EMAIL, PASSWORD)
        token = token_of(self.last_link(read_mail, user.email, "confirm"))
        await auth.confirm_email(token)
        with pytest.raises(InvalidToken):
            await auth.confirm_email(token)

    async def test_tk04_confirm_token_bound_to_email(
        self, auth: AsyncAuth, store: Any, read_mail: Any
    ) -> None:
        """A confirmation link sent to an address dies when the account's address changes."""
        user = await auth.register(EMAIL, PASSWORD)
        token = token_of(self.last_link(read_mail, user.email, "confirm"))
        await store.update_user(
            user, {"email": "other@example.com", "normalized_email": "other@example.com"}
        )
        with pytest.raises(InvalidToken):
            await auth.confirm_email(token)

    async def test_le04_register_existing_email_is_neutral(
        self, auth: AsyncAuth, read_mail: Any
    ) -> None:
        """Registering a taken address creates nothing and mails its owner a notice instead."""
        first = await auth.register(EMAIL, PASSWORD)
        second = await auth.register(EMAIL.upper(), NEW_PASSWORD)
        assert second is None
        kinds = [kind for kind, _ in read_mail(first.email)]
        assert kinds == ["confirm", "existing_account"]

    async def test_resend_confirmation_is_neutral(self, auth: AsyncAuth, read_mail: Any) -> None:
        """Resending to an unknown address and to an unconfirmed one both return quietly."""
        user = await auth.register(EMAIL, PASSWORD)
        assert await auth.send_confirmation("nobody@example.com") is None
        assert await auth.send_confirmation(EMAIL) is None
        assert len([k for k, _ in read_mail(user.email) if k == "confirm"]) == 2
        assert read_mail("nobody@example.com") == []

    async def test_pw01_register_rejects_short_password(self, auth: AsyncAuth, store: Any) -> None:
        """A password under the minimum is refused with a reason and nothing is stored."""
        with pytest.raises(PasswordRejected) as info:
            await auth.register(EMAIL, "too short")
        assert info.value.reasons
        assert await store.get_user_by_email(EMAIL.lower()) is None

    async def test_iv01_register_rejects_bad_email(self, auth: AsyncAuth) -> None:
        """Malformed or operator-shaped addresses are refused with a field error."""
        for bad in ("not-an-email", "a@x.com,b@y.com", {"$gt": ""}, 12, "a@x.com\r\nBcc: b@y.com"):
            with pytest.raises(ValidationFailed) as info:
                await auth.register(bad, PASSWORD)
            assert "email" in info.value.fields

    # -- login, lockout, tracking ------------------------------------------------------------

    async def test_le01_every_refusal_is_the_same_error(self, auth: AsyncAuth, store: Any) -> None:
        """Wrong password, unknown, inactive, unconfirmed and passwordless all give one error."""
        await self.confirmed_user(auth)
        await auth.create_user("unconfirmed@example.com", PASSWORD)
        inactive = await auth.create_user("inactive@example.com", PASSWORD, confirmed=True)
        await auth.set_active(inactive, False)
        await auth.create_user("nopass@example.com", None, confirmed=True)
        attempts = [
            (EMAIL, "wrong password for this user"),
            ("unknown@example.com", PASSWORD),
            ("unconfirmed@example.com", PASSWORD),
            ("inactive@example.com", PASSWORD),
            ("nopass@example.com", PASSWORD),
        ]
        errors = []
        for email, password in attempts:
            with pytest.raises(InvalidCredentials) as info:
                await auth.login(email, password)
            errors.append((type(info.value), info.value.to_dict()))
        assert len(set(map(repr, errors))) == 1

    async def test_le02_hasher_runs_once_per_login_attempt(
        self, auth: AsyncAuth, hasher: AsyncCountingHasher
    ) -> None:
        """Every login path (unknown, wrong, locked, inactive, success) costs exactly one hash."""
        await self.confirmed_user(auth)
        await auth.create_user("unconfirmed@example.com", PASSWORD)
        cases = [
            ("unknown@example.com", PASSWORD),
            (EMAIL, "wrong password for this user"),
            ("unconfirmed@example.com", PASSWORD),
            (EMAIL, PASSWORD),
        ]
        for email, password in cases:
            before = hasher.total
            with contextlib.suppress(InvalidCredentials):
                await auth.login(email, password)
            assert hasher.total - before == 1, email

    async def test_le02_hasher_runs_once_while_locked(
        self, auth: AsyncAuth, hasher: AsyncCountingHasher, settings: Settings
    ) -> None:
        """A login refused by the lock still costs one hash, so the lock is no timing oracle."""
        await self.confirmed_user(auth)
        for _ in range(settings.lockout_threshold):
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
        before = hasher.total
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)
        assert hasher.total - before == 1

    async def test_rl01_lockout_after_threshold(
        self, auth: AsyncAuth, store: Any, clock: FrozenClock, settings: Settings
    ) -> None:
        """After N failures the right password fails too, and the refused attempt counts."""
        user = await self.confirmed_user(auth)
        for _ in range(settings.lockout_threshold):
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
            clock.advance(settings.delay_max)
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)
        stored = await store.get_user(str(user.id))
        assert settings.lockout_threshold + 1 == stored.failed_logins
        clock.advance(settings.lockout_duration)
        logged_in, _ = await auth.login(EMAIL, PASSWORD)
        assert logged_in.failed_logins == 0

    async def test_rl01_lock_sends_one_notice(
        self, auth: AsyncAuth, read_mail: Any, clock: FrozenClock, settings: Settings
    ) -> None:
        """Reaching the threshold mails the owner once, with a reset link (the unlock path)."""
        user = await self.confirmed_user(auth)
        for _ in range(settings.lockout_threshold + 2):
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
            clock.advance(settings.delay_max)
        notices = [link for kind, link in read_mail(user.email) if kind == "account_locked"]
        assert notices == ["https://auth.example.com/auth/reset"]

    async def test_rl07_guesses_during_a_lock_never_extend_it(
        self,
        auth: AsyncAuth,
        store: Any,
        clock: FrozenClock,
        settings: Settings,
        hasher: AsyncCountingHasher,
    ) -> None:
        """A guess every minute is counted, yet the owner logs in lockout_duration after the
        lock began; then a fresh threshold applies."""
        user = await self.confirmed_user(auth)
        began = await self.lock_account(auth, clock, settings)
        minute = timedelta(minutes=1)
        opens = int(settings.lockout_duration / minute)
        for _ in range(1, opens):
            clock.advance(minute)
            before = hasher.total
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "another guess of the attacker")
            assert hasher.total - before == 1  # LE-02: no oracle
        stored = await store.get_user(str(user.id))
        assert settings.lockout_threshold + opens - 1 == stored.failed_logins
        assert began == stored.last_failed_login_at
        with pytest.raises(InvalidCredentials):  # the lock still holds just before it ends
            await auth.login(EMAIL, PASSWORD)
        clock.advance(minute)
        assert began + settings.lockout_duration == clock.now()
        owner, _ = await auth.login(EMAIL, PASSWORD)
        assert owner.failed_logins == 0
        for _ in range(opens, 40):
            clock.advance(minute)
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "another guess of the attacker")
        stored = await store.get_user(str(user.id))
        assert min(40 - opens, settings.lockout_threshold + 1) == stored.failed_logins

    async def test_rl07_a_fresh_threshold_after_the_lock(
        self,
        auth: AsyncAuth,
        store: Any,
        read_mail: Any,
        clock: FrozenClock,
        settings: Settings,
    ) -> None:
        """The first guess checked after a lock ends starts the count again at one."""
        user = await self.confirmed_user(auth)
        began = await self.lock_account(auth, clock, settings)
        minute = timedelta(minutes=1)
        while clock.now() < began + settings.lockout_duration:
            clock.advance(minute)
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "another guess of the attacker")
        stored = await store.get_user(str(user.id))
        assert (1, clock.now()) == (stored.failed_logins, stored.last_failed_login_at)
        relocked = await self.lock_account(auth, clock, settings, settings.lockout_threshold - 1)
        stored = await store.get_user(str(user.id))
        assert (settings.lockout_threshold, relocked) == (
            stored.failed_logins,
            stored.last_failed_login_at,
        )
        notices = [kind for kind, _ in read_mail(user.email) if kind == "account_locked"]
        assert len(notices) == 2

    async def test_rl07_unlock_link_works_once(
        self,
        auth: AsyncAuth,
        store: Any,
        read_links: Any,
        clock: FrozenClock,
        settings: Settings,
    ) -> None:
        """The lock notice's unlock link zeroes the failures once; sessions survive it."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        await self.lock_account(auth, clock, settings)
        token = self.unlock_token(read_links, user.email)
        unlocked = await auth.unlock(token)
        assert (unlocked.failed_logins, unlocked.last_failed_login_at) == (0, None)
        assert user.security_stamp == unlocked.security_stamp
        assert await auth.authenticate(session_token=issued.token) is not None
        with pytest.raises(InvalidToken):
            await auth.unlock(token)
        await auth.login(EMAIL, PASSWORD)

    async def test_rl07_unlock_link_of_an_earlier_lock_is_refused(
        self,
        auth: AsyncAuth,
        read_links: Any,
        clock: FrozenClock,
        settings: Settings,
    ) -> None:
        """A link from a lock that ended is refused once a new lock began; other tokens too."""
        user = await self.confirmed_user(auth)
        began = await self.lock_account(auth, clock, settings)
        old = self.unlock_token(read_links, user.email)
        clock.advance(began + settings.lockout_duration - clock.now())
        await self.lock_account(auth, clock, settings)
        new = self.unlock_token(read_links, user.email)
        assert old != new
        await auth.forgot_password(EMAIL)
        reset = token_of(self.last_link(read_links_as_mail(read_links), user.email, "reset"))
        for refused in (old, reset, new + "x", ""):
            with pytest.raises(InvalidToken):
                await auth.unlock(refused)
        await auth.unlock(new)

    async def test_rl02_increasing_delay(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings
    ) -> None:
        """From `delay_after` failures on, the next attempt must wait, twice as long each time."""
        await self.confirmed_user(auth)
        for _ in range(settings.delay_after):
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)  # refused: within the first delay (and counted)
        clock.advance(settings.delay_base * 2 - timedelta(milliseconds=1))
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)  # 4 failures now: the delay doubled
        clock.advance(settings.delay_base * 4)
        user, _ = await auth.login(EMAIL, PASSWORD)
        assert user.failed_logins == 0

    async def test_rl03_success_clears_only_this_account(self, auth: AsyncAuth, store: Any) -> None:
        """A success zeroes the user's own counter and leaves another account's alone."""
        await self.confirmed_user(auth)
        other = await auth.create_user("bob@example.com", PASSWORD, confirmed=True)
        for email in (EMAIL, "bob@example.com"):
            with pytest.raises(InvalidCredentials):
                await auth.login(email, "wrong password for this user")
        user, _ = await auth.login(EMAIL, PASSWORD)
        assert user.failed_logins == 0
        assert (await store.get_user(str(other.id))).failed_logins == 1

    async def test_login_tracking(self, auth: AsyncAuth, clock: FrozenClock) -> None:
        """Each login moves current time and address to last, and counts."""
        await self.confirmed_user(auth)
        first, _ = await auth.login(EMAIL, PASSWORD, ip="192.0.2.1")
        clock.advance(60)
        second, _ = await auth.login(EMAIL, PASSWORD, ip="192.0.2.2")
        assert second.login_count == 2
        assert first.current_login_at == second.last_login_at
        assert second.last_login_ip == "192.0.2.1"
        assert second.current_login_ip == "192.0.2.2"
        assert clock.now() == second.current_login_at

    async def test_pw07_rehash_on_login(self, auth: AsyncAuth, store: Any) -> None:
        """A hash made with other parameters is replaced at the next successful login."""
        user = await self.confirmed_user(auth)
        old = argon2.PasswordHasher(time_cost=2, memory_cost=128, parallelism=1).hash(PASSWORD)
        await store.update_user(user, {"password_hash": old})
        await auth.login(EMAIL, PASSWORD)
        stored = await store.get_user(str(user.id))
        assert old != stored.password_hash
        assert not auth.hasher.needs_rehash(stored.password_hash)

    async def test_pw08_oversized_stored_parameters_refused(
        self, auth: AsyncAuth, store: Any
    ) -> None:
        """A stored hash asking for 4 GiB is refused without being computed."""
        user = await self.confirmed_user(auth)
        huge = "$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA"
        await store.update_user(user, {"password_hash": huge})
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)

    async def test_le06_mail_goes_to_stored_address(self, auth: AsyncAuth, read_mail: Any) -> None:
        """A reset asked with another spelling of the address is mailed to the stored one."""
        user = await self.confirmed_user(auth)
        await auth.forgot_password("ALICE.EXAMPLE@example.com")
        assert read_mail("ALICE.EXAMPLE@example.com") == []
        assert [kind for kind, _ in read_mail(user.email)] == ["reset"]

    # -- sessions and remember-me --------------------------------------------------------------

    async def test_session_authenticates_until_logout(self, auth: AsyncAuth) -> None:
        """The session token identifies the user; after logout the same token is anonymous."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        assert identity is not None
        assert str(user.id) == identity.user_id
        assert identity.fresh
        await auth.logout(identity)
        assert await auth.authenticate(session_token=issued.token) is None

    async def test_ss03_idle_and_absolute_timeouts(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings
    ) -> None:
        """A session dies after the idle timeout, and after the absolute one even when used."""
        await self.confirmed_user(auth)
        _, idle = await auth.login(EMAIL, PASSWORD)
        clock.advance(settings.session_idle_timeout)
        assert await auth.authenticate(session_token=idle.token) is None
        _, busy = await auth.login(EMAIL, PASSWORD)
        step = settings.session_idle_timeout / 2
        used = timedelta(0)
        while used + step < settings.session_max_age:
            assert await auth.authenticate(session_token=busy.token) is not None
            clock.advance(step)
            used += step
        clock.advance(settings.session_max_age - used)
        assert await auth.authenticate(session_token=busy.token) is None

    async def test_tk10_remember_me_rotates_and_is_not_fresh(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings
    ) -> None:
        """A remember-me token restores a not-fresh session once and is replaced on use."""
        await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD, remember=True)
        assert issued.remember_token
        clock.advance(settings.session_max_age)
        identity = await auth.authenticate(
            session_token=issued.token, remember_token=issued.remember_token
        )
        assert identity is not None
        assert identity.issued is not None
        assert not identity.fresh
        assert identity.issued.remember_token != issued.remember_token
        again = await auth.authenticate(remember_token=issued.remember_token)
        assert again is None
        assert await auth.authenticate(session_token=identity.issued.token) is not None

    async def test_tk10_remember_me_absolute_lifetime(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings
    ) -> None:
        """Rotation keeps the original expiry: no remember-me outlives its lifetime."""
        await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD, remember=True)
        token = issued.remember_token
        clock.advance(settings.remember_lifetime - timedelta(days=1))
        identity = await auth.authenticate(remember_token=token)
        assert identity is not None
        assert identity.issued is not None
        clock.advance(timedelta(days=1))
        assert await auth.authenticate(remember_token=identity.issued.remember_token) is None

    async def test_tk10_devices_have_separate_tokens(self, auth: AsyncAuth) -> None:
        """Two devices get different tokens; logout on one leaves the other, a password change kills both."""
        await self.confirmed_user(auth)
        _, a = await auth.login(EMAIL, PASSWORD, remember=True)
        _, b = await auth.login(EMAIL, PASSWORD, remember=True)
        assert a.remember_token != b.remember_token
        identity_a = await auth.authenticate(session_token=a.token)
        await auth.logout(identity_a, remember_token=a.remember_token)
        assert await auth.authenticate(remember_token=a.remember_token) is None
        identity_b = await auth.authenticate(remember_token=b.remember_token)
        assert identity_b is not None
        assert identity_b.issued is not None
        fresh_b = await auth.reauthenticate(identity_b, PASSWORD)
        _, c = await auth.login(EMAIL, PASSWORD, remember=True)
        await auth.change_password(fresh_b, PASSWORD, NEW_PASSWORD)
        assert await auth.authenticate(remember_token=identity_b.issued.remember_token) is None
        assert await auth.authenticate(remember_token=c.remember_token) is None

    async def test_ss05_password_change_ends_other_sessions(self, auth: AsyncAuth) -> None:
        """Changing the password on device A ends B's session and gives A a new one."""
        await self.confirmed_user(auth)
        _, a = await auth.login(EMAIL, PASSWORD)
        _, b = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=a.token)
        new_session = await auth.change_password(identity, PASSWORD, NEW_PASSWORD)
        assert await auth.authenticate(session_token=b.token) is None
        assert await auth.authenticate(session_token=a.token) is None
        assert await auth.authenticate(session_token=new_session.token) is not None
        await auth.login(EMAIL, NEW_PASSWORD)

    async def test_change_password_needs_current_password(self, auth: AsyncAuth) -> None:
        """A wrong current password is refused and counts as a failed attempt."""
        await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        with pytest.raises(InvalidCredentials):
            await auth.change_password(identity, "not my password at all", NEW_PASSWORD)
        assert (await auth.get_user_by_email(EMAIL)).failed_logins == 1
        with pytest.raises(ValidationFailed) as info:
            await auth.change_password(identity, PASSWORD, "short")
        assert "new_password" in info.value.fields

    async def test_ss04_logout_everywhere(self, auth: AsyncAuth) -> None:
        """Logging out everywhere ends every session, remember-me and API token."""
        user = await self.confirmed_user(auth)
        _, a = await auth.login(EMAIL, PASSWORD, remember=True)
        token, _ = await auth.issue_api_token(user, "ci")
        await auth.logout_everywhere(user)
        assert await auth.authenticate(session_token=a.token) is None
        assert await auth.authenticate(remember_token=a.remember_token) is None
        assert await auth.authenticate(bearer_token=token) is None

    async def test_ss06_deactivation_kills_everything(self, auth: AsyncAuth) -> None:
        """A deactivated user's session and API token stop working at once."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        token, _ = await auth.issue_api_token(user, "ci")
        await auth.set_active(user, False)
        assert await auth.authenticate(session_token=issued.token) is None
        assert await auth.authenticate(bearer_token=token) is None
        reactivated = await auth.set_active(await auth.get_user_by_email(EMAIL), True)
        assert reactivated.active
        assert await auth.authenticate(session_token=issued.token) is None

    async def test_ss07_freshness_and_reauth(
        self, auth: AsyncAuth, clock: FrozenClock, settings: Settings
    ) -> None:
        """A session is fresh after login, stale after the window, fresh again after reauth."""
        await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        auth.require_fresh(identity)
        clock.advance(settings.fresh_window + timedelta(seconds=1))
        identity = await auth.authenticate(session_token=issued.token)
        assert not identity.fresh
        with pytest.raises(ReauthRequired):
            auth.require_fresh(identity)
        with pytest.raises(InvalidCredentials):
            await auth.reauthenticate(identity, "not my password at all")
        identity = await auth.reauthenticate(identity, PASSWORD)
        auth.require_fresh(identity)
        assert (await auth.authenticate(session_token=issued.token)).fresh

    async def test_ss08_list_and_revoke_sessions(self, auth: AsyncAuth) -> None:
        """A user sees their sessions and can end one of them, but not someone else's."""
        user = await self.confirmed_user(auth)
        other = await auth.create_user("bob@example.com", PASSWORD, confirmed=True)
        _, a = await auth.login(EMAIL, PASSWORD)
        _, b = await auth.login(EMAIL, PASSWORD)
        sessions = await auth.list_sessions(user)
        assert {a.credential.id, b.credential.id} == {s.id for s in sessions}
        with pytest.raises(NotFound):
            await auth.revoke_session(other, b.credential.id)
        await auth.revoke_session(user, b.credential.id)
        assert await auth.authenticate(session_token=b.token) is None
        assert await auth.authenticate(session_token=a.token) is not None

    # -- password reset --------------------------------------------------------------------------

    async def test_reset_flow(self, auth: AsyncAuth, read_mail: Any, store: Any) -> None:
        """Forgot → mailed link → new password logs in, the old one does not."""
        user = await self.confirmed_user(auth)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))
        assert str(user.id) == str((await auth.check_reset_token(token)).id)
        await auth.reset_password(token, NEW_PASSWORD)
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)
        await auth.login(EMAIL, NEW_PASSWORD)

    async def test_tk03_reset_token_single_use(self, auth: AsyncAuth, read_mail: Any) -> None:
        """A reset link works once."""
        user = await self.confirmed_user(auth)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))
        await auth.reset_password(token, NEW_PASSWORD)
        with pytest.raises(InvalidToken):
            await auth.reset_password(token, "yet another new passphrase")

    async def test_tk02_reset_token_expires(
        self, auth: AsyncAuth, read_mail: Any, clock: FrozenClock, settings: Settings
    ) -> None:
        """A reset link is valid at its max age and refused one second later."""
        user = await self.confirmed_user(auth)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))
        clock.advance(settings.reset_max_age)
        await auth.check_reset_token(token)
        clock.advance(1)
        with pytest.raises(InvalidToken):
            await auth.check_reset_token(token)

    async def test_rl04_reset_unlocks(
        self, auth: AsyncAuth, read_mail: Any, settings: Settings, clock: FrozenClock
    ) -> None:
        """A password reset unlocks a locked account and zeroes its failures."""
        user = await self.confirmed_user(auth)
        for _ in range(settings.lockout_threshold):
            with pytest.raises(InvalidCredentials):
                await auth.login(EMAIL, "wrong password for this user")
            clock.advance(settings.delay_max)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))
        updated = await auth.reset_password(token, NEW_PASSWORD)
        assert updated.failed_logins == 0
        await auth.login(EMAIL, NEW_PASSWORD)

    async def test_tk05_padded_mailed_tokens_refused(
        self,
        auth: AsyncAuth,
        read_mail: Any,
        read_links: Any,
        clock: FrozenClock,
        settings: Settings,
    ) -> None:
        """Confirm, reset and unlock links with `=`, `==` or `==A` appended are refused; the
        exact token still works."""
        user = await auth.register(EMAIL, PASSWORD)
        confirm = token_of(self.last_link(read_mail, user.email, "confirm"))
        for suffix in ("=", "==", "==A"):
            with pytest.raises(InvalidToken):
                await auth.confirm_email(confirm + suffix)
        await auth.confirm_email(confirm)
        await self.lock_account(auth, clock, settings)
        unlock = self.unlock_token(read_links, user.email)
        await auth.forgot_password(EMAIL)
        reset = token_of(self.last_link(read_mail, user.email, "reset"))
        for suffix in ("=", "==", "==A"):
            with pytest.raises(InvalidToken):
                await auth.unlock(unlock + suffix)
            with pytest.raises(InvalidToken):
                await auth.check_reset_token(reset + suffix)
            with pytest.raises(InvalidToken):
                await auth.reset_password(reset + suffix, NEW_PASSWORD)
        await auth.unlock(unlock)
        await auth.reset_password(reset, NEW_PASSWORD)

    async def recording_auth(
        self, store: Any, settings: Settings, hasher: Any, clock: FrozenClock
    ) -> tuple[AsyncAuth, list[str], AsyncOutbox]:
        """An auth whose store, limiter and mailer (an outbox) record every call."""
        calls: list[str] = []
        outbox = AsyncOutbox()
        auth = AsyncAuth(
            settings,
            AsyncRecording(store, "store", calls),
            mailer=AsyncRecording(outbox, "mailer", calls),
            limiter=AsyncRecording(AsyncMemoryRateLimiter(), "limiter", calls),
            hasher=hasher,
            clock=clock,
        )
        return auth, calls, outbox

    async def test_le07_forgot_password_does_equal_work(
        self, store: Any, settings: Settings, hasher: Any, clock: FrozenClock
    ) -> None:
        """Forgot-password makes the same store, limiter and mailer calls for an active
        account, an unknown address and an inactive account; only the first gets mail."""
        auth, calls, outbox = await self.recording_auth(store, settings, hasher, clock)
        user = await self.confirmed_user(auth)
        inactive = await auth.create_user("inactive@example.com", PASSWORD, confirmed=True)
        await auth.set_active(inactive, False)
        sequences = []
        for email in (EMAIL, "nobody@example.com", "inactive@example.com"):
            calls.clear()
            await auth.forgot_password(email, ip="192.0.2.1")
            sequences.append(list(calls))
        assert sequences[0] == [
            "limiter.hit(forgot_password)",
            "store.get_user_by_email",
            "limiter.hit(mail:reset)",
            "mailer.send",
        ]
        assert sequences[0] == sequences[1] == sequences[2]
        assert [(m.kind, m.to) for m in outbox.messages] == [("reset", user.email)]
        assert outbox.decoys == 2

    async def test_le07_resend_confirmation_does_equal_work(
        self, store: Any, settings: Settings, hasher: Any, clock: FrozenClock
    ) -> None:
        """Resend-confirmation makes the same store, limiter and mailer calls for an
        unconfirmed account, an unknown address and a confirmed account."""
        auth, calls, outbox = await self.recording_auth(store, settings, hasher, clock)
        user = await auth.create_user(EMAIL, PASSWORD)
        await auth.create_user("done@example.com", PASSWORD, confirmed=True)
        sequences = []
        for email in (EMAIL, "nobody@example.com", "done@example.com"):
            calls.clear()
            await auth.send_confirmation(email, ip="192.0.2.1")
            sequences.append(list(calls))
        assert sequences[0] == [
            "limiter.hit(send_confirmation)",
            "store.get_user_by_email",
            "limiter.hit(mail:confirm)",
            "mailer.send",
        ]
        assert sequences[0] == sequences[1] == sequences[2]
        assert [(m.kind, m.to) for m in outbox.messages] == [("confirm", user.email)]
        assert outbox.decoys == 2

    async def test_le07_per_address_mail_limit_is_equal(
        self, store: Any, settings: Settings, hasher: Any, clock: FrozenClock
    ) -> None:
        """Over the per-address mail limit, known and unknown addresses stop the same way."""
        auth, calls, outbox = await self.recording_auth(store, settings, hasher, clock)
        await self.confirmed_user(auth)
        limit = settings.rate_limits["mail_per_address"].limit
        sequences = []
        for email in (EMAIL, "nobody@example.com"):
            for _ in range(limit):
                await auth.forgot_password(email)
            calls.clear()
            await auth.forgot_password(email)
            sequences.append(list(calls))
        assert (
            sequences[0] == sequences[1] == ["store.get_user_by_email", "limiter.hit(mail:reset)"]
        )
        assert (len(outbox.messages), outbox.decoys) == (limit, limit)

    async def test_le03_forgot_password_neutral(self, auth: AsyncAuth, read_mail: Any) -> None:
        """Forgot-password returns the same for a known and an unknown address."""
        await self.confirmed_user(auth)
        assert await auth.forgot_password(EMAIL) is None
        assert await auth.forgot_password("nobody@example.com") is None
        assert read_mail("nobody@example.com") == []

    async def test_tk06_token_of_one_user_does_not_serve_another(
        self, auth: AsyncAuth, read_mail: Any
    ) -> None:
        """A reset token names its user; it cannot be replayed for another account."""
        alice = await self.confirmed_user(auth)
        bob = await auth.create_user("bob@example.com", PASSWORD, confirmed=True)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, alice.email, "reset"))
        await auth.reset_password(token, NEW_PASSWORD)
        await auth.login("bob@example.com", PASSWORD)
        assert str(bob.id) != str(alice.id)

    async def test_cc02_concurrent_reset_token_uses(self, auth: AsyncAuth, read_mail: Any) -> None:
        """Of eight concurrent uses of one reset token exactly one succeeds."""
        user = await self.confirmed_user(auth)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))

        async def use(i: int) -> Any:
            return await auth.reset_password(token, f"{NEW_PASSWORD} number {i}")

        results = await run_concurrently(use, 8)
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, InvalidToken) for r in results if isinstance(r, BaseException))

    async def test_cc04_concurrent_change_and_reset(
        self, auth: AsyncAuth, read_mail: Any, store: Any
    ) -> None:
        """A password change racing a reset: one wins, the stamp rotated once, old tokens die."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        await auth.forgot_password(EMAIL)
        token = token_of(self.last_link(read_mail, user.email, "reset"))
        stamp_before = (await store.get_user(str(user.id))).security_stamp

        async def act(i: int) -> Any:
            if i == 0:
                return await auth.change_password(identity, PASSWORD, NEW_PASSWORD)
            return await auth.reset_password(token, "the reset passphrase wins")

        results = await run_concurrently(act, 2)
        assert len([r for r in results if not isinstance(r, BaseException)]) == 1
        after = await store.get_user(str(user.id))
        assert stamp_before != after.security_stamp
        assert await auth.authenticate(session_token=issued.token) is None
        with pytest.raises(InvalidToken):
            await auth.reset_password(token, "one more new passphrase")

    # -- email change ----------------------------------------------------------------------------

    async def test_change_email_flow(self, auth: AsyncAuth, read_mail: Any) -> None:
        """The new address gets the link; using it moves the account and notifies the old one."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        await auth.request_email_change(identity, PASSWORD, "New@Example.org")
        link = self.last_link(read_mail, "New@example.org", "change_email")
        updated = await auth.confirm_email_change(token_of(link))
        assert updated.email == "New@example.org"
        assert [k for k, _ in read_mail(user.email)][-1:] == ["email_changed"]
        await auth.login("new@example.org", PASSWORD)
        with pytest.raises(InvalidCredentials):
            await auth.login(EMAIL, PASSWORD)

    async def test_cc05_only_the_pending_address_can_be_confirmed(
        self, auth: AsyncAuth, read_mail: Any
    ) -> None:
        """Of two change requests, the first link no longer confirms anything."""
        await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        await auth.request_email_change(identity, PASSWORD, "first@example.org")
        await auth.request_email_change(identity, PASSWORD, "second@example.org")
        first = token_of(self.last_link(read_mail, "first@example.org", "change_email"))
        second = token_of(self.last_link(read_mail, "second@example.org", "change_email"))
        with pytest.raises(InvalidToken):
            await auth.confirm_email_change(first)
        updated = await auth.confirm_email_change(second)
        assert updated.email == "second@example.org"

    async def test_change_email_needs_password_and_hides_taken(
        self, auth: AsyncAuth, read_mail: Any
    ) -> None:
        """A wrong password is refused; a taken address gets the same answer and no link."""
        await self.confirmed_user(auth)
        await auth.create_user("taken@example.org", PASSWORD, confirmed=True)
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        with pytest.raises(InvalidCredentials):
            await auth.request_email_change(identity, "not my password", "x@example.org")
        assert await auth.request_email_change(identity, PASSWORD, "taken@example.org") is None
        assert read_mail("taken@example.org") == []

    # -- API tokens --------------------------------------------------------------------------------

    async def test_tk09_api_tokens(self, auth: AsyncAuth, store: Any) -> None:
        """A token authenticates as a bearer, is stored hashed, listed without secret, revocable."""
        user = await self.confirmed_user(auth)
        token, record = await auth.issue_api_token(user, "deploy")
        assert token not in record.secret_hash
        identity = await auth.authenticate(bearer_token=token)
        assert identity is not None
        assert identity.via == "api"
        assert await auth.authenticate(session_token=token) is None
        listed = await auth.list_api_tokens(user)
        assert [c.name for c in listed] == ["deploy"]
        other = await auth.create_user("bob@example.com", PASSWORD, confirmed=True)
        with pytest.raises(NotFound):
            await auth.revoke_api_token(other, record.id)
        await auth.revoke_api_token(user, record.id)
        assert await auth.authenticate(bearer_token=token) is None

    async def test_tk09_api_token_dies_on_password_change(self, auth: AsyncAuth) -> None:
        """A password change ends the user's API tokens."""
        user = await self.confirmed_user(auth)
        token, _ = await auth.issue_api_token(user, "deploy")
        _, issued = await auth.login(EMAIL, PASSWORD)
        identity = await auth.authenticate(session_token=issued.token)
        await auth.change_password(identity, PASSWORD, NEW_PASSWORD)
        assert await auth.authenticate(bearer_token=token) is None

    async def test_api_token_expiry(self, auth: AsyncAuth, clock: FrozenClock) -> None:
        """A token with a lifetime stops working when it ends."""
        user = await self.confirmed_user(auth)
        token, _ = await auth.issue_api_token(user, "short", expires_in=timedelta(hours=1))
        clock.advance(timedelta(hours=1))
        assert await auth.authenticate(bearer_token=token) is None

    # -- roles and administration ------------------------------------------------------------------

    async def test_roles_and_permissions(self, auth: AsyncAuth, store: Any) -> None:
        """Roles grant permissions; checks see what the store holds."""
        user = await self.confirmed_user(auth)
        await store.save_role(
            Role(name="admin", permissions=frozenset({"users:write", "users:read"}))
        )
        await store.save_role(Role(name="viewer", permissions=frozenset({"users:read"})))
        assert not await auth.has_roles(user, "admin")
        assert await auth.add_role(user, "admin")
        assert not await auth.add_role(user, "admin")
        assert await auth.has_roles(user, "admin")
        assert await auth.has_any_role(user, "viewer", "admin")
        assert await auth.has_permissions(user, "users:write")
        assert await auth.remove_role(user, "admin")
        assert not await auth.has_permissions(user, "users:write")
        with pytest.raises(NotFound):
            await auth.add_role(user, "no-such-role")

    async def test_create_user_duplicate_raises(self, auth: AsyncAuth) -> None:
        """The administrative create refuses a taken address loudly."""
        await self.confirmed_user(auth)
        with pytest.raises(EmailTaken):
            await auth.create_user(EMAIL.upper(), PASSWORD)

    async def test_delete_user(self, auth: AsyncAuth) -> None:
        """A deleted user's session stops working and the address is free again."""
        user = await self.confirmed_user(auth)
        _, issued = await auth.login(EMAIL, PASSWORD)
        await auth.delete_user(user)
        assert await auth.authenticate(session_token=issued.token) is None
        await auth.create_user(EMAIL, PASSWORD)

    async def test_rl05_registration_rate_limited_per_address(
        self, store: Any, settings: Settings, mailer: Any, clock: FrozenClock
    ) -> None:
        """Registrations from one client address are limited; another address is unaffected."""
        limited = _limited_auth(
            store, settings, mailer, clock, register=RateLimit(2, timedelta(hours=1))
        )
        for i in range(2):
            await limited.register(f"user{i}@example.com", PASSWORD, ip="198.51.100.7")
        with pytest.raises(RateLimited) as info:
            await limited.register("user9@example.com", PASSWORD, ip="198.51.100.7")
        assert info.value.retry_after > 0
        await limited.register("user9@example.com", PASSWORD, ip="198.51.100.8")

    async def test_rl05_mails_per_address_limited_silently(
        self, auth: AsyncAuth, read_mail: Any, settings: Settings
    ) -> None:
        """Forgot-password keeps answering the same, but one address gets at most N mails an hour."""
        user = await self.confirmed_user(auth)
        limit = settings.rate_limits["mail_per_address"].limit
        for _ in range(limit + 3):
            assert await auth.forgot_password(EMAIL) is None
        assert limit == len([k for k, _ in read_mail(user.email) if k == "reset"])

    async def test_rl05_token_checks_rate_limited(
        self, store: Any, settings: Settings, mailer: Any, clock: FrozenClock
    ) -> None:
        """Guessing tokens from one address is limited like other auth actions."""
        limited = _limited_auth(
            store, settings, mailer, clock, token=RateLimit(3, timedelta(minutes=5))
        )
        for _ in range(3):
            with pytest.raises(InvalidToken):
                await limited.check_reset_token("not-a-token", ip="198.51.100.7")
        with pytest.raises(RateLimited):
            await limited.confirm_email("not-a-token", ip="198.51.100.7")


def _limited_auth(
    store: Any, settings: Settings, mailer: Any, clock: FrozenClock, **limits: RateLimit
) -> AsyncAuth:
    """An auth whose given rate limits replace the defaults."""
    tight = attrs.evolve(settings, rate_limits={**settings.rate_limits, **limits})
    hasher = AsyncArgon2Hasher.from_settings(settings)
    return AsyncAuth(tight, store, mailer=mailer, clock=clock, hasher=hasher)


def _links(text: str) -> list[str]:
    return [
        word.rstrip(".,)>") for word in text.split() if word.startswith(("https://", "http://"))
    ]


def read_links_as_mail(
    read_links: Callable[[str], list[tuple[str, list[str]]]],
) -> Callable[[str], list[tuple[str, str]]]:
    """``read_mail`` made from ``read_links``: each mail's first link."""

    def read(to: str) -> list[tuple[str, str]]:
        return [(kind, links[0] if links else "") for kind, links in read_links(to)]

    return read


def _first_link(text: str) -> str:
    for word in text.split():
        if word.startswith(("https://", "http://")):
            return word.rstrip(".,)>")
    return ""
