"""The records that cross the store boundary.

The application keeps its own user class. doorward only reads the attributes listed in
:class:`UserLike` and only writes them through the store (``USER_FIELDS`` names them all);
every other attribute of the application's object is left alone.

Roles and credentials (sessions, remember-me tokens, API tokens) are small frozen attrs
records that a store maps to rows or documents as it likes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

__all__ = [
    "USER_FIELDS",
    "Authenticator",
    "AuthenticatorKind",
    "Credential",
    "CredentialKind",
    "NewUser",
    "RefreshToken",
    "OutboxMessage",
    "OutboxState",
    "Role",
    "SignInCode",
    "SocialIdentity",
    "UserLike",
]

#: ``mfa``: a login waiting for its second factor; ``trust``: a browser trusted to skip it;
#: ``access``: a short-lived bearer token of an app client (its refresh family in ``name``).
CredentialKind = Literal["session", "remember", "api", "mfa", "trust", "access"]
#: A second factor: a TOTP app, one recovery code, or (later) a passkey.
AuthenticatorKind = Literal["totp", "recovery", "passkey"]
#: A mail in the outbox waits (``pending``), was handed to the server (``sent``) or ran
#: out of attempts (``dead``, retried only by an operator: ``doorward mail retry``).
OutboxState = Literal["pending", "sent", "dead"]

#: Every user attribute doorward reads or writes. A store must persist all of them.
USER_FIELDS: tuple[str, ...] = (
    "id",
    "email",
    "normalized_email",
    "password_hash",
    "active",
    "confirmed_at",
    "security_stamp",
    "pending_email",
    "failed_logins",
    "last_failed_login_at",
    "created_at",
    "last_login_at",
    "current_login_at",
    "last_login_ip",
    "current_login_ip",
    "login_count",
)


@runtime_checkable
class UserLike(Protocol):
    """What doorward reads from the application's user object.

    ``id`` may be any type the store likes (int, UUID, ObjectId); it crosses the store
    boundary as ``str(user.id)``. Datetimes are timezone-aware UTC.
    """

    @property
    def id(self) -> Any: ...
    @property
    def email(self) -> str:
        """The address as the user gave it (NFKC, validated); mail goes only here."""

    @property
    def normalized_email(self) -> str:
        """The lookup key: unique in the store (``doorward.policies.normalize_email``)."""

    @property
    def password_hash(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def confirmed_at(self) -> datetime | None: ...
    @property
    def security_stamp(self) -> str:
        """Random; rotating it kills every session, token and emailed link of the user."""

    @property
    def pending_email(self) -> str | None:
        """The new address of an email change waiting for confirmation."""

    @property
    def failed_logins(self) -> int: ...
    @property
    def last_failed_login_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_login_at(self) -> datetime | None: ...
    @property
    def current_login_at(self) -> datetime | None: ...
    @property
    def last_login_ip(self) -> str | None: ...
    @property
    def current_login_ip(self) -> str | None: ...
    @property
    def login_count(self) -> int: ...


@attrs.frozen(kw_only=True)
class NewUser:
    """The fields of an account about to be created.

    ``extra`` holds application fields the caller set explicitly (never request data);
    a store passes them to the application's model constructor.
    """

    email: str
    normalized_email: str
    password_hash: str | None
    security_stamp: str
    created_at: datetime
    active: bool = True
    confirmed_at: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    def as_fields(self) -> dict[str, Any]:
        """All documented user fields with their initial values, then ``extra``."""
        return {
            "email": self.email,
            "normalized_email": self.normalized_email,
            "password_hash": self.password_hash,
            "active": self.active,
            "confirmed_at": self.confirmed_at,
            "security_stamp": self.security_stamp,
            "pending_email": None,
            "failed_logins": 0,
            "last_failed_login_at": None,
            "created_at": self.created_at,
            "last_login_at": None,
            "current_login_at": None,
            "last_login_ip": None,
            "current_login_ip": None,
            "login_count": 0,
            **self.extra,
        }


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class Role:
    """A named role and the permissions it grants."""

    name: str
    description: str = ""
    permissions: frozenset[str] = attrs.field(default=frozenset(), converter=_names)


@attrs.frozen(kw_only=True)
class Credential:
    """A server-side record of something that authenticates requests.

    ``kind`` is ``"session"`` (the session cookie), ``"remember"`` (the remember-me cookie)
    or ``"api"`` (a bearer token). The secret itself is never stored: ``secret_hash`` is
    its SHA-256 hex digest, unique per kind. ``stamp`` is the user's security stamp when the
    credential was issued; a credential whose stamp differs from the user's is dead.
    ``id`` is a public random identifier used to list and revoke.
    """

    id: str
    user_id: str
    kind: CredentialKind
    secret_hash: str
    stamp: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    #: sessions: when the password was last entered in this session (freshness, SS-07)
    authenticated_at: datetime | None = None
    #: api tokens: the label the user gave it (pending MFA logins: ``"remember"`` or None)
    name: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@attrs.frozen(kw_only=True)
class Authenticator:
    """A second factor of a user (the ``Authenticators`` store capability).

    ``kind`` is ``"totp"`` (``secret`` is the TOTP secret encrypted with a key derived from
    the site's secret keys, never the base32 text), ``"recovery"`` (one look-up secret:
    ``secret`` is its keyed hash; a used code is deleted) or ``"passkey"`` (a WebAuthn
    credential: ``secret`` is the SHA-256 hex of its credential ID, unique among passkeys,
    the key ``get_passkey`` looks up; the fields below hold the rest, base64url text).
    A TOTP authenticator is active only once ``confirmed_at`` is set (one valid code).
    ``last_used_step`` is the last accepted TOTP time step (MF-02).
    """

    id: str
    user_id: str
    kind: AuthenticatorKind
    secret: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_at: datetime | None = None
    last_used_step: int | None = None
    name: str | None = None
    #: passkeys: the credential ID, the COSE public key and the user handle (base64url),
    #: the authenticator's signature counter and the transports the browser reported.
    credential_id: str | None = None
    public_key: str | None = None
    sign_count: int | None = None
    transports: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    user_handle: str | None = None


@attrs.frozen(kw_only=True)
class SocialIdentity:
    """An account at an OAuth / OpenID Connect provider linked to a user.

    ``(provider, subject)`` is unique: one provider account belongs to one user at most.
    ``email`` and ``email_verified`` are what the provider said at the last sign-in; they
    never decide who the identity belongs to (OA-02). No provider token is kept.
    """

    id: str
    provider: str
    subject: str
    user_id: str
    email: str | None
    email_verified: bool
    linked_at: datetime


@attrs.frozen(kw_only=True)
class SignInCode:
    """An emailed sign-in code and the sign-in link of the same mail (PL-01, PL-02).

    A user has at most one: a new one replaces the old. ``secret_hash`` is a keyed hash of
    the code (never the code). The code works until ``created_at`` plus the code's
    lifetime, the link (which names ``id``) until ``expires_at``; using either deletes the
    record, and ``attempts`` counts wrong codes (the record is dead at the limit).
    """

    id: str
    user_id: str
    secret_hash: str
    stamp: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0


@attrs.frozen(kw_only=True)
class RefreshToken:
    """One refresh token of an app client (PL-03); only its SHA-256 is stored.

    Tokens of one sign-in share ``family_id``; each use marks the token ``used_at`` and
    issues the next of the family, so presenting a used one is reuse and ends the family.
    ``expires_at`` is the family's end (carried over on rotation); ``signed_in_at`` is when
    the family began. ``name`` is the client's label, ``ip`` and ``user_agent`` its last.
    """

    id: str
    family_id: str
    user_id: str
    secret_hash: str
    stamp: str
    created_at: datetime
    expires_at: datetime
    signed_in_at: datetime
    used_at: datetime | None = None
    name: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@attrs.frozen(kw_only=True)
class OutboxMessage:
    r"""One rendered mail in the store's outbox (the ``MailOutbox`` capability, DI-02).

    Written by ``doorward.outbox.OutboxMailer`` instead of being sent, and delivered by
    ``MailWorker``\ s: a worker claims a pending message whose ``next_attempt_at`` has come,
    which sets ``lease_owner``/``lease_until``, counts one more ``attempts`` and moves
    ``next_attempt_at`` to the lease's end (so a message whose worker died is claimed again
    then); it marks it ``sent`` or, failed, ``pending`` again at a later ``next_attempt_at``
    or ``dead``. ``last_error`` is the exception's class name only (SMTP errors quote
    addresses). ``decoy`` messages (LE-07) are stored like the others and dropped by the
    worker, never delivered. The recipient and the bodies (which carry links with tokens)
    stay out of ``repr``, so a logged record shows no secret.
    """

    id: str
    kind: str
    to: str = attrs.field(repr=False)
    subject: str = attrs.field(repr=False)
    text: str = attrs.field(repr=False)
    html: str | None = attrs.field(default=None, repr=False)
    created_at: datetime
    next_attempt_at: datetime
    state: OutboxState = "pending"
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    decoy: bool = False
