"""Conversions between doorward's records and rows, shared by both faces."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, inspect, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import Integer

from doorward.records import Credential, Role


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


def credential_lookup(user_model: type[Any], credential_model: type[Any]) -> Select[Any]:
    """A Core select of one credential joined with its user, columns labelled by attribute.

    The per-request lookup skips the ORM's unit of work: the row is turned into a detached
    instance of the application's model by ``detached_user``.
    """
    users, credentials = inspect(user_model), inspect(credential_model)
    columns = [p.columns[0].label(f"u_{p.key}") for p in users.column_attrs]
    columns += [p.columns[0].label(f"c_{p.key}") for p in credentials.column_attrs]
    user_table, credential_table = user_model.__table__, credential_model.__table__
    user_key = users.primary_key[0]
    return (
        select(*columns)
        .select_from(credential_table.join(user_table, user_key == credential_model.user_id))
        .where(
            credential_model.kind == bindparam("kind"),
            credential_model.secret_hash == bindparam("hash"),
        )
    )


def detached_user(user_model: type[Any], row: Any) -> Any:
    """A detached instance of the user model from a ``credential_lookup`` row."""
    mapper = inspect(user_model)
    user = mapper.class_manager.new_instance()
    for prop in mapper.column_attrs:
        set_committed_value(user, prop.key, row[f"u_{prop.key}"])
    make_transient_to_detached(user)
    return user


def credential_from_lookup(credential_model: type[Any], row: Any) -> Credential:
    """The credential record from a ``credential_lookup`` row."""
    values = {p.key: row[f"c_{p.key}"] for p in inspect(credential_model).column_attrs}
    return credential_from_row(_Row(values))


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
