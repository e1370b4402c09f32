"""A fixed SELECT run through the DB-API cursor of a connection from the engine's pool.

Every authenticated request makes one indexed SELECT (the credential with its user).
On SQLite SQLAlchemy's execution machinery around it (the execution context, the result
and its rows) costs several times what the query does: about 60 of 75 µs. ``DirectSelect``
compiles the statement once for the engine's dialect and runs it on a connection checked
out of the same pool (so pool events, pre-ping and reset-on-return apply), converting
values with the column types' own bind and result processors, as SQLAlchemy would.

The engine stays the judge: with ``echo``, any execution option, or a listener on
statement execution (tracing, statement counters) ``usable()`` is false and the store
goes through SQLAlchemy as before. Driver errors come out as SQLAlchemy's ``DBAPIError``
(a broken connection is invalidated first), so the store translates them as any other.
Only sync engines on SQLite, MySQL/MariaDB and PostgreSQL. On PostgreSQL the store's
reads run in autocommit (no ``BEGIN``/``ROLLBACK`` round trips): ``autocommit=True`` puts
the driver's connection in that mode for the statement and back in the mode it had before
it returns to the pool, as SQLAlchemy's ``isolation_level="AUTOCOMMIT"`` option does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError

#: The engine's and the dialect's events a statement run through SQLAlchemy would fire.
_ENGINE_EVENTS = (
    "engine_connect",
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)
_DIALECT_EVENTS = ("handle_error", "do_execute", "do_setinputsizes")
_DIALECTS = frozenset({"sqlite", "mysql", "mariadb", "postgresql"})


class DirectSelect:
    """One compiled SELECT, run with ``rows(params)`` where ``usable()`` says it may be."""

    def __init__(self, engine: Engine, statement: Select[Any], *, autocommit: bool = False) -> None:
        dialect = engine.dialect
        self._autocommit = autocommit
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._dialect = dialect
        self._error: type[DBAPIModule.Error] = dialect.loaded_dbapi.Error
        self._sql = compiled.string
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds[name] = process
        self._types = [column.type.dialect_impl(dialect) for column in statement.selected_columns]
        self._processors: list[Callable[[Any], Any] | None] | None = None

    @classmethod
    def of(
        cls, engine: object, statement: Select[Any], *, autocommit: bool = False
    ) -> DirectSelect | None:
        """A direct select for ``engine``, or ``None`` where there is none (async engines,
        other dialects); ``autocommit``: run it outside a transaction (PostgreSQL)."""
        if isinstance(engine, Engine) and engine.dialect.name in _DIALECTS:
            return cls(engine, statement, autocommit=autocommit)
        return None

    def usable(self) -> bool:
        """Whether running it directly skips nothing the engine was asked to do."""
        engine = self._engine
        if engine.echo or engine.get_execution_options():
            return False
        return not (
            any(getattr(engine.dispatch, event) for event in _ENGINE_EVENTS)
            or any(getattr(self._dialect.dispatch, event) for event in _DIALECT_EVENTS)
        )

    def rows(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The result rows for ``params`` (every bind parameter by name), converted."""
        values = {
            name: self._binds[name](value) if name in self._binds else value
            for name, value in params.items()
        }
        parameters: Any = (
            tuple(values[name] for name in self._order) if self._order is not None else values
        )
        connection = self._engine.raw_connection()
        driver: Any = connection.dbapi_connection
        cursor = None
        invalidated = False
        # switched for this statement only, and only if the connection is not in it already
        switch = self._autocommit and not driver.autocommit
        try:
            if switch:
                driver.autocommit = True
            cursor = connection.cursor()
            cursor.execute(self._sql, parameters)
            fetched = cursor.fetchall()
            processors = self._processors or self._processors_for(cursor.description)
        except self._error as exc:
            invalidated = self._dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
            if invalidated:
                # as SQLAlchemy's execution does on a disconnect: every connection of this
                # one's generation is replaced at its next checkout, not only this one
                pool_wide = getattr(self._engine.pool, "_invalidate", None)
                if pool_wide is not None:
                    pool_wide(connection, exc)
                else:
                    connection.invalidate(exc)
            raise DBAPIError.instance(
                self._sql,
                parameters,
                exc,
                self._error,
                connection_invalidated=invalidated,
                dialect=self._dialect,
            ) from exc
        finally:
            if cursor is not None:
                cursor.close()
            if switch and not invalidated:
                try:
                    driver.autocommit = False
                except self._error as exc:  # a connection whose mode is unknown is not reused
                    connection.invalidate(exc)
            connection.close()
        return [
            tuple(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in fetched
        ]

    def _processors_for(
        self, description: Sequence[Sequence[Any]]
    ) -> list[Callable[[Any], Any] | None]:
        found: list[Callable[[Any], Any] | None] = [
            kind.result_processor(self._dialect, column[1])
            for kind, column in zip(self._types, description, strict=True)
        ]
        self._processors = found
        return found
