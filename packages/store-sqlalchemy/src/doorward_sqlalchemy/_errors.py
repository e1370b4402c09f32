"""Driver errors become doorward's typed errors, with no driver text for the client.

Only a unique violation of the normalised email is ``EmailTaken`` (DI-01); a foreign key
violation is ``NotFound`` where the operation says so (a record of a user deleted
meanwhile). Any other refused write is ``WriteRefused``, logged at ERROR with the
constraint and the driver's message; a failure to reach the database is
``StoreUnavailable``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from sqlalchemy import Index, Table, UniqueConstraint
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from doorward.exceptions import (
    DoorwardError,
    EmailTaken,
    NotFound,
    StoreUnavailable,
    WriteRefused,
)

logger = logging.getLogger("doorward.sqlalchemy")

_MYSQL_DUPLICATE = 1062
#: MySQL/MariaDB: a child row's parent is missing (1452; 1216 from older servers)
_MYSQL_NO_PARENT = frozenset({1452, 1216})
#: what the databases answer when they chose this transaction as a deadlock's victim
_DEADLOCK_SQLSTATES = frozenset({"40001", "40P01"})
_DEADLOCK_ERRNOS = frozenset({1213})
_MYSQL_KEY = re.compile(r"for key '([^']+)'")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


@attrs.frozen
class UniqueKey:
    """How the database names one unique index (the users' normalised email, a provider
    account's ``(provider, subject)``), so its violations can be told from others."""

    table: str
    columns: tuple[str, ...]
    names: frozenset[str]

    @classmethod
    def of(cls, table: Table, *columns: str) -> UniqueKey:
        """The names a violation of ``table``'s uniqueness on ``columns`` can carry."""
        wanted = list(columns)
        names = {f"{table.name}_{'_'.join(wanted)}_key"}
        if len(wanted) == 1:
            names.add(wanted[0])
        uniques: list[UniqueConstraint | Index] = [
            *(c for c in table.constraints if isinstance(c, UniqueConstraint)),
            *(i for i in table.indexes if i.unique),
        ]
        for item in uniques:
            if [c.name for c in item.columns] == wanted and item.name:
                names.add(str(item.name))
        return cls(table=table.name, columns=tuple(wanted), names=frozenset(names))

    def violated_by(self, exc: IntegrityError) -> bool:
        """Whether ``exc`` is a unique violation of exactly this index."""
        orig: Any = exc.orig
        args = getattr(orig, "args", ())
        if args and args[0] == _MYSQL_DUPLICATE:  # PyMySQL, aiomysql
            found = _MYSQL_KEY.search(str(args[1]) if len(args) > 1 else "")
            return found is not None and found.group(1).rsplit(".", 1)[-1] in self.names
        diag = getattr(orig, "diag", None)
        if diag is not None:  # psycopg
            sqlstate = getattr(orig, "sqlstate", None)
            return sqlstate == "23505" and getattr(diag, "constraint_name", None) in self.names
        found = _SQLITE_UNIQUE.search(str(orig))
        listed = ", ".join(f"{self.table}.{column}" for column in self.columns)
        return found is not None and found.group(1).strip() == listed


def _constraint(exc: IntegrityError) -> str:
    orig: Any = exc.orig
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return str(name) if name else "unnamed"


def foreign_key_violated(exc: IntegrityError) -> bool:
    """Whether ``exc`` says the row's parent (its user) is not there."""
    orig: Any = exc.orig
    args = getattr(orig, "args", ())
    if args and args[0] in _MYSQL_NO_PARENT:  # PyMySQL, aiomysql
        return True
    if getattr(orig, "diag", None) is not None:  # psycopg
        return getattr(orig, "sqlstate", None) == "23503"
    return "FOREIGN KEY constraint failed" in str(orig)  # SQLite


def deadlocked(exc: DBAPIError) -> bool:
    """Whether the database rolled this transaction back as a deadlock's victim."""
    if getattr(exc.orig, "sqlstate", None) in _DEADLOCK_SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in _DEADLOCK_ERRNOS


#: The unique index on the users' normalised email (kept under its first name).
EmailKey = UniqueKey


@contextmanager
def translated(
    operation: str,
    email_key: UniqueKey | None = None,
    *,
    taken: tuple[UniqueKey, type[DoorwardError]] | None = None,
    user_required: bool = False,
) -> Iterator[None]:
    """Run a store operation, turning driver errors into doorward's (see the module doc).

    A violation of ``email_key`` is ``EmailTaken``; of ``taken``'s key, its error; with
    ``user_required``, a foreign key violation is ``NotFound``.
    """
    try:
        yield
    except DoorwardError:
        raise
    except IntegrityError as exc:
        if email_key is not None and email_key.violated_by(exc):
            logger.info("doorward: %s refused: the email is taken", operation)
            raise EmailTaken from None
        if taken is not None and taken[0].violated_by(exc):
            logger.info("doorward: %s refused: %s", operation, taken[1].__name__)
            raise taken[1] from None
        if user_required and foreign_key_violated(exc):
            logger.info("doorward: %s refused: no such user", operation)
            raise NotFound("no such user") from None
        logger.error(  # noqa: TRY400 (the driver's message is the point, not our traceback)
            "doorward: %s refused by the database (constraint %s): %s",
            operation,
            _constraint(exc),
            str(exc.orig).strip().replace("\n", " ")[:500],
        )
        raise WriteRefused from None
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        if isinstance(exc, DBAPIError) and _mysql_refusal(exc):
            logger.error(  # noqa: TRY400 (as above)
                "doorward: %s refused by the database: %s",
                operation,
                str(exc.orig).strip().replace("\n", " ")[:500],
            )
            raise WriteRefused from None
        logger.warning("doorward: %s failed: %s", operation, type(exc).__name__)
        raise StoreUnavailable from None


#: MariaDB/MySQL errors of a refused row that its drivers raise as OperationalError: a
#: failed CHECK (4025, MySQL 3819), a missing value without default (1364).
_MYSQL_REFUSALS = frozenset({4025, 3819, 1364})


def _mysql_refusal(exc: DBAPIError) -> bool:
    args: tuple[Any, ...] = tuple(getattr(exc.orig, "args", ()))
    return bool(args) and args[0] in _MYSQL_REFUSALS
