"""Documents and records, shared by both faces of the Mongo store."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import attrs
from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError, WriteError

from doorward.exceptions import DoorwardError, EmailTaken, StoreUnavailable, WriteRefused
from doorward.records import (
    USER_FIELDS,
    Authenticator,
    Credential,
    RefreshToken,
    Role,
    SignInCode,
)

logger = logging.getLogger("doorward.mongo")

_DOCUMENTED = frozenset(USER_FIELDS) - {"id"}


class MongoUser:
    """The default user object: attribute access over the document, extra fields kept.

    ``id`` is the document's ``ObjectId``; ``document`` is the whole document, including
    any fields of the application's own.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = dict(document)

    @property
    def id(self) -> ObjectId:
        return ObjectId(self.document["_id"])

    @property
    def is_authenticated(self) -> bool:
        """Always true for a stored user (Flask-Login's convention for templates)."""
        return True

    def __getattr__(self, name: str) -> Any:
        try:
            return self.document[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"<MongoUser {self.document.get('email')!r}>"


@attrs.frozen(kw_only=True)
class Collections:
    """The collection names (configurable)."""

    users: str = "users"
    roles: str = "roles"
    credentials: str = "credentials"
    authenticators: str = "authenticators"
    social_identities: str = "social_identities"
    sign_in_codes: str = "sign_in_codes"
    refresh_tokens: str = "refresh_tokens"
    outbox: str = "mail_outbox"


@attrs.frozen
class Adopted:
    """What ``adopt`` did: documents filled, collisions and unusable addresses by id."""

    filled: int
    duplicates: dict[str, tuple[str, ...]]
    unusable: dict[str, str]
    indexes_created: bool


def adoption_defaults() -> dict[str, Any]:
    """The values doorward's fields take in a document that never had them."""
    optional = ("password_hash", "confirmed_at", "pending_email", "last_failed_login_at")
    tracking = ("last_login_at", "current_login_at", "last_login_ip", "current_login_ip")
    return {
        "active": True,
        "failed_logins": 0,
        "login_count": 0,
        "roles": [],
        **dict.fromkeys((*optional, *tracking)),
    }


def object_id(value: object) -> ObjectId | None:
    """The ObjectId of a user id given as text (or an ObjectId), or ``None``."""
    if isinstance(value, ObjectId):
        return value
    if not isinstance(value, str) or len(value) != 24:
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def text(value: object) -> str | None:
    """A string lookup value, or ``None``: nothing else ever reaches a query (IV-02)."""
    return value if isinstance(value, str) and "\x00" not in value else None


def profile_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A ``$set`` document of application fields: plain names, none of doorward's (IV-02)."""
    refused = sorted(
        name
        for name in changes
        if not isinstance(name, str)
        or not name.isidentifier()
        or name.startswith("_")
        or name in _DOCUMENTED
        or name in {"id", "roles"}
    )
    if refused:
        raise ValueError(f"not application fields: {refused}")
    return dict(changes)


def user_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A ``$set`` document of documented fields only."""
    unknown = set(changes) - _DOCUMENTED
    if unknown:
        raise ValueError(f"not doorward user fields: {sorted(unknown)}")
    return dict(changes)


def credential_document(credential: Credential, user_id: ObjectId) -> dict[str, Any]:
    """The stored form of a credential (``_id`` is its public id)."""
    document = attrs.asdict(credential)
    document["_id"] = document.pop("id")
    document["user_id"] = user_id
    return document


def credential_from(document: Mapping[str, Any]) -> Credential:
    """A ``Credential`` record from its document."""
    return Credential(
        id=document["_id"],
        user_id=str(document["user_id"]),
        kind=document["kind"],
        secret_hash=document["secret_hash"],
        stamp=document["stamp"],
        created_at=document["created_at"],
        expires_at=document.get("expires_at"),
        last_used_at=document.get("last_used_at"),
        authenticated_at=document.get("authenticated_at"),
        name=document.get("name"),
        ip=document.get("ip"),
        user_agent=document.get("user_agent"),
    )


def authenticator_document(authenticator: Authenticator, user_id: ObjectId) -> dict[str, Any]:
    """The stored form of an authenticator (``_id`` is its public id)."""
    document = attrs.asdict(authenticator)
    document["_id"] = document.pop("id")
    document["user_id"] = user_id
    document["transports"] = list(authenticator.transports)
    return document


def authenticator_from(document: Mapping[str, Any]) -> Authenticator:
    """An ``Authenticator`` record from its document."""
    return Authenticator(
        id=document["_id"],
        user_id=str(document["user_id"]),
        kind=document["kind"],
        secret=document["secret"],
        created_at=document["created_at"],
        confirmed_at=document.get("confirmed_at"),
        last_used_at=document.get("last_used_at"),
        last_used_step=document.get("last_used_step"),
        name=document.get("name"),
        credential_id=document.get("credential_id"),
        public_key=document.get("public_key"),
        sign_count=document.get("sign_count"),
        transports=tuple(document.get("transports") or ()),
        user_handle=document.get("user_handle"),
    )


def sign_in_code_document(code: SignInCode, user_id: ObjectId) -> dict[str, Any]:
    """The stored form of a sign-in code: ``_id`` is the user's id (one code per user by
    the primary key), ``code_id`` the code's public id."""
    document = attrs.asdict(code)
    document["code_id"] = document.pop("id")
    document["_id"] = user_id
    del document["user_id"]
    return document


def sign_in_code_from(document: Mapping[str, Any]) -> SignInCode:
    """A ``SignInCode`` record from its document."""
    return SignInCode(
        id=document["code_id"],
        user_id=str(document["_id"]),
        secret_hash=document["secret_hash"],
        stamp=document["stamp"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        attempts=int(document.get("attempts", 0)),
    )


def refresh_token_document(token: RefreshToken, user_id: ObjectId) -> dict[str, Any]:
    """The stored form of a refresh token (``_id`` is its public id)."""
    document = attrs.asdict(token)
    document["_id"] = document.pop("id")
    document["user_id"] = user_id
    return document


def refresh_token_from(document: Mapping[str, Any]) -> RefreshToken:
    """A ``RefreshToken`` record from its document."""
    return RefreshToken(
        id=document["_id"],
        family_id=document["family_id"],
        user_id=str(document["user_id"]),
        secret_hash=document["secret_hash"],
        stamp=document["stamp"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        signed_in_at=document["signed_in_at"],
        used_at=document.get("used_at"),
        name=document.get("name"),
        ip=document.get("ip"),
        user_agent=document.get("user_agent"),
    )


def role_from(document: Mapping[str, Any]) -> Role:
    """A ``Role`` record from its document (``_id`` is the name)."""
    return Role(
        name=document["_id"],
        description=document.get("description", ""),
        permissions=frozenset(document.get("permissions", [])),
    )


def failure_pipeline(
    at: datetime, *, keep_time: bool, restart_cutoff: datetime | None
) -> list[dict[str, Any]]:
    """One update that counts a failed login (RL-07: see ``AsyncUsers.increment_failed_logins``).

    A pipeline, so the restart decision reads the stored time in the same atomic update;
    ``$set`` stages see the document as it was before the stage.
    """
    count: Any = {"$add": [{"$ifNull": ["$failed_logins", 0]}, 1]}
    if restart_cutoff is not None:
        expired = {
            "$and": [
                {"$ne": [{"$ifNull": ["$last_failed_login_at", None]}, None]},
                {"$lte": ["$last_failed_login_at", restart_cutoff]},
            ]
        }
        count = {"$cond": [expired, 1, count]}
    when: Any = {"$ifNull": ["$last_failed_login_at", at]} if keep_time else at
    return [{"$set": {"failed_logins": count, "last_failed_login_at": when}}]


def login_pipeline(at: datetime, ip: str | None) -> list[dict[str, Any]]:
    """One update that shifts current login data to last, counts, and clears failures."""
    return [
        {
            "$set": {
                "last_login_at": "$current_login_at",
                "last_login_ip": "$current_login_ip",
                "current_login_at": at,
                "current_login_ip": ip,
                "login_count": {"$add": [{"$ifNull": ["$login_count", 0]}, 1]},
                "failed_logins": 0,
                "last_failed_login_at": None,
            }
        }
    ]


@contextmanager
def translated(
    operation: str, *, email: bool = False, duplicate: type[DoorwardError] | None = None
) -> Iterator[None]:
    """Driver errors become doorward's (DI-01): a duplicate on the ``normalized_email``
    index is ``EmailTaken`` (for the user writes that pass ``email=True``), any other
    refused write ``WriteRefused`` (logged at ERROR with the index and the driver's
    message), any other driver error ``StoreUnavailable``."""
    try:
        yield
    except DoorwardError:
        raise
    except DuplicateKeyError as exc:
        if email and _on_email_index(exc):
            raise EmailTaken from None
        if duplicate is not None:
            raise duplicate from None
        logger.error(  # noqa: TRY400 (the driver's message is the point, not our traceback)
            "doorward: %s refused by the database: %s", operation, str(exc)[:500]
        )
        raise WriteRefused from None
    except (WriteError, OperationFailure) as exc:
        if getattr(exc, "code", None) not in _REFUSED_WRITES:
            logger.warning("doorward: %s failed: %s", operation, type(exc).__name__)
            raise StoreUnavailable from None
        logger.error(  # noqa: TRY400 (as above)
            "doorward: %s refused by the database: %s", operation, str(exc)[:500]
        )
        raise WriteRefused from None
    except PyMongoError as exc:
        logger.warning("doorward: %s failed: %s", operation, type(exc).__name__)
        raise StoreUnavailable from None


#: Server codes of writes a schema or document rule refused (validation, too large).
_REFUSED_WRITES = frozenset({121, 2, 10334, 17280})


def _on_email_index(exc: DuplicateKeyError) -> bool:
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if isinstance(pattern, dict):
        return list(pattern) == ["normalized_email"]
    message = str(details.get("errmsg") or exc)
    return "normalized_email" in message
