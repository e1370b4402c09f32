"""Declarative mixins for the application's own models, and a ready-made set.

Combine them with your own base, columns, table names and relationships::

    class Base(DeclarativeBase): ...

    class User(UserMixin, Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        display_name: Mapped[str | None]            # yours; doorward never touches it

    class Role(RoleMixin, Base):
        __tablename__ = "groups"

    class UserRole(UserRoleMixin, Base):
        __tablename__ = "people_groups"
        __doorward_user_key__ = "people.id"
        __doorward_role_key__ = "groups.id"

    class Credential(CredentialMixin, Base):
        __tablename__ = "logins"
        __doorward_user_key__ = "people.id"

    class Authenticator(AuthenticatorMixin, Base):   # optional: second factors (MFA)
        __tablename__ = "factors"
        __doorward_user_key__ = "people.id"

    class Outbox(OutboxMixin, Base):                 # optional: the durable mail outbox
        __tablename__ = "mail_outbox"

    store = SQLAlchemyStore(
        engine, Models(User, Role, UserRole, Credential, Authenticator, outbox=Outbox)
    )

The other optional tables are declared the same way: ``SocialIdentityMixin`` (OAuth
providers), ``SignInCodeMixin`` (emailed sign-in codes and links) and
``RefreshTokenMixin`` (app clients), passed as ``Models(..., social_identity=...,
sign_in_code=..., refresh_token=...)``.

The user mixin declares every field doorward reads or writes (``doorward.USER_FIELDS``)
except ``id``, which is yours (integer, UUID, string...). The foreign keys of the link
tables point at ``__doorward_user_key__`` / ``__doorward_role_key__`` (``"users.id"`` and
``"roles.id"`` by default) and take their type from that column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    inspect,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.processors import str_to_datetime
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeEngine

from doorward.records import USER_FIELDS

__all__ = [
    "Base",
    "CredentialMixin",
    "DefaultCredential",
    "DefaultRefreshToken",
    "DefaultOutbox",
    "DefaultRole",
    "DefaultSignInCode",
    "DefaultSocialIdentity",
    "DefaultUser",
    "DefaultUserRole",
    "Models",
    "RefreshTokenMixin",
    "OutboxMixin",
    "RoleMixin",
    "SignInCodeMixin",
    "SocialIdentityMixin",
    "UTCDateTime",
    "UserMixin",
    "UserRoleMixin",
    "default_models",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite and MariaDB keep no zone; we add it back).

    Stored with microseconds (``DATETIME(6)`` on MySQL/MariaDB).
    """

    impl = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("doorward stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 (the signature SQLAlchemy calls)
    ) -> datetime | None:
        return None if value is None else _utc(value)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None]:
        """``process_result_value`` fused with the driver type's own conversion (SQLite's
        text parsing): one call a value instead of three, nine values an authenticated
        request."""
        parse = self.impl_instance.result_processor(dialect, coltype)
        if parse is None:
            return lambda value: None if value is None else _utc(value)

        def converted(value: Any) -> datetime | None:
            found = None if value is None else parse(value)
            return None if found is None else _utc(found)

        if parse is not str_to_datetime:
            return converted

        def from_text(value: Any) -> datetime | None:
            # SQLite's text, parsed as str_to_datetime does (fromisoformat) with the zone
            # in the same call: a naive value is UTC, as ``_utc`` has it (a seventh of the
            # cost of ``replace``); a value with an offset of its own goes the long way
            if value.__class__ is str:
                try:
                    found = _from_iso(value + "+00:00")
                except ValueError:
                    pass
                else:
                    if found.tzinfo is UTC:  # a date alone reads naive: the long way too
                        return found
            return converted(value)

        return from_text


_from_iso = datetime.fromisoformat


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # ``value.replace(tzinfo=UTC)`` at a fifth of its cost
        return _combine(value, value.time(), UTC)
    return value.astimezone(UTC)


_combine = datetime.combine


class ExactString(TypeDecorator[str]):
    """Text compared byte for byte on every backend.

    MySQL and MariaDB default to case- and accent-insensitive, space-padding collations,
    which would merge distinct addresses; these columns use a binary no-pad collation.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:  # "mariadb" for mariadb+driver:// URLs
            mariadb = bool(getattr(dialect, "is_mariadb", False))
            collation = "utf8mb4_nopad_bin" if mariadb else "utf8mb4_0900_bin"
            return dialect.type_descriptor(
                mysql.VARCHAR(self.length, charset="utf8mb4", collation=collation)
            )
        return dialect.type_descriptor(String(self.length))


def _exact(length: int) -> ExactString:
    return ExactString(length)


class UserMixin:
    """The columns doorward needs on the application's user model (all but ``id``)."""

    email: Mapped[str] = mapped_column(_exact(254))
    normalized_email: Mapped[str] = mapped_column(_exact(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    security_stamp: Mapped[str] = mapped_column(_exact(64))
    pending_email: Mapped[str | None] = mapped_column(_exact(254), default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    current_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_login_ip: Mapped[str | None] = mapped_column(String(45), default=None)
    current_login_ip: Mapped[str | None] = mapped_column(String(45), default=None)
    login_count: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_authenticated(self) -> bool:
        """Always true for a stored user (Flask-Login's convention for templates)."""
        return True


class RoleMixin:
    """A role: a unique name, a description and its permissions (space-separated)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(_exact(80), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    permissions: Mapped[str] = mapped_column(Text, default="")


class UserRoleMixin:
    """The link between users and roles."""

    __doorward_user_key__: ClassVar[str] = "users.id"
    __doorward_role_key__: ClassVar[str] = "roles.id"

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(
            ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"), primary_key=True
        )

    @declared_attr
    def role_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(
            ForeignKey(cls.__doorward_role_key__, ondelete="CASCADE"), primary_key=True
        )


class CredentialMixin:
    """Sessions, remember-me tokens and API tokens (only their SHA-256 is stored)."""

    __doorward_user_key__: ClassVar[str] = "users.id"

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    kind: Mapped[str] = mapped_column(_exact(16))
    secret_hash: Mapped[str] = mapped_column(_exact(64))
    stamp: Mapped[str] = mapped_column(_exact(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{table}_secret", "kind", "secret_hash", unique=True),
            Index(f"ix_{table}_user", "user_id", "kind"),
            Index(f"ix_{table}_expires", "expires_at"),
        )


class AuthenticatorMixin:
    """Second factors (``doorward.records.Authenticator``): TOTP secrets encrypted, recovery
    codes as keyed hashes, passkeys. ``last_used_step`` makes a TOTP step single-use.

    The passkey columns (``credential_key`` … ``user_handle``) are nullable and unused by the
    other kinds; ``credential_key`` (a passkey's ``secret``, the SHA-256 hex of its
    credential ID) is unique across users (MF-07). An app whose table predates passkeys
    adds those six columns and the unique index ``ix_<table>_passkey`` (docs/passkeys.md).
    """

    __doorward_user_key__: ClassVar[str] = "users.id"

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    kind: Mapped[str] = mapped_column(_exact(16))
    secret: Mapped[str] = mapped_column(_exact(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    credential_key: Mapped[str | None] = mapped_column(_exact(64), default=None)
    credential_id: Mapped[str | None] = mapped_column(Text, default=None)
    public_key: Mapped[str | None] = mapped_column(Text, default=None)
    sign_count: Mapped[int | None] = mapped_column(BigInteger, default=None)
    transports: Mapped[str | None] = mapped_column(String(255), default=None)
    user_handle: Mapped[str | None] = mapped_column(_exact(128), default=None)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{table}_user", "user_id", "kind", "secret", unique=True),
            Index(f"ix_{table}_passkey", "credential_key", unique=True),
        )


class SocialIdentityMixin:
    """Accounts at OAuth / OpenID Connect providers linked to users (no provider token).

    ``(provider, subject)`` is unique: the database settles parallel first sign-ins.
    """

    __doorward_user_key__: ClassVar[str] = "users.id"

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    provider: Mapped[str] = mapped_column(_exact(32))
    subject: Mapped[str] = mapped_column(_exact(255))
    email: Mapped[str | None] = mapped_column(_exact(254), default=None)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{table}_subject", "provider", "subject", unique=True),
            Index(f"ix_{table}_user", "user_id"),
        )


class SignInCodeMixin:
    """Emailed sign-in codes and links (``doorward.records.SignInCode``): one per user.

    ``secret_hash`` is a keyed hash of the code; ``attempts`` counts wrong codes. The
    unique index on ``user_id`` keeps one code per user even under concurrent requests.
    """

    __doorward_user_key__: ClassVar[str] = "users.id"

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(_exact(64))
    stamp: Mapped[str] = mapped_column(_exact(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{table}_user", "user_id", unique=True),)


class RefreshTokenMixin:
    """Refresh tokens of app clients (``doorward.records.RefreshToken``; only the SHA-256).

    The tokens of one sign-in share ``family_id``; ``used_at`` is set once, by a
    conditional update, when the token is exchanged for the next of its family.
    """

    __doorward_user_key__: ClassVar[str] = "users.id"

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    family_id: Mapped[str] = mapped_column(_exact(32))
    secret_hash: Mapped[str] = mapped_column(_exact(64))
    stamp: Mapped[str] = mapped_column(_exact(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)

    @declared_attr
    def user_id(cls) -> Mapped[Any]:  # noqa: N805
        return mapped_column(ForeignKey(cls.__doorward_user_key__, ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{table}_secret", "secret_hash", unique=True),
            Index(f"ix_{table}_family", "family_id"),
            Index(f"ix_{table}_user", "user_id"),
            Index(f"ix_{table}_expires", "expires_at"),
        )


class OutboxMixin:
    """The durable mail outbox (``doorward.records.OutboxMessage``, DI-02): rendered mail
    waiting for, or done with, delivery. ``recipient`` holds the record's ``to``. The
    ``(state, next_attempt_at)`` index serves the workers' claims."""

    id: Mapped[str] = mapped_column(_exact(32), primary_key=True)
    kind: Mapped[str] = mapped_column(_exact(64))
    recipient: Mapped[str] = mapped_column(String(998))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(_exact(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(_exact(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decoy: Mapped[bool] = mapped_column(Boolean, default=False)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{table}_due", "state", "next_attempt_at"),)


class RateLimitMixin:
    """The counters of ``SQLAlchemyRateLimiter``: one row per key (its SHA-256) and window."""

    key: Mapped[str] = mapped_column(_exact(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@attrs.frozen
class Models:
    """The mapped classes a store works with.

    ``authenticator`` is optional: without it the store has no ``Authenticators``
    capability and doorward leaves the MFA feature out (existing apps keep working).
    ``social_identity`` is optional too: without it the store lacks the
    ``SocialIdentities`` capability, so sign-in with OAuth providers refuses to start
    (naming its methods) and everything else works as before. So do ``sign_in_code``
    (the ``SignInCodes`` capability of ``sign_in_by_email``) and ``refresh_token`` (the
    ``RefreshTokens`` capability of ``app_clients``): without them those features, off
    by default, refuse to start when switched on.
    ``outbox`` is optional as well: without it the store lacks the ``MailOutbox``
    capability and ``doorward.outbox.OutboxMailer`` refuses it.
    """

    user: type[Any]
    role: type[Any]
    user_role: type[Any]
    credential: type[Any]
    authenticator: type[Any] | None = None
    social_identity: type[Any] | None = None
    sign_in_code: type[Any] | None = None
    refresh_token: type[Any] | None = None
    outbox: type[Any] | None = None


class Base(DeclarativeBase):
    """The base of the ready-made models (use your own base for your own models)."""


class DefaultUser(UserMixin, Base):
    """A ready-made user table ``users`` with an integer id."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class DefaultRole(RoleMixin, Base):
    """A ready-made ``roles`` table."""

    __tablename__ = "roles"


class DefaultUserRole(UserRoleMixin, Base):
    """A ready-made ``user_roles`` table."""

    __tablename__ = "user_roles"


class DefaultCredential(CredentialMixin, Base):
    """A ready-made ``credentials`` table."""

    __tablename__ = "credentials"


class DefaultAuthenticator(AuthenticatorMixin, Base):
    """A ready-made ``authenticators`` table."""

    __tablename__ = "authenticators"


class DefaultSocialIdentity(SocialIdentityMixin, Base):
    """A ready-made ``social_identities`` table."""

    __tablename__ = "social_identities"


class DefaultSignInCode(SignInCodeMixin, Base):
    """A ready-made ``sign_in_codes`` table."""

    __tablename__ = "sign_in_codes"


class DefaultRefreshToken(RefreshTokenMixin, Base):
    """A ready-made ``refresh_tokens`` table."""

    __tablename__ = "refresh_tokens"


class DefaultOutbox(OutboxMixin, Base):
    """A ready-made ``mail_outbox`` table."""

    __tablename__ = "mail_outbox"


class DefaultRateLimit(RateLimitMixin, Base):
    """A ready-made ``rate_limits`` table for the shared rate limiter."""

    __tablename__ = "rate_limits"


def required_columns(model: type[Any]) -> frozenset[str]:
    """Attributes of ``model`` beyond doorward's that an INSERT must set: NOT NULL, no
    default or server default, not an autoincrementing key."""
    required = set()
    for attribute in inspect(model).column_attrs:
        if attribute.key in USER_FIELDS:
            continue
        for column in attribute.columns:
            if not isinstance(column, Column) or column.nullable:
                continue
            if column.default is not None or column.server_default is not None:
                continue
            if column.primary_key and column.autoincrement in (True, "auto"):
                continue
            required.add(attribute.key)
    return frozenset(required)


def default_models() -> Models:
    """The ready-made models; create their tables with ``Base.metadata.create_all``."""
    return Models(
        DefaultUser,
        DefaultRole,
        DefaultUserRole,
        DefaultCredential,
        DefaultAuthenticator,
        DefaultSocialIdentity,
        DefaultSignInCode,
        DefaultRefreshToken,
        outbox=DefaultOutbox,
    )
