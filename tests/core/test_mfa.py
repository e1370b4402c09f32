"""The MFA flows on both faces over the memory stores: TOTP, recovery codes, the second
login step and trusted browsers (SECURITY rows MF-01..MF-06, MF-08, MF-09)."""

from __future__ import annotations

import sys
from datetime import timedelta

import pyotp
import pytest

from doorward import (
    Argon2Params,
    AsyncAuth,
    AsyncMemoryStore,
    Auth,
    FrozenClock,
    MemoryStore,
    Role,
    Settings,
)
from doorward._async.mailers import AsyncOutbox
from doorward._async.mfa import AsyncMfa
from doorward._async.views import AsyncViews
from doorward._mfa_crypto import TotpCodes
from doorward._smtp import SmtpConfig
from doorward._sync.mailers import Outbox, SmtpMailer
from doorward._sync.mfa import Mfa
from doorward.exceptions import (
    ConfigurationError,
    InvalidCredentials,
    MfaRequired,
    ReauthRequired,
    ValidationFailed,
)
from doorward.http import HttpRequest
from doorward.testing._async._concurrency import run_concurrently as run_tasks
from doorward.testing._sync._concurrency import run_concurrently as run_threads
from doorward.testing.smtp import SmtpServer

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
KEY = "k" * 40


def settings(**overrides):
    values = {
        "secret_keys": KEY,
        "base_url": "https://x.example",
        "argon2": Argon2Params.insecure_for_tests(),
        "site_name": "Example",
    }
    return Settings(**(values | overrides))


class Site:
    """An async site on the memory store with a frozen clock and an outbox."""

    def __init__(self, **overrides):
        self.clock = FrozenClock()
        self.outbox = AsyncOutbox()
        self.store = AsyncMemoryStore()
        self.auth = AsyncAuth(
            settings(**overrides), self.store, mailer=self.outbox, clock=self.clock
        )
        self.mfa = self.auth.feature(AsyncMfa)

    async def user(self):
        return await self.auth.create_user(EMAIL, PASSWORD, confirmed=True)

    async def identity(self):
        """A fresh session of the (not yet enrolled) user."""
        _, issued = await self.auth.login(EMAIL, PASSWORD)
        return await self.auth.authenticate(session_token=issued.token)

    async def enrol(self):
        """Enrol TOTP for a new user; the base32 secret and the recovery codes."""
        await self.user()
        identity = await self.identity()
        secret, _, _ = await self.mfa.start_totp(identity)
        codes = await self.mfa.confirm_totp(identity, pyotp.TOTP(secret).at(self.clock.now()))
        self.clock.advance(30)  # the enrolment code's step is spent (MF-02)
        return secret, codes

    async def pending(self, **kwargs):
        """The password step of an enrolled user: the pending login's token."""
        with pytest.raises(MfaRequired) as required:
            await self.auth.login(EMAIL, PASSWORD, **kwargs)
        return required.value.token

    def code(self, secret):
        return pyotp.TOTP(secret).at(self.clock.now())


@pytest.fixture
def site():
    return Site()


# -- enrolment --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_mf01_enrolment_takes_effect_only_after_one_valid_code(site):
    """A started but unconfirmed TOTP enrolment asks nothing at login and shows disabled."""
    await site.user()
    identity = await site.identity()
    secret, uri, svg = await site.mfa.start_totp(identity)
    assert len(secret) * 5 >= 160
    assert uri.startswith("otpauth://totp/Example:")
    assert "issuer=Example" in uri
    assert svg.startswith("<svg")
    assert "<path" in svg
    user, _ = await site.auth.login(EMAIL, PASSWORD)
    assert (await site.mfa.status(user))["enabled"] is False
    wrong = "000000" if site.code(secret) != "000000" else "111111"
    with pytest.raises(ValidationFailed):
        await site.mfa.confirm_totp(identity, wrong)
    assert (await site.mfa.status(user))["enabled"] is False


@pytest.mark.asyncio
async def test_mf01_secret_is_encrypted_at_rest_and_never_shown_again(site):
    """The stored field is not the base32 secret; the status has no secret; old keys decrypt."""
    secret, _ = await site.enrol()
    user = await site.auth.get_user_by_email(EMAIL)
    (stored,) = await site.store.list_authenticators(str(user.id), "totp")
    assert secret not in stored.secret
    assert secret.lower() not in stored.secret.lower()
    assert secret not in repr(await site.mfa.status(user))
    rotated = TotpCodes([KEY, "n" * 40])
    assert secret == rotated.decrypt(stored.secret)
    assert TotpCodes(["n" * 40]).decrypt(stored.secret) is None


@pytest.mark.asyncio
async def test_mf04_recovery_codes_are_many_long_and_stored_hashed(site):
    """Ten codes of 60 bits, shown once; the store keeps none of them in clear."""
    _, codes = await site.enrol()
    user = await site.auth.get_user_by_email(EMAIL)
    assert len(codes) >= 10
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code.replace("-", "")) * 5 >= 50
    stored = await site.store.list_authenticators(str(user.id), "recovery")
    assert len(codes) == len(stored)
    kept = " ".join(a.secret for a in stored)
    for code in codes:
        assert code not in kept
        assert code.replace("-", "") not in kept
    assert (await site.mfa.status(user))["recovery_codes_left"] == len(codes)


@pytest.mark.asyncio
async def test_mf06_factor_changes_need_a_fresh_session(site):
    """Starting, removing and regenerating refuse a session older than fresh_window."""
    secret, _ = await site.enrol()
    _, issued, _ = await site.mfa.verify_login(await site.pending(), site.code(secret))
    site.clock.advance(site.auth.settings.fresh_window + timedelta(seconds=1))
    stale = await site.auth.authenticate(session_token=issued.token)
    assert stale is not None
    assert not stale.fresh
    for change in (site.mfa.start_totp, site.mfa.disable_totp, site.mfa.regenerate_recovery_codes):
        with pytest.raises(ReauthRequired):
            await change(stale)
    assert (await site.mfa.status(stale.user))["enabled"] is True


@pytest.mark.asyncio
async def test_mf06_every_factor_change_mails_a_notice(site):
    """Enrolling, regenerating codes and removing the app each mail the owner."""
    secret, _ = await site.enrol()
    token = await site.pending()
    _, issued, _ = await site.mfa.verify_login(token, site.code(secret))
    identity = await site.auth.authenticate(session_token=issued.token)
    await site.mfa.regenerate_recovery_codes(identity)
    await site.mfa.disable_totp(identity)
    kinds = [m.kind for m in site.outbox.messages if m.to == EMAIL]
    assert kinds.count("mfa_changed") == 3
    texts = [m.text for m in site.outbox.messages if m.kind == "mfa_changed"]
    assert "added" in texts[0]
    assert "recovery codes" in texts[1]
    assert "removed" in texts[2]


@pytest.mark.asyncio
async def test_mf06_removing_the_last_factor_while_required_is_refused():
    """With require_mfa the only factor cannot be removed (400)."""
    site = Site(require_mfa=True, password_min_length=8)
    secret, _ = await site.enrol()
    token = await site.pending()
    _, issued, _ = await site.mfa.verify_login(token, site.code(secret))
    identity = await site.auth.authenticate(session_token=issued.token)
    with pytest.raises(ValidationFailed) as refused:
        await site.mfa.disable_totp(identity)
    assert refused.value.status == 400
    assert (await site.mfa.status(identity.user))["enabled"] is True


@pytest.mark.asyncio
async def test_regenerating_recovery_codes_kills_the_old_set(site):
    """After regeneration an old code is refused and a new one works (MF-04)."""
    secret, old = await site.enrol()
    token = await site.pending()
    _, issued, _ = await site.mfa.verify_login(token, site.code(secret))
    identity = await site.auth.authenticate(session_token=issued.token)
    new = await site.mfa.regenerate_recovery_codes(identity)
    with pytest.raises(InvalidCredentials):
        await site.mfa.verify_login(await site.pending(), old[0])
    site.clock.advance(60)  # past the delay the failure started
    await site.mfa.verify_login(await site.pending(), new[0])


# -- the second step ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_mf05_login_of_an_enrolled_user_stops_at_a_pending_step(site):
    """The right password gives MfaRequired and no session; the pending token is no session."""
    await site.enrol()
    user = await site.auth.get_user_by_email(EMAIL)
    sessions_before = await site.store.list_credentials(str(user.id), "session")
    with pytest.raises(MfaRequired) as required:
        await site.auth.login(EMAIL, PASSWORD)
    assert required.value.methods == ("totp", "recovery")
    assert required.value.max_age <= 300
    assert sessions_before == await site.store.list_credentials(str(user.id), "session")
    assert await site.auth.authenticate(session_token=required.value.token) is None
    assert await site.auth.authenticate(remember_token=required.value.token) is None


@pytest.mark.asyncio
async def test_mf05_a_totp_code_completes_the_login_with_remember_me(site):
    """A current code turns the pending login into a session (and the asked remember-me)."""
    secret, _ = await site.enrol()
    token = await site.pending(remember=True)
    user, issued, trust = await site.mfa.verify_login(token, site.code(secret))
    assert trust is None
    assert issued.remember_token is not None
    identity = await site.auth.authenticate(session_token=issued.token)
    assert identity is not None
    assert identity.user_id == str(user.id)
    assert identity.fresh
    assert user.login_count == 2  # the enrolment session's login, then this one


@pytest.mark.asyncio
async def test_mf05_the_pending_login_dies_on_success(site):
    """A pending token used once cannot complete a second login, even with a new code."""
    secret, _ = await site.enrol()
    token = await site.pending()
    await site.mfa.verify_login(token, site.code(secret))
    site.clock.advance(30)
    with pytest.raises(InvalidCredentials):
        await site.mfa.verify_login(token, site.code(secret))


@pytest.mark.asyncio
async def test_mf05_the_pending_login_expires_within_five_minutes(site):
    """Five minutes after the password step a right code is refused."""
    secret, _ = await site.enrol()
    token = await site.pending()
    site.clock.advance(timedelta(minutes=5))
    with pytest.raises(InvalidCredentials):
        await site.mfa.verify_login(token, site.code(secret))


@pytest.mark.asyncio
async def test_mf02_a_code_is_accepted_once(site):
    """A replay of the code that just signed in is refused in the same time step."""
    secret, _ = await site.enrol()
    code = site.code(secret)
    await site.mfa.verify_login(await site.pending(), code)
    with pytest.raises(InvalidCredentials):
        await site.mfa.verify_login(await site.pending(), code)


@pytest.mark.asyncio
async def test_mf02_parallel_submissions_of_one_code_give_one_session(site):
    """Eight browsers racing one code (tasks released together) → exactly one session."""
    secret, _ = await site.enrol()
    tokens = [await site.pending() for _ in range(8)]
    code = site.code(secret)

    async def submit(i):
        return await site.mfa.verify_login(tokens[i], code)

    results = await run_tasks(submit, 8)
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, InvalidCredentials) for r in results if r not in wins)
    user = await site.auth.get_user_by_email(EMAIL)
    # the session enrolment ran in, and the one winner's
    assert len(await site.store.list_credentials(str(user.id), "session")) == 2


@pytest.mark.asyncio
async def test_mf04_parallel_uses_of_one_recovery_code_give_one_session(site):
    """One recovery code raced by eight pending logins signs in exactly once."""
    _, codes = await site.enrol()
    tokens = [await site.pending() for _ in range(8)]

    async def submit(i):
        return await site.mfa.verify_login(tokens[i], codes[0].upper())

    results = await run_tasks(submit, 8)
    assert len([r for r in results if not isinstance(r, BaseException)]) == 1
    user = await site.auth.get_user_by_email(EMAIL)
    assert len(codes) - 1 == (await site.mfa.status(user))["recovery_codes_left"]


@pytest.mark.asyncio
async def test_mf03_wrong_codes_lock_the_second_factor_neutrally(site):
    """Failures count on the lockout counter: after 10 the right code is refused too, and a
    wrong code, a locked account and an expired pending login raise the same error."""
    secret, _ = await site.enrol()
    refusals = []
    for _ in range(site.auth.settings.lockout_threshold):
        site.clock.advance(61)  # past each growing delay, never past the lock
        token = await site.pending()  # the delays outlast one pending login: start again
        with pytest.raises(InvalidCredentials) as refused:
            await site.mfa.verify_login(token, "not-a-code")
        refusals.append(refused.value)
    with pytest.raises(InvalidCredentials):
        await site.auth.login(EMAIL, PASSWORD)  # the password step is locked as well
    with pytest.raises(InvalidCredentials) as locked:
        await site.mfa.verify_login(token, site.code(secret))
    site.clock.advance(timedelta(minutes=5))
    with pytest.raises(InvalidCredentials) as expired:
        await site.mfa.verify_login(token, site.code(secret))
    shapes = {
        (type(e), e.to_dict()["error"]["message"]) for e in [*refusals, locked.value, expired.value]
    }
    assert len(shapes) == 1
    assert any(m.kind == "account_locked" for m in site.outbox.messages)


@pytest.mark.asyncio
async def test_mf08_a_password_reset_does_not_bypass_the_second_factor(site):
    """After a password reset, logging in with the new password still asks for the code."""
    await site.enrol()
    await site.auth.forgot_password(EMAIL)
    token = site.outbox.last_link(EMAIL, "reset").rsplit("/", 1)[1]
    await site.auth.reset_password(token, "a brand new passphrase here")
    with pytest.raises(MfaRequired):
        await site.auth.login(EMAIL, "a brand new passphrase here")


@pytest.mark.asyncio
async def test_mf05_users_without_factors_log_in_as_before(site):
    """No enrolment, no second step: login returns the user and a session directly."""
    await site.user()
    user, issued = await site.auth.login(EMAIL, PASSWORD)
    assert await site.auth.authenticate(session_token=issued.token) is not None
    assert await site.auth.feature(AsyncMfa).second_factor(user) == []


# -- trusted browsers (MF-09) -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_mf09_a_trusted_browser_skips_the_second_factor_for_30_days_at_most(site):
    """trust_device gives a token that spares the code until it expires."""
    secret, _ = await site.enrol()
    _, _, trust = await site.mfa.verify_login(
        await site.pending(), site.code(secret), trust_device=True
    )
    assert trust is not None
    user, _ = await site.auth.login(EMAIL, PASSWORD, trust_token=trust)
    (listed,) = (await site.mfa.status(user))["trusted_browsers"]
    assert listed["expires_at"] is not None
    site.clock.advance(timedelta(days=30))
    with pytest.raises(MfaRequired):
        await site.auth.login(EMAIL, PASSWORD, trust_token=trust)


@pytest.mark.asyncio
async def test_mf09_trust_is_stored_hashed_and_bound_to_its_user(site):
    """The trust token is not stored; another user's login is not spared by it."""
    secret, _ = await site.enrol()
    _, _, trust = await site.mfa.verify_login(
        await site.pending(), site.code(secret), trust_device=True
    )
    user = await site.auth.get_user_by_email(EMAIL)
    (stored,) = await site.store.list_credentials(str(user.id), "trust")
    assert trust not in repr(stored)
    other = await site.auth.create_user("bob@example.com", PASSWORD, confirmed=True)
    assert await site.mfa.second_factor(other, trust_token=trust) == []  # bob has no factor
    assert await site.mfa.second_factor(user, trust_token="garbage") == ["totp", "recovery"]


@pytest.mark.parametrize(
    "ending", ["logout_everywhere", "password_change", "factor_removal", "revoke"]
)
@pytest.mark.asyncio
async def test_mf09_trust_ends(site, ending):
    """Logout-everywhere, a password change, removing the factor or revoking end the trust."""
    secret, _ = await site.enrol()
    _, issued, trust = await site.mfa.verify_login(
        await site.pending(), site.code(secret), trust_device=True
    )
    identity = await site.auth.authenticate(session_token=issued.token)
    user = identity.user
    if ending == "logout_everywhere":
        await site.auth.logout_everywhere(user)
    elif ending == "password_change":
        await site.auth.change_password(identity, PASSWORD, "another long passphrase")
    elif ending == "factor_removal":
        await site.mfa.disable_totp(identity)
        new_secret, _, _ = await site.mfa.start_totp(identity)  # enrolled again: asks again
        await site.mfa.confirm_totp(identity, pyotp.TOTP(new_secret).at(site.clock.now()))
    else:
        (listed,) = (await site.mfa.status(user))["trusted_browsers"]
        await site.mfa.revoke_trust(user, listed["id"])
    password = "another long passphrase" if ending == "password_change" else PASSWORD
    with pytest.raises(MfaRequired):
        await site.auth.login(EMAIL, password, trust_token=trust)


@pytest.mark.asyncio
async def test_mf09_password_change_ends_trust_even_when_sessions_are_kept():
    """With end_sessions_on_change off, the other sessions survive but trust does not."""
    site = Site(end_sessions_on_change=False)
    secret, _ = await site.enrol()
    _, issued, trust = await site.mfa.verify_login(
        await site.pending(), site.code(secret), trust_device=True
    )
    identity = await site.auth.authenticate(session_token=issued.token)
    await site.auth.change_password(identity, PASSWORD, "another long passphrase")
    with pytest.raises(MfaRequired):
        await site.auth.login(EMAIL, "another long passphrase", trust_token=trust)


# -- required MFA (PW-01's require_mfa, and by role) ------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", ["everyone", "role"])
async def test_required_mfa_sends_users_without_a_factor_to_enrolment(policy):
    """A required user without a factor gets a session that guards refuse (403 JSON, 303 to
    /mfa for browsers) until they enrol; then the second step is asked as usual."""
    if policy == "everyone":
        site = Site(require_mfa=True, password_min_length=8)
    else:
        site = Site(require_mfa_roles={"admin"})
    views = AsyncViews(site.auth)
    await site.auth.save_role(Role(name="admin"))
    await site.auth.create_user(EMAIL, PASSWORD, confirmed=True, roles=["admin"])
    other = await site.auth.create_user("bob@example.com", PASSWORD, confirmed=True)
    user, issued = await site.auth.login(EMAIL, PASSWORD)
    identity = await site.auth.authenticate(session_token=issued.token)
    assert await site.mfa.enrolment_required(user)
    api = HttpRequest(method="GET", path="/app", headers={"accept": "application/json"})
    refused = await views.guard(api, identity)
    assert refused is not None
    assert refused.status == 403
    assert refused.json["error"]["code"] == "mfa_enrolment_required"
    page = await views.guard(HttpRequest(method="GET", path="/app"), identity)
    assert page is not None
    assert page.status == 303
    assert page.redirect.startswith("/auth/mfa?notice=mfa_enrolment_required")
    bob = await site.auth.authenticate(
        session_token=(await site.auth.login("bob@example.com", PASSWORD))[1].token
    )
    assert (await views.guard(api, bob) is None) == (policy == "role")
    assert other is not None
    secret, _, _ = await site.mfa.start_totp(identity)
    await site.mfa.confirm_totp(identity, pyotp.TOTP(secret).at(site.clock.now()))
    assert await views.guard(api, identity) is None
    with pytest.raises(ValidationFailed):
        await site.mfa.disable_totp(identity)  # the last factor of a required user
    with pytest.raises(MfaRequired):
        await site.auth.login(EMAIL, PASSWORD)


# -- composition --------------------------------------------------------------------------------


class UsersAndCredentialsOnly:
    """A store written before MFA: the memory store without the authenticators methods."""

    def __init__(self):
        self._store = AsyncMemoryStore()

    def __getattr__(self, name):
        if "authenticator" in name or name in {"use_recovery_code", "accept_totp_step"}:
            raise AttributeError(name)
        return getattr(self._store, name)


@pytest.mark.asyncio
async def test_mfa_is_left_out_on_a_store_without_authenticators():
    """Such a store still starts; mfa is off, its routes absent, login unchanged."""
    auth = AsyncAuth(settings(), UsersAndCredentialsOnly(), mailer=AsyncOutbox())
    assert not auth.enabled("mfa")
    assert not [r for r in auth.routes() if r.path.startswith("/mfa")]
    await auth.create_user(EMAIL, PASSWORD, confirmed=True)
    await auth.login(EMAIL, PASSWORD)


@pytest.mark.asyncio
async def test_totp_without_the_extra_names_it(site, monkeypatch):
    """Without doorward[mfa] installed, enrolment fails with an error naming the extra."""
    await site.user()
    identity = await site.identity()
    monkeypatch.setitem(sys.modules, "doorward._mfa_crypto", None)
    fresh = AsyncAuth(settings(), site.store, mailer=site.outbox, clock=site.clock)
    with pytest.raises(ConfigurationError, match=r"doorward\[mfa\]"):
        await fresh.feature(AsyncMfa).start_totp(identity)


def test_mfa_settings_are_bounded():
    """The pending login lives ≤ 5 min, trust ≤ 30 days, and a set has ≥ 10 codes."""
    for bad in (
        {"mfa_pending_max_age": timedelta(minutes=6)},
        {"mfa_trust_lifetime": timedelta(days=31)},
        {"mfa_recovery_codes": 9},
    ):
        with pytest.raises(ConfigurationError):
            settings(**bad)
    assert settings().totp_issuer == "Example"
    assert settings(mfa_issuer="Acme").totp_issuer == "Acme"


# -- the sync face ----------------------------------------------------------------------------


def test_sync_face_enrols_and_completes_a_login_raced_by_threads():
    """Auth on MemoryStore: enrolment, then eight threads racing one code → one session."""
    clock = FrozenClock()
    store = MemoryStore()
    auth = Auth(settings(), store, mailer=Outbox(), clock=clock)
    mfa = auth.feature(Mfa)
    auth.create_user(EMAIL, PASSWORD, confirmed=True)
    _, issued = auth.login(EMAIL, PASSWORD)
    identity = auth.authenticate(session_token=issued.token)
    secret, _, _ = mfa.start_totp(identity)
    codes = mfa.confirm_totp(identity, pyotp.TOTP(secret).at(clock.now()))
    assert len(codes) == 10
    clock.advance(30)
    tokens = []
    for _ in range(8):
        with pytest.raises(MfaRequired) as required:
            auth.login(EMAIL, PASSWORD)
        tokens.append(required.value.token)
    code = pyotp.TOTP(secret).at(clock.now())
    results = run_threads(lambda i: mfa.verify_login(tokens[i], code), 8)
    assert len([r for r in results if not isinstance(r, BaseException)]) == 1


def test_mf06_the_notice_reaches_a_real_smtp_server():
    """Enrolling mails the mfa_changed notice through smtplib to aiosmtpd on loopback."""
    with SmtpServer() as server:
        mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=server.port, sender="a@example.com"))
        clock = FrozenClock()
        auth = Auth(settings(), MemoryStore(), mailer=mailer, clock=clock)
        auth.create_user(EMAIL, PASSWORD, confirmed=True)
        _, issued = auth.login(EMAIL, PASSWORD)
        identity = auth.authenticate(session_token=issued.token)
        secret, _, _ = auth.feature(Mfa).start_totp(identity)
        auth.feature(Mfa).confirm_totp(identity, pyotp.TOTP(secret).at(clock.now()))
        with server.lock:
            kinds = [(m["To"], m["X-Doorward-Mail"]) for m in server.messages]
    assert (EMAIL, "mfa_changed") in kinds
