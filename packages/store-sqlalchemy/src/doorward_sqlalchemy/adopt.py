"""Adopting an existing users table that already has rows.

    python -m doorward_sqlalchemy adopt sqlite:///app.db myapp.models:MODELS          # plan + SQL
    python -m doorward_sqlalchemy adopt sqlite:///app.db myapp.models:MODELS --apply  # do it

Three steps, each safe to run again: (1) add the columns doorward needs that the table
lacks (nullable, so rows already there stay valid); (2) fill them in, in batches: the
normalised email from the email (rows whose address cannot be used are reported and left),
a new security stamp, the creation time, ``active``, the counters; (3) report the rows
whose addresses collide once normalised (``Ann@x`` and ``ann@x``) and stop, or create the
unique index on the normalised email. From an Alembic migration, call ``adopt(op.get_bind(),
MODELS, apply=True)`` in ``upgrade()``; ``plan_sql`` gives the DDL to paste instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Table,
    bindparam,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import CreateColumn

from doorward.exceptions import ValidationFailed
from doorward.policies import normalize_email
from doorward.records import USER_FIELDS
from doorward.tokens import new_stamp
from doorward_sqlalchemy.models import Models

__all__ = ["Adoption", "adopt", "plan_sql"]

#: What a row without the column gets.
_FILL: dict[str, Any] = {"active": True, "failed_logins": 0, "login_count": 0}
_NEEDED = tuple(name for name in USER_FIELDS if name != "id")


@attrs.frozen
class Adoption:
    """What adopting the table needs or did.

    ``duplicates`` maps a normalised address to the ids of its rows; while there are any,
    the unique index is not created (merge or fix those rows, then run again).
    ``unusable`` maps ids to why their address cannot be used (no lookup key is set).
    """

    table: str
    added_columns: tuple[str, ...]
    filled_rows: int
    duplicates: dict[str, tuple[str, ...]]
    unusable: dict[str, str]
    index_created: bool
    applied: bool
    index_present: bool

    @property
    def complete(self) -> bool:
        """Whether the table is ready: columns there, rows filled, the index in place."""
        return self.applied and not self.duplicates and self.index_present


def _table(models: Models) -> Table:
    table: Table = models.user.__table__
    return table


def _columns(models: Models) -> dict[str, Column[Any]]:
    """doorward's columns of the model, by attribute name."""
    mapper = inspect(models.user)
    return {name: mapper.columns[name] for name in _NEEDED}


def _missing(connection: Connection, models: Models) -> list[Column[Any]]:
    existing = {c["name"] for c in inspect(connection).get_columns(_table(models).name)}
    return [column for column in _columns(models).values() if column.name not in existing]


def _addable(column: Column[Any]) -> Column[Any]:
    """The column as it can be added to a table with rows: nullable, no constraints."""
    return Column(column.name, column.type, nullable=True)


def plan_sql(bind: Engine | Connection, models: Models) -> list[str]:
    """The ``ALTER TABLE`` statements that add doorward's missing columns, for this database."""
    with _connected(bind) as connection:
        table = _table(models).name
        dialect = connection.dialect
        return [
            f"ALTER TABLE {table} ADD COLUMN {CreateColumn(_addable(c)).compile(dialect=dialect)}"
            for c in _missing(connection, models)
        ]


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as connection:
        yield connection


def adopt(
    bind: Engine | Connection, models: Models, *, apply: bool = False, batch: int = 1000
) -> Adoption:
    """Plan (``apply=False``) or carry out the adoption of ``models.user``'s table."""
    table = _table(models)
    with _connected(bind) as connection:
        missing = _missing(connection, models)
        if not apply:
            return Adoption(
                table=table.name,
                added_columns=tuple(c.name for c in missing),
                filled_rows=_count_unfilled(connection, models, missing),
                duplicates={},
                unusable={},
                index_created=False,
                applied=False,
                index_present=_has_email_index(connection, models),
            )
        for column in missing:
            ddl = CreateColumn(_addable(column)).compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
        _commit(connection)
        filled, unusable = _fill(connection, models, batch)
        duplicates = _duplicates(connection, models)
        created = False
        if not duplicates and not _has_email_index(connection, models):
            email = _columns(models)["normalized_email"]
            Index(f"{table.name}_{email.name}_key", email, unique=True).create(connection)
            _commit(connection)
            created = True
        return Adoption(
            table=table.name,
            added_columns=tuple(c.name for c in missing),
            filled_rows=filled,
            duplicates=duplicates,
            unusable=unusable,
            index_created=created,
            applied=True,
            index_present=_has_email_index(connection, models),
        )


def _commit(connection: Connection) -> None:
    if connection.in_transaction():
        connection.commit()


def _count_unfilled(connection: Connection, models: Models, missing: list[Column[Any]]) -> int:
    table = _table(models)
    if missing:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)
    key = _columns(models)["normalized_email"]
    stamp = _columns(models)["security_stamp"]
    query = select(func.count()).select_from(table).where(key.is_(None) | stamp.is_(None))
    return int(connection.scalar(query) or 0)


def _pages(connection: Connection, models: Models, batch: int) -> Iterator[list[Any]]:
    """The rows still to fill, in id order, ``batch`` at a time (keyset pagination)."""
    columns = _columns(models)
    key = inspect(models.user).primary_key[0]
    unfilled = columns["normalized_email"].is_(None) | columns["security_stamp"].is_(None)
    last = None
    while True:
        query = select(key, columns["email"]).where(unfilled)
        if last is not None:
            query = query.where(key > last)
        rows = list(connection.execute(query.order_by(key).limit(batch)))
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _fill(connection: Connection, models: Models, batch: int) -> tuple[int, dict[str, str]]:
    columns = _columns(models)
    table = _table(models)
    key = inspect(models.user).primary_key[0]
    created = columns["created_at"]
    statement = (
        update(table)
        .where(key == bindparam("row_id"))
        .values(
            {
                columns["security_stamp"].name: bindparam("stamp"),
                columns["normalized_email"].name: bindparam("key"),
                created.name: func.coalesce(created, bindparam("now")),
            }
        )
    )
    now = datetime.now(UTC)
    filled = 0
    unusable: dict[str, str] = {}
    for rows in _pages(connection, models, batch):
        params = []
        for row_id, email in rows:
            try:
                _, normalized = normalize_email(email or "")
            except ValidationFailed as exc:
                unusable[str(row_id)] = "; ".join(m for ms in exc.fields.values() for m in ms)
                normalized = None
            params.append({"row_id": row_id, "stamp": new_stamp(), "key": normalized, "now": now})
        connection.execute(statement, params)
        filled += len(rows)
        _commit(connection)
    for name, value in _FILL.items():
        column = columns[name]
        connection.execute(update(table).where(column.is_(None)).values({column.name: value}))
    _commit(connection)
    return filled, unusable


def _duplicates(connection: Connection, models: Models) -> dict[str, tuple[str, ...]]:
    email = _columns(models)["normalized_email"]
    key = inspect(models.user).primary_key[0]
    table = _table(models)
    twice = (
        select(email)
        .select_from(table)
        .where(email.is_not(None))
        .group_by(email)
        .having(func.count() > 1)
    )
    found: dict[str, list[str]] = {}
    for address, row_id in connection.execute(
        select(email, key).where(email.in_(twice)).order_by(email, key)
    ):
        found.setdefault(address, []).append(str(row_id))
    return {address: tuple(ids) for address, ids in found.items()}


def _has_email_index(connection: Connection, models: Models) -> bool:
    table = _table(models).name
    column = _columns(models)["normalized_email"].name
    inspector = inspect(connection)
    names = [c["name"] for c in inspector.get_columns(table)]
    if column not in names:
        return False
    for index in inspector.get_indexes(table):
        if index.get("unique") and list(index["column_names"]) == [column]:
            return True
    return any(
        list(constraint["column_names"]) == [column]
        for constraint in inspector.get_unique_constraints(table)
    )
