"""Conversions between doorward's records and rows, shared by both faces."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, inspect, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.types import Integer

from doorward.records import Credential, RefreshToken, Role, SignInCode


def searchable(text: object) -> bool:
    """Whether a lookup value can be sent to every database (PostgreSQL refuses NUL)."""
    return isinstance(text, str) and "\x00" not in text


def id_value(column: ColumnElement[Any], text: str) -> Any:
    """The database value of a user id given as text, or ``None`` if it cannot be one."""
    if not searchable(text) or not text or len(text) > 64:
        return None
    if isinstance(column.type, Integer):
        return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
    return text


def permissions_text(permissions: Iterable[str]) -> str:
    """Permissions as stored: sorted names separated by spaces."""
    return " ".join(sorted(permissions))


def role_from_row(row: Any) -> Role:
    """A ``Role`` record from a role row."""
    return Role(
        name=row.name, description=row.description or "", permissions=row.permissions.split()
    )


def credential_values(credential: Credential, user_key: Any) -> dict[str, Any]:
    """Column values for a new credential row."""
    return {
        "id": credential.id,
        "user_id": user_key,
        "kind": credential.kind,
        "secret_hash": credential.secret_hash,
        "stamp": credential.stamp,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
        "last_used_at": credential.last_used_at,
        "authenticated_at": credential.authenticated_at,
        "name": credential.name,
        "ip": credential.ip,
        "user_agent": credential.user_agent,
    }


def credential_from_row(row: Any) -> Credential:
    """A ``Credential`` record from a credential row."""
    return Credential(
        id=row.id,
        user_id=str(row.user_id),
        kind=row.kind,
        secret_hash=row.secret_hash,
        stamp=row.stamp,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        authenticated_at=row.authenticated_at,
        name=row.name,
        ip=row.ip,
        user_agent=row.user_agent,
    )


class UserLoader:
    """Detached instances of the application's user model from Core rows.

    The hot paths skip the ORM's unit of work: values go into the instance's state and are
    committed, as the ORM's own loader does, so the instance behaves as if a session had
    returned it. Only for user models without relationships; those go through the ORM so
    their loader options apply.
    """

    def __init__(self, user_model: type[Any]) -> None:
        mapper = inspect(user_model)
        self.keys = tuple(p.key for p in mapper.column_attrs)
        self.columns = tuple(p.columns[0] for p in mapper.column_attrs)
        self._new = mapper.class_manager.new_instance

    def load(self, values: Sequence[Any]) -> Any:
        """A detached user from the values of ``columns``, in order."""
        user = self._new()
        instance_state(user).dict.update(zip(self.keys, values, strict=True))
        make_transient_to_detached(user)
        return user


class CredentialLookup:
    """The per-request lookup: one Core select of a credential joined with its user."""

    def __init__(
        self, users: UserLoader, user_model: type[Any], credential_model: type[Any]
    ) -> None:
        credentials = inspect(credential_model)
        self.users = users
        self.credential_keys = tuple(p.key for p in credentials.column_attrs)
        columns = [*users.columns, *(p.columns[0] for p in credentials.column_attrs)]
        join = credential_model.__table__.join(
            user_model.__table__, inspect(user_model).primary_key[0] == credential_model.user_id
        )
        self._columns, self._join = columns, join
        self._user_key = inspect(user_model).primary_key[0]
        self._where = (
            credential_model.kind == bindparam("kind"),
            credential_model.secret_hash == bindparam("hash"),
        )
        self.statement: Select[Any] = select(*columns).select_from(join).where(*self._where)

    def found(self, row: Sequence[Any]) -> tuple[Credential, Any]:
        """The credential record and the detached user from one result row."""
        split = len(self.users.keys)
        end = split + len(self.credential_keys)
        values = dict(zip(self.credential_keys, row[split:end], strict=True))
        return credential_from_row(_Row(values)), self.users.load(row[:split])

    def with_roles(self, role: type[Any], user_role: type[Any]) -> Select[Any]:
        """The same select outer-joined with the user's roles: one row per role (or one
        with ``NULL`` role columns), the role's name and permissions last."""
        join = self._join.outerjoin(user_role, user_role.user_id == self._user_key).outerjoin(
            role, role.id == user_role.role_id
        )
        return (
            select(*self._columns, role.name, role.permissions)
            .select_from(join)
            .where(*self._where)
        )

    def found_with_roles(
        self, rows: Sequence[Sequence[Any]]
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        """``found`` of the first row, with the role names and permissions of all of them."""
        if not rows:
            return None
        credential, user = self.found(rows[0])
        names, permissions = role_pairs(rows)
        return credential, user, names, permissions


def role_pairs(
    rows: Iterable[Sequence[Any]],
) -> tuple[frozenset[str], frozenset[str]]:
    """Role names and the union of their permissions from rows ending with a role's
    ``name, permissions`` (``NULL`` both for a user without roles, from an outer join)."""
    names: set[str] = set()
    permissions: set[str] = set()
    for row in rows:
        name, text = row[-2], row[-1]
        if name is not None:
            names.add(name)
            permissions.update((text or "").split())
    return frozenset(names), frozenset(permissions)


class JoinedLookup:
    """One Core select of a row of ``model`` joined with its user, filtered by ``where``."""

    def __init__(
        self, users: UserLoader, user_model: type[Any], model: type[Any], *where: Any
    ) -> None:
        mapper = inspect(model)
        self.users = users
        self.keys = tuple(p.key for p in mapper.column_attrs)
        columns = [*users.columns, *(p.columns[0] for p in mapper.column_attrs)]
        join = model.__table__.join(
            user_model.__table__, inspect(user_model).primary_key[0] == model.user_id
        )
        self.statement: Select[Any] = select(*columns).select_from(join).where(*where)

    def found(self, row: Sequence[Any]) -> tuple[Any, Any]:
        """The row's own values (by attribute) and the detached user, from one result row."""
        split = len(self.users.keys)
        values = dict(zip(self.keys, row[split:], strict=True))
        return _Row(values), self.users.load(row[:split])


#: The fields of a ``SignInCode`` / ``RefreshToken`` other than ``user_id``.
SIGN_IN_CODE_FIELDS = ("id", "secret_hash", "stamp", "created_at", "expires_at", "attempts")
REFRESH_TOKEN_FIELDS = (
    "id",
    "family_id",
    "secret_hash",
    "stamp",
    "created_at",
    "expires_at",
    "signed_in_at",
    "used_at",
    "name",
    "ip",
    "user_agent",
)


def sign_in_code_from_row(row: Any) -> SignInCode:
    """A ``SignInCode`` record from a sign-in code row."""
    values = {name: getattr(row, name) for name in SIGN_IN_CODE_FIELDS}
    return SignInCode(user_id=str(row.user_id), **values)


def refresh_token_from_row(row: Any) -> RefreshToken:
    """A ``RefreshToken`` record from a refresh token row."""
    values = {name: getattr(row, name) for name in REFRESH_TOKEN_FIELDS}
    return RefreshToken(user_id=str(row.user_id), **values)


def column_keys(model: type[Any]) -> dict[str, str]:
    """Each mapped attribute's column key: how a Core ``INSERT`` names its parameters."""
    return {p.key: p.columns[0].key for p in inspect(model).column_attrs}


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
