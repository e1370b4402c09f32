"""One validated settings object for the core and every adapter.

``Settings`` is checked when it is built: a missing or short secret, a bad public base
URL or an unsafe combination raises ``ConfigurationError`` at start-up (FT-05).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from doorward.exceptions import ConfigurationError
from doorward.fields import Field
from doorward.oauth import OAuthProvider

if TYPE_CHECKING:
    from doorward.http import HttpRequest

__all__ = ["Argon2Params", "RateLimit", "Settings"]

#: Secrets shorter than this many characters are refused.
MIN_SECRET_LENGTH = 32
#: NIST SP 800-63B rev 4 caps the consecutive-failure limit at 100.
MAX_LOCKOUT_THRESHOLD = 100
#: TK-10: remember-me lives at most this long.
MAX_REMEMBER_LIFETIME = timedelta(days=30)
#: MF-05: a login waiting for its second factor lives at most this long.
MAX_MFA_PENDING_AGE = timedelta(minutes=5)
#: MF-09: a browser is trusted to skip the second factor at most this long.
MAX_MFA_TRUST_LIFETIME = timedelta(days=30)
#: MF-04: at least this many recovery codes per set.
MIN_RECOVERY_CODES = 10
#: PL-01: an emailed sign-in code lives at most this long, and dies after this many misses.
MAX_SIGN_IN_CODE_AGE = timedelta(minutes=5)
MAX_SIGN_IN_CODE_ATTEMPTS = 3
#: PL-02: a sign-in link lives at most this long.
MAX_SIGN_IN_LINK_AGE = timedelta(minutes=15)
#: PL-03: an app client's access token lives at most this long.
MAX_ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
#: MF-07: a passkey ceremony's challenge lives at most this long.
MAX_PASSKEY_CHALLENGE_AGE = timedelta(minutes=5)
#: TK-02: emailed tokens expire within a day at most.
MAX_EMAIL_TOKEN_AGE = timedelta(hours=24)
#: The longest revocation delay a session snapshot may add (``session_snapshot_seconds``).
MAX_SNAPSHOT_SECONDS = 300
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@attrs.frozen(kw_only=True)
class Argon2Params:
    """Argon2id cost parameters. The defaults are argon2-cffi's (RFC 9106 low-memory)."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    @classmethod
    def owasp_minimum(cls) -> Argon2Params:
        """OWASP's and ASVS Appendix C's floor: m=19 MiB, t=2, p=1."""
        return cls(time_cost=2, memory_cost=19456, parallelism=1)

    @classmethod
    def insecure_for_tests(cls) -> Argon2Params:
        """Tiny costs so test suites run fast. Never use in production."""
        return cls(time_cost=1, memory_cost=64, parallelism=1)


@attrs.frozen
class RateLimit:
    """At most ``limit`` hits per ``window`` for one key."""

    limit: int
    window: timedelta


def _secret_keys(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_secrets(_: object, __: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not value:
        raise ConfigurationError("secret_keys is empty: set at least one secret key.")
    for key in value:
        if not isinstance(key, str) or len(key) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"Every secret key must be a string of at least {MIN_SECRET_LENGTH} "
                "characters (try: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )


def _check_base_url(_: object, __: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            "base_url must be the absolute public URL of the site, e.g. https://example.com"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("base_url must not have a query, fragment or credentials.")


def _is_local(host: str) -> bool:
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen(kw_only=True)
class Settings:
    """Everything doorward needs to know about the site; validated at construction.

    Only ``secret_keys`` and ``base_url`` are required. ``secret_keys`` lists keys oldest
    first: the newest signs, all verify (rotate by appending, later drop the oldest).
    """

    secret_keys: tuple[str, ...] = attrs.field(converter=_secret_keys, validator=_check_secrets)
    #: Canonical public URL; emailed links are built from it only (CR-06).
    base_url: str = attrs.field(validator=_check_base_url)
    #: Where the adapters mount the routes; emailed links point below it.
    url_prefix: str = "/auth"
    #: Where browsers go after login / logout when no safe ``next`` is given.
    login_redirect: str = "/"
    logout_redirect: str = "/"
    #: Hosts an absolute ``next`` URL may point to (CR-04); relative paths are always fine.
    allowed_redirect_hosts: tuple[str, ...] = ()
    #: Shown in mails and pages; defaults to the host of ``base_url``.
    site_name: str = ""
    #: The app's own page layout (a template on its template path) that doorward's pages
    #: wear: blocks ``title``, ``content``, ``scripts``, and ``doorward/_messages.html``
    #: included where notices go. ``None``: doorward's own (``doorward/layout.html``).
    page_layout: str | None = None
    #: Request bodies larger than this are refused with 413.
    max_body_size: int = 65536
    #: Features switched off by name (``registration``, ``passwords``, ``email_change``,
    #: ``api_tokens``, ``sessions``, ``roles``, or an added feature's): their routes are 404
    #: and the store needs none of their capabilities.
    disabled_features: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    #: The application's own user fields collected at sign-up (``doorward.fields.Field``);
    #: the editable ones change through ``PATCH /me``.
    signup_fields: tuple[Field, ...] = attrs.field(default=(), converter=tuple)
    #: The user model's username attribute, if it has one: registration then asks for a
    #: username and login accepts it in place of the email (case-insensitive, stored
    #: normalised by ``doorward.policies.normalize_username``, unique in the store).
    username_field: str | None = None
    #: The app's choice of language for a request (see ``docs/configuration.md``, Languages):
    #: called with the ``HttpRequest``, it returns a locale (``"de"``, ``"pt-BR"``, a
    #: ``babel.Locale``) or ``None`` to let ``Accept-Language`` decide. An unshipped
    #: locale is passed over the same way.
    locale_selector: Callable[[HttpRequest], object] | None = attrs.field(default=None, eq=False)

    # passwords (PW-01..PW-04, PW-08)
    password_min_length: int = 15
    password_max_length: int = 256
    require_mfa: bool = False
    password_blocklist: bool = True
    argon2: Argon2Params = Argon2Params()
    #: Stored hashes whose parameters exceed these are refused before verifying (PW-08).
    argon2_max_memory_cost: int = 262144
    argon2_max_time_cost: int = 10
    argon2_max_parallelism: int = 16
    #: At most this many hashes run at once in this process (64 MiB each by default);
    #: half the CPUs, since each hash runs ``parallelism`` lanes (on 2 cores: 1) ...
    max_concurrent_hashes: int = attrs.field(factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    #: ... and at most this many wait; more are refused with ``Overloaded`` (CC-06).
    max_waiting_hashes: int = 32

    # emails and tokens
    email_max_length: int = 254
    confirm_required: bool = True
    confirm_max_age: timedelta = timedelta(hours=24)
    reset_max_age: timedelta = timedelta(hours=1)
    change_email_max_age: timedelta = timedelta(hours=24)
    #: How long the unlock link of a lock notice works (RL-07); single use in any case.
    unlock_max_age: timedelta = timedelta(hours=24)

    # login, lockout (RL-01, RL-02)
    neutral_login_errors: bool = True
    lockout_threshold: int = 10
    lockout_duration: timedelta = timedelta(minutes=30)
    #: From this many consecutive failures on, each further attempt must wait ...
    delay_after: int = 3
    #: ... this long, doubling per failure, up to ``delay_max``.
    delay_base: timedelta = timedelta(seconds=1)
    delay_max: timedelta = timedelta(seconds=60)

    # sessions (SS-03, SS-07, TK-10)
    session_idle_timeout: timedelta = timedelta(hours=1)
    session_max_age: timedelta = timedelta(hours=24)
    #: A session's last-use time is written at most this often.
    session_touch_interval: timedelta = timedelta(seconds=60)
    fresh_window: timedelta = timedelta(minutes=10)
    remember_lifetime: timedelta = timedelta(days=30)
    api_token_max_age: timedelta | None = timedelta(days=90)
    #: SS-05: a password or email change ends the user's other sessions and tokens.
    end_sessions_on_change: bool = True
    #: Off (0) by default. Up to this many seconds (at most 300), a signed snapshot cookie
    #: of the session's identity (user id, roles, permissions) lets identification skip the
    #: store. Logout on the device is immediate; logout everywhere, a password or role
    #: change, disabling the user take effect within this delay (docs/security.md).
    #: Never for bearer tokens.
    session_snapshot_seconds: int = 0

    # second factors (MF-01..MF-09)
    #: Users with any of these roles must have a second factor (``require_mfa``: everyone).
    #: Until they enrol, the password step gives a session that only reaches the account
    #: pages: guarded routes answer 403 ``mfa_enrolment_required`` (browsers go to /mfa).
    require_mfa_roles: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    #: The issuer name authenticator apps show; defaults to ``display_name``.
    mfa_issuer: str = ""
    #: How long the step between the right password and the second factor may take.
    mfa_pending_max_age: timedelta = MAX_MFA_PENDING_AGE
    #: How long "trust this browser" skips the second factor (0 turns the offer off).
    mfa_trust_lifetime: timedelta = MAX_MFA_TRUST_LIFETIME
    #: Recovery codes per set; each has 60 random bits.
    mfa_recovery_codes: int = MIN_RECOVERY_CODES

    # sign in without a password (PL-01, PL-02): off unless set
    #: ``/login/code`` mails a one-time code and a sign-in link.
    sign_in_by_email: bool = False
    sign_in_code_max_age: timedelta = MAX_SIGN_IN_CODE_AGE
    #: Wrong tries that kill a code (its link too).
    sign_in_code_attempts: int = MAX_SIGN_IN_CODE_ATTEMPTS
    sign_in_link_max_age: timedelta = MAX_SIGN_IN_LINK_AGE
    #: Registration takes an email only; the account signs in by code, link, passkey or
    #: provider and may set a password later. Needs another way in (``sign_in_by_email``).
    passwordless_accounts: bool = False

    # app clients: access tokens and rotating refresh tokens (PL-03): off unless set
    #: ``/token`` and ``/token/revoke`` for mobile apps and SPAs.
    app_clients: bool = False
    access_token_lifetime: timedelta = MAX_ACCESS_TOKEN_LIFETIME
    #: A refresh-token family's absolute life (a new sign-in starts a new one).
    refresh_token_lifetime: timedelta = timedelta(days=30)

    # cookies (SS-01)
    session_cookie: str = "__Host-doorward"
    remember_cookie: str = "__Host-doorward-remember"
    #: The session snapshot (``session_snapshot_seconds``), when it is on.
    snapshot_cookie: str = "__Host-doorward-snapshot"
    csrf_cookie: str = "__Host-doorward-csrf"
    #: The pending login between the password and the second factor (MF-05).
    mfa_cookie: str = "__Host-doorward-mfa"
    #: "Trust this browser" (MF-09).
    trust_cookie: str = "__Host-doorward-trust"
    #: Development only: plain-http cookies (no ``Secure``, no ``__Host-``) on localhost.
    insecure_development: bool = False

    # rate limits per client address, and mails per address and kind (RL-05)
    rate_limits: dict[str, RateLimit] = attrs.field(
        factory=lambda: {
            "login": RateLimit(30, timedelta(minutes=5)),
            "register": RateLimit(10, timedelta(hours=1)),
            "send_confirmation": RateLimit(5, timedelta(hours=1)),
            "forgot_password": RateLimit(5, timedelta(hours=1)),
            "token": RateLimit(30, timedelta(minutes=5)),
            "login_mfa": RateLimit(30, timedelta(minutes=5)),
            "login_code": RateLimit(10, timedelta(minutes=15)),
            "login_code_verify": RateLimit(30, timedelta(minutes=5)),
            "app_token": RateLimit(60, timedelta(minutes=5)),
            "mail_per_address": RateLimit(5, timedelta(hours=1)),
        }
    )
    #: Who may frame doorward's answers: the CSP ``frame-ancestors`` sources (HD-02).
    #: ``"'none'"`` also sends ``X-Frame-Options: DENY``, ``"'self'"`` ``SAMEORIGIN``;
    #: any other list (``"'self' https://app.example.com"``) sends the CSP header only.
    frame_ancestors: str = "'none'"
    #: Check the CSRF token (CR-01) on every unsafe request to the app's own routes too,
    #: not only under ``url_prefix``; off by default, as existing forms and scripts must
    #: first send the token. Views marked ``csrf_exempt`` are left alone.
    csrf_protect_app: bool = False
    #: How many proxies in front of the app append to X-Forwarded-For (RL-06). 0 = ignore it.
    trusted_proxy_count: int = 0

    # sign in with OAuth 2.0 / OpenID Connect (OA-01..OA-04); none = the feature is off
    oauth_providers: tuple[OAuthProvider, ...] = attrs.field(default=(), converter=tuple)
    #: How long the browser may take at the provider (the signed state cookie's life).
    oauth_state_max_age: timedelta = timedelta(minutes=10)
    oauth_cookie: str = "__Host-doorward-oauth"

    # passkeys (MF-07): WebAuthn as a second factor and as a sign-in without a password
    #: The WebAuthn relying party ID: the host of ``base_url`` by default; may be a
    #: registrable suffix of it (``example.com`` for ``https://auth.example.com``).
    passkey_rp_id: str = ""
    #: The name authenticators show; ``display_name`` by default.
    passkey_rp_name: str = ""
    #: The origins whose ceremonies are accepted; the origin of ``base_url`` by default.
    passkey_origins: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: How long a ceremony's challenge lives (its signed cookie); at most 5 minutes.
    passkey_challenge_max_age: timedelta = MAX_PASSKEY_CHALLENGE_AGE
    #: The cookie that binds a challenge to the browser that asked for it.
    passkey_cookie: str = "__Host-doorward-passkey"

    def __attrs_post_init__(self) -> None:
        self._check_policies()
        self._check_mfa()
        self._check_sign_in()
        self._check_site()
        self._check_fields()
        self._check_oauth()
        self._check_passkeys()

    def _check_passkeys(self) -> None:
        if not timedelta(0) < self.passkey_challenge_max_age <= MAX_PASSKEY_CHALLENGE_AGE:
            raise ConfigurationError(
                "passkey_challenge_max_age must be positive and at most 5 minutes."
            )
        rp_id = self.rp_id
        host = (urlsplit(self.base_url).hostname or "").lower()
        if host != rp_id and not host.endswith("." + rp_id):
            raise ConfigurationError(
                f"passkey_rp_id {rp_id!r} must be the host of base_url or a suffix of it."
            )
        for origin in self.rp_origins:
            parts = urlsplit(origin)
            name = (parts.hostname or "").lower()
            if (
                parts.scheme not in {"http", "https"}
                or not name
                or parts.path
                or parts.query
                or (name != rp_id and not name.endswith("." + rp_id))
            ):
                raise ConfigurationError(
                    f"passkey_origins: {origin!r} must be an origin (scheme://host[:port]) "
                    f"on {rp_id!r} or below it."
                )

    @property
    def rp_id(self) -> str:
        """``passkey_rp_id``, or the host of ``base_url``."""
        return (self.passkey_rp_id or urlsplit(self.base_url).hostname or "").lower()

    @property
    def rp_name(self) -> str:
        """``passkey_rp_name``, or ``display_name``."""
        return self.passkey_rp_name or self.display_name

    @property
    def rp_origins(self) -> tuple[str, ...]:
        """``passkey_origins``, or the origin of ``base_url``."""
        if self.passkey_origins:
            return self.passkey_origins
        parts = urlsplit(self.base_url)
        return (f"{parts.scheme}://{parts.netloc}",)

    def _check_oauth(self) -> None:
        names = [provider.name for provider in self.oauth_providers]
        if len(set(names)) != len(names):
            raise ConfigurationError("oauth_providers: each provider needs a unique name.")
        if not timedelta(0) < self.oauth_state_max_age <= timedelta(hours=1):
            raise ConfigurationError("oauth_state_max_age must be positive and at most 1 hour.")
        for provider in self.oauth_providers:
            issuer = provider.issuer or ""
            if issuer.startswith("http://") and not (
                self.insecure_development and _is_local(urlsplit(issuer).hostname or "")
            ):
                raise ConfigurationError(
                    f"OAuth provider {provider.name!r}: a plain-http issuer is allowed only on "
                    "loopback with insecure_development (a local test provider); use https"
                )

    def _check_policies(self) -> None:
        floor = 8 if self.require_mfa else 15
        if self.password_min_length < floor:
            raise ConfigurationError(
                f"password_min_length must be at least {floor}"
                + ("" if self.require_mfa else " (8 is allowed only with require_mfa)")
            )
        if self.password_max_length < max(64, self.password_min_length):
            raise ConfigurationError("password_max_length must be at least 64.")
        if not 1 <= self.lockout_threshold <= MAX_LOCKOUT_THRESHOLD:
            raise ConfigurationError(f"lockout_threshold must be 1..{MAX_LOCKOUT_THRESHOLD}.")
        if not timedelta(0) < self.remember_lifetime <= MAX_REMEMBER_LIFETIME:
            raise ConfigurationError("remember_lifetime must be positive and at most 30 days.")
        for name in ("confirm_max_age", "reset_max_age", "change_email_max_age", "unlock_max_age"):
            age = getattr(self, name)
            if not timedelta(0) < age <= MAX_EMAIL_TOKEN_AGE:
                raise ConfigurationError(f"{name} must be positive and at most 24 hours.")
        if self.session_idle_timeout > self.session_max_age:
            raise ConfigurationError("session_idle_timeout cannot exceed session_max_age.")
        if not 0 <= self.session_snapshot_seconds <= MAX_SNAPSHOT_SECONDS:
            raise ConfigurationError(
                f"session_snapshot_seconds must be 0 (off) to {MAX_SNAPSHOT_SECONDS}."
            )
        if self.max_concurrent_hashes < 1 or self.max_waiting_hashes < 0:
            raise ConfigurationError("max_concurrent_hashes must be >= 1, max_waiting >= 0.")

    def _check_fields(self) -> None:
        names = [field.name for field in self.signup_fields]
        if any(not isinstance(field, Field) for field in self.signup_fields):
            raise ConfigurationError("signup_fields are doorward.fields.Field records.")
        if len(set(names)) != len(names):
            raise ConfigurationError("signup_fields names must be unique.")
        username = self.username_field
        if username is not None and (not username.isidentifier() or username in names):
            raise ConfigurationError("username_field names an attribute of the user model.")

    def _check_sign_in(self) -> None:
        if not timedelta(0) < self.sign_in_code_max_age <= MAX_SIGN_IN_CODE_AGE:
            raise ConfigurationError("sign_in_code_max_age must be positive and at most 5 minutes.")
        if not 1 <= self.sign_in_code_attempts <= MAX_SIGN_IN_CODE_ATTEMPTS:
            raise ConfigurationError("sign_in_code_attempts must be 1 to 3.")
        if not timedelta(0) < self.sign_in_link_max_age <= MAX_SIGN_IN_LINK_AGE:
            raise ConfigurationError(
                "sign_in_link_max_age must be positive and at most 15 minutes."
            )
        if not timedelta(0) < self.access_token_lifetime <= MAX_ACCESS_TOKEN_LIFETIME:
            raise ConfigurationError("access_token_lifetime must be positive, at most 15 minutes.")
        if self.refresh_token_lifetime <= self.access_token_lifetime:
            raise ConfigurationError("refresh_token_lifetime must exceed access_token_lifetime.")
        if self.passwordless_accounts and not (self.sign_in_by_email or self.oauth_providers):
            raise ConfigurationError(
                "passwordless_accounts needs another way in: sign_in_by_email or oauth_providers."
            )

    def _check_mfa(self) -> None:
        if not timedelta(0) < self.mfa_pending_max_age <= MAX_MFA_PENDING_AGE:
            raise ConfigurationError("mfa_pending_max_age must be positive and at most 5 minutes.")
        if not timedelta(0) <= self.mfa_trust_lifetime <= MAX_MFA_TRUST_LIFETIME:
            raise ConfigurationError("mfa_trust_lifetime must be 0 to 30 days.")
        if self.mfa_recovery_codes < MIN_RECOVERY_CODES:
            raise ConfigurationError(f"mfa_recovery_codes must be at least {MIN_RECOVERY_CODES}.")

    def _check_site(self) -> None:
        if not self.url_prefix.startswith("/") or self.url_prefix.endswith("/"):
            raise ConfigurationError("url_prefix must start with '/' and not end with one.")
        host = urlsplit(self.base_url).hostname or ""
        if self.insecure_development and not _is_local(host):
            raise ConfigurationError(
                "insecure_development is only allowed when base_url is on localhost."
            )
        if not self.insecure_development and urlsplit(self.base_url).scheme != "https":
            raise ConfigurationError(
                "base_url must be https (set insecure_development=True for http://localhost)."
            )

    @property
    def display_name(self) -> str:
        """``site_name``, or the host of ``base_url``."""
        return self.site_name or (urlsplit(self.base_url).hostname or "")

    @property
    def local_site(self) -> bool:
        """Whether ``base_url`` is on this machine (localhost, a loopback address)."""
        return _is_local(urlsplit(self.base_url).hostname or "")

    @property
    def totp_issuer(self) -> str:
        """``mfa_issuer``, or ``display_name``."""
        return self.mfa_issuer or self.display_name

    @property
    def cookie_secure(self) -> bool:
        """Whether cookies carry ``Secure`` (and the ``__Host-`` prefix)."""
        return not self.insecure_development

    def cookie_name(self, name: str) -> str:
        """The cookie's real name: the ``__Host-`` prefix needs ``Secure``, so drop it in dev."""
        if self.insecure_development:
            return name.removeprefix("__Host-")
        return name

    def url(self, path: str) -> str:
        """An absolute link below ``url_prefix`` built from ``base_url`` only (CR-06)."""
        return self.base_url.rstrip("/") + self.url_prefix + path

    def is_auth_path(self, path: str) -> bool:
        """Whether ``path`` is one of doorward's own routes: ``url_prefix`` or below it."""
        return path == self.url_prefix or path.startswith(self.url_prefix + "/")

    @classmethod
    def aal1(cls, **kwargs: Any) -> Settings:
        """NIST 800-63B rev 4 AAL1 session timeouts: reauthenticate every 30 days."""
        kwargs.setdefault("session_max_age", timedelta(days=30))
        kwargs.setdefault("session_idle_timeout", timedelta(days=30))
        return cls(**kwargs)

    @classmethod
    def aal2(cls, **kwargs: Any) -> Settings:
        """AAL2: 24 hours absolute, 1 hour idle (the defaults)."""
        kwargs.setdefault("session_max_age", timedelta(hours=24))
        kwargs.setdefault("session_idle_timeout", timedelta(hours=1))
        return cls(**kwargs)
