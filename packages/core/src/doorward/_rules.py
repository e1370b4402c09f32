"""Pure decisions shared by both faces of the flows: no I/O, no awaits."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from doorward.records import Credential, CredentialKind
from doorward.settings import Settings


@attrs.frozen(kw_only=True)
class IssuedSession:
    """A new login on one device: the cookie values to set, once.

    ``token`` goes into the session cookie; ``remember_token`` (when remember-me was asked
    for) into the remember-me cookie, which lives ``remember_max_age`` seconds. ``user`` is
    the user as stored when the session began.
    """

    token: str
    credential: Credential
    remember_token: str | None = None
    remember_max_age: int | None = None
    user: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class Identity:
    """Who made a request, and by what means.

    ``via`` is the credential kind that authenticated it. ``fresh`` is whether the password
    was entered in this session within ``Settings.fresh_window``. ``issued`` is set when a
    remember-me cookie restored a session: the adapter must set both new cookies.
    ``roles`` and ``permissions`` are the user's, when identification was asked for them
    and the store gave them with the credential (``get_credential_with_roles``); else
    ``None``: ask the roles feature.
    """

    user: Any
    credential: Credential
    via: CredentialKind
    fresh: bool
    issued: IssuedSession | None = None
    roles: frozenset[str] | None = None
    permissions: frozenset[str] | None = None
    #: Identified by a session snapshot (``Settings.session_snapshot_seconds``), not the
    #: store: ``user`` is a ``SnapshotUser`` and ``credential`` has no stamp, expiry,
    #: last use, address or user agent.
    snapshot: bool = False

    @property
    def user_id(self) -> str:
        """The user's id as a string."""
        return str(self.user.id)


class SnapshotUser:
    """``Identity.user`` of a request a session snapshot identified: the user's id and
    email only. The adapters load the application's user from the store when it is used
    (Flask's ``current_user``, Starlette's ``Doorward.load_user``)."""

    active = True

    def __init__(self, user_id: str, email: str) -> None:
        self.id = user_id
        self.email = email

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"{name!r}: a session snapshot holds only the user's id and email "
            "(Settings.session_snapshot_seconds); load the user from the store"
        )

    def __repr__(self) -> str:
        return f"<SnapshotUser {self.id}>"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: The layout of a snapshot's payload; a different first element is refused.
_SNAPSHOT_VERSION = "s1"


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // _MICROSECOND


def _moment(micros: object) -> datetime | None:
    if micros is None:
        return None
    if not isinstance(micros, int) or isinstance(micros, bool):
        raise TypeError
    return _EPOCH + micros * _MICROSECOND


def snapshot_payload(
    identity: Identity, now: datetime, settings: Settings
) -> tuple[list[Any], datetime] | None:
    """What a session snapshot of ``identity`` (identified by the store just now) holds,
    and until when: ``settings.session_snapshot_seconds`` from now, never past the session's
    own end (expiry, absolute or inactivity timeout). ``None`` when there is nothing to keep.
    """
    credential = identity.credential
    if identity.via != "session" or identity.issued is not None or identity.snapshot:
        return None
    ends = [
        now + timedelta(seconds=settings.session_snapshot_seconds),
        credential.created_at + settings.session_max_age,
        (credential.last_used_at or credential.created_at) + settings.session_idle_timeout,
    ]
    if credential.expires_at is not None:
        ends.append(credential.expires_at)
    until = min(ends)
    if until <= now:
        return None
    roles, permissions = identity.roles, identity.permissions
    payload = [
        _SNAPSHOT_VERSION,
        # bound to this session's secret: with any other session cookie it is not used
        credential.secret_hash[:32],
        identity.user_id,
        str(identity.user.email),
        credential.id,
        _micros(credential.created_at),
        _micros(credential.authenticated_at),
        _micros(until),
        None if roles is None else sorted(roles),
        None if permissions is None else sorted(permissions),
    ]
    return payload, until


def snapshot_identity(
    payload: list[Any], secret_hash: str, now: datetime, settings: Settings
) -> Identity | None:
    """The identity a snapshot's ``payload`` gives to a request whose session cookie maps to
    ``secret_hash``, or ``None`` (another session's, expired, or not a snapshot of ours)."""
    try:
        version, binding, user_id, email, credential_id, created, entered, until = payload[:8]
        roles, permissions = payload[8:10]
        if version != _SNAPSHOT_VERSION or len(payload) != 10:
            return None
        if not isinstance(binding, str) or not hmac.compare_digest(binding, secret_hash[:32]):
            return None
        ends, created_at, authenticated_at = _moment(until), _moment(created), _moment(entered)
        if ends is None or created_at is None or now >= ends:
            return None
        if not all(isinstance(v, str) for v in (user_id, email, credential_id)):
            return None
        names = None if roles is None else frozenset(_names(roles))
        granted = None if permissions is None else frozenset(_names(permissions))
    except (TypeError, ValueError, OverflowError):
        return None
    credential = Credential(
        id=credential_id,
        user_id=user_id,
        kind="session",
        secret_hash=secret_hash,
        stamp="",
        created_at=created_at,
        authenticated_at=authenticated_at,
    )
    return Identity(
        user=SnapshotUser(user_id, email),
        credential=credential,
        via="session",
        fresh=is_fresh(credential, now, settings),
        roles=names,
        permissions=granted,
        snapshot=True,
    )


def _names(values: object) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError
    return values


def lockout_wait(
    failed: int, last_failed_at: datetime | None, now: datetime, settings: Settings
) -> timedelta | None:
    """How long the password factor stays closed after ``failed`` consecutive failures.

    From ``delay_after`` failures each attempt must wait ``delay_base * 2**k`` (capped at
    ``delay_max``); from ``lockout_threshold`` failures the lock lasts ``lockout_duration``
    or until a password reset (RL-01, RL-02). ``None`` means an attempt may be checked now.
    """
    if failed < settings.delay_after or last_failed_at is None:
        return None
    if failed >= settings.lockout_threshold:
        span = settings.lockout_duration
    else:
        span = min(settings.delay_base * 2 ** (failed - settings.delay_after), settings.delay_max)
    remaining = last_failed_at + span - now
    return remaining if remaining > timedelta(0) else None


def lock_restart_cutoff(failed: int, now: datetime, settings: Settings) -> datetime | None:
    """The cutoff for ``increment_failed_logins`` after a checked failure (RL-07).

    Once ``lockout_threshold`` failures locked the password factor, a failure checked after
    the lock ended starts a fresh count: the store restarts it when the stored failure time
    (when the lock began) is at or before ``now - lockout_duration``. Below the threshold
    the count just grows (the delays of RL-02 apply).
    """
    if failed < settings.lockout_threshold:
        return None
    return now - settings.lockout_duration


def lock_mark(last_failed_at: datetime | None) -> str | None:
    """What an unlock link is bound to: the whole second the running lock counts from.

    Unlocking clears that time, and a later lock has another, so each link works once
    (RL-07). Whole seconds, so a store keeping milliseconds or microseconds gives the same.
    """
    if last_failed_at is None:
        return None
    return str(int(last_failed_at.timestamp()))


def credential_alive(credential: Credential, user: Any, now: datetime, settings: Settings) -> bool:
    """Whether a stored credential still authenticates its user right now.

    Dead when the user is inactive (SS-06), the user's security stamp moved since it was
    issued (logout everywhere, password or email change: SS-05, TK-09), it expired, or, for
    sessions, the absolute or inactivity timeout passed (SS-03).
    """
    if not user.active or credential.stamp != user.security_stamp:
        return False
    if credential.expires_at is not None and now >= credential.expires_at:
        return False
    if credential.kind == "session":
        if now >= credential.created_at + settings.session_max_age:
            return False
        last = credential.last_used_at or credential.created_at
        if now >= last + settings.session_idle_timeout:
            return False
    return True


def is_fresh(credential: Credential, now: datetime, settings: Settings) -> bool:
    """Whether the password was entered in this session within the fresh window (SS-07)."""
    entered = credential.authenticated_at
    return entered is not None and now - entered <= settings.fresh_window


def needs_touch(credential: Credential, now: datetime, settings: Settings) -> bool:
    """Whether to write the last-use time now (at most once per touch interval)."""
    last = credential.last_used_at or credential.created_at
    return now - last >= settings.session_touch_interval


def public_user(user: Any, roles: frozenset[str] | None = None) -> dict[str, Any]:
    """The fields of a user that ``GET /me`` shows: never the hash, stamp or counters."""
    body: dict[str, Any] = {
        "id": str(user.id),
        "email": user.email,
        "active": bool(user.active),
        "confirmed": user.confirmed_at is not None,
        "confirmed_at": _iso(user.confirmed_at),
        "created_at": _iso(user.created_at),
        "last_login_at": _iso(user.last_login_at),
        "current_login_at": _iso(user.current_login_at),
        "login_count": user.login_count,
    }
    if roles is not None:
        body["roles"] = sorted(roles)
    return body


def public_credential(credential: Credential, *, current: str | None = None) -> dict[str, Any]:
    """A session or API token as listed to its owner: never the secret or its hash."""
    body: dict[str, Any] = {
        "id": credential.id,
        "kind": credential.kind,
        "created_at": _iso(credential.created_at),
        "last_used_at": _iso(credential.last_used_at),
        "expires_at": _iso(credential.expires_at),
    }
    if credential.kind == "api":
        body["name"] = credential.name
    else:
        body["ip"] = credential.ip
        body["user_agent"] = credential.user_agent
        body["current"] = credential.id == current
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
