"""Fixed statements run through the DB-API cursor of a connection from the engine's pool.

Every authenticated request makes one indexed SELECT (the credential with its user), and
every login one UPDATE and one INSERT. On SQLite SQLAlchemy's execution machinery around
such a statement (the execution context, parameter construction, the result and its
rows) costs several times what the statement does: about 60 of 75 µs a lookup.
``DirectSelect`` and ``DirectWrites`` compile their statements once for the engine's
dialect and run them on a connection checked out of the same pool (so pool events,
pre-ping and reset-on-return apply), converting values with the column types' own bind
and result processors and filling in the columns' scalar Python defaults, as SQLAlchemy
would.

The engine stays the judge: with ``echo``, any execution option, or a listener on
statement execution or on transactions (tracing, statement counters) ``usable()`` is
false and the store goes through SQLAlchemy as before. A statement SQLAlchemy would do
more for (a callable column default, an expanding parameter) is not run directly
(``DirectWrites.statement`` gives ``None``). Driver errors come out as SQLAlchemy's
``DBAPIError`` subclasses (a broken connection is invalidated first), so the store
translates them as any other: a unique key refused is an ``IntegrityError``.

Reads on SQLite, MySQL/MariaDB and PostgreSQL (sync engines), and on async engines on
psycopg 3 and aiomysql (``AsyncDirectSelect``); writes on SQLite and PostgreSQL, sync
(on MySQL and MariaDB the pool's reset after a commit is one more round trip, which
SQLAlchemy's own path knows to skip). On PostgreSQL the store's reads run in
autocommit (no ``BEGIN``/``ROLLBACK`` round trips): ``autocommit=True`` puts the driver's
connection in that mode for the statement and back in the mode it had before it returns
to the pool, as SQLAlchemy's ``isolation_level="AUTOCOMMIT"`` option does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import ClauseElement, Engine
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn  # needs greenlet only when called

#: The engine's and the dialect's events a statement run through SQLAlchemy would fire.
_ENGINE_EVENTS = (
    "engine_connect",
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
    "begin",
    "commit",
    "rollback",
)
_DIALECT_EVENTS = (
    "handle_error",
    "do_execute",
    "do_executemany",
    "do_execute_no_params",
    "do_setinputsizes",
)
_READS = frozenset({"sqlite", "mysql", "mariadb", "postgresql"})
_WRITES = frozenset({"sqlite", "postgresql"})

#: rows (or a list of them, run as one executemany) of a statement's parameters by name
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class Statement:
    """One statement compiled for a dialect, with the conversions SQLAlchemy would apply."""

    def __init__(
        self,
        dialect: Any,
        statement: ClauseElement,
        *,
        columns: Sequence[Any] = (),
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        assert isinstance(compiled, SQLCompiler)
        self._dialect = dialect
        self.sql = compiled.string
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._binds: dict[str, Callable[[Any], Any]] = {}
        self._fixed: dict[str, Any] = {}
        self.plain = not compiled.escaped_bind_names
        for bind, name in compiled.bind_names.items():
            if bind.expanding or bind.literal_execute or bind.callable is not None:
                self.plain = False
            elif not bind.required:  # a value written into the statement, as `SET n = 0`
                self._fixed[name] = bind.value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds[name] = process
        # columns the statement fills in from their Python default (``default=0``)
        for column in compiled.insert_prefetch:
            self._default(column.default, column.key)
        for column in compiled.update_prefetch:
            self._default(column.onupdate, column.key)
        self._types = [column.type.dialect_impl(dialect) for column in columns]
        #: (position, result processor) of the columns that have one
        self._processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def _default(self, default: Any, key: str) -> None:
        if default is not None and default.is_scalar:
            self._fixed[key] = default.arg
        else:  # a callable or a sequence: SQLAlchemy's execution context evaluates those
            self.plain = False

    def parameters(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters for ``params`` (by bind name), converted."""
        values = {**self._fixed, **params} if self._fixed else dict(params)
        for name, process in self._binds.items():
            if name in values:
                values[name] = process(values[name])
        return tuple(values[name] for name in self._order) if self._order is not None else values

    def convert(
        self, description: Sequence[Sequence[Any]], fetched: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        """The fetched rows, each value through its column type's result processor."""
        processors = self._processors
        if processors is None:
            found = [
                kind.result_processor(self._dialect, column[1])
                for kind, column in zip(self._types, description, strict=True)
            ]
            processors = [(at, process) for at, process in enumerate(found) if process]
            self._processors = processors
        rows = []
        for row in fetched:
            values = list(row)
            for at, process in processors:
                values[at] = process(values[at])
            rows.append(tuple(values))
        return rows


class _Direct:
    """What reads and writes share: the engine's consent, and driver errors translated."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._error: type[DBAPIModule.Error] = engine.dialect.loaded_dbapi.Error

    def usable(self) -> bool:
        """Whether running statements directly skips nothing the engine was asked to do."""
        engine = self._engine
        if engine.echo or engine.get_execution_options():
            return False
        # SQLAlchemy marks an engine or dialect once anything listens to it (and never
        # unmarks it): unmarked, there is nothing to look for
        if not getattr(engine, "_has_events", True) and not getattr(
            self._dialect, "_has_events", True
        ):
            return True
        return not (
            any(getattr(engine.dispatch, event) for event in _ENGINE_EVENTS)
            or any(getattr(self._dialect.dispatch, event) for event in _DIALECT_EVENTS)
        )

    def _translated(
        self, exc: DBAPIModule.Error, connection: Any, cursor: Any, sql: str, params: Any
    ) -> StatementError:
        """``exc`` as SQLAlchemy raises it; a connection it broke is invalidated first."""
        invalidated = bool(self._dialect.is_disconnect(exc, connection.dbapi_connection, cursor))
        if invalidated:
            # as SQLAlchemy's execution does on a disconnect: every connection of this one's
            # generation is replaced at its next checkout, not only this one
            pool_wide = getattr(self._engine.pool, "_invalidate", None)
            if pool_wide is not None:
                pool_wide(connection, exc)
            else:
                connection.invalidate(exc)
        return DBAPIError.instance(
            sql,
            params,
            exc,
            self._error,
            connection_invalidated=invalidated,
            dialect=self._dialect,
        )


class _Select(_Direct):
    """What the sync and the async select share: the compiled statement and its mode."""

    def __init__(self, engine: Engine, statement: Any, *, autocommit: bool = False) -> None:
        super().__init__(engine)
        self._autocommit = autocommit
        self._statement = Statement(
            engine.dialect, statement, columns=list(statement.selected_columns)
        )


class DirectSelect(_Select):
    """One compiled SELECT, run with ``rows(params)`` where ``usable()`` says it may be."""

    @classmethod
    def of(cls, engine: object, statement: Any, *, autocommit: bool = False) -> DirectSelect | None:
        """A direct select for ``engine``, or ``None`` where there is none (async engines,
        other dialects); ``autocommit``: run it outside a transaction (PostgreSQL)."""
        if isinstance(engine, Engine) and engine.dialect.name in _READS:
            return cls(engine, statement, autocommit=autocommit)
        return None

    def rows(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The result rows for ``params`` (every bind parameter by name), converted."""
        statement = self._statement
        parameters = statement.parameters(params)
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
            cursor.execute(statement.sql, parameters)
            fetched = cursor.fetchall()
            description = cursor.description
        except self._error as exc:
            error = self._translated(exc, connection, cursor, statement.sql, parameters)
            invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
            raise error from exc
        finally:
            if cursor is not None:
                cursor.close()
            if switch and not invalidated:
                try:
                    driver.autocommit = False
                except self._error as exc:  # a connection whose mode is unknown is not reused
                    connection.invalidate(exc)
            connection.close()
        return statement.convert(description, fetched)


class AsyncDirectSelect(_Select):
    """``DirectSelect`` for an async engine on psycopg 3 or aiomysql: the statement is
    sent with the driver's own coroutines on a connection from the engine's pool, without
    SQLAlchemy's adaptation of each step to a greenlet (the pool's checkout and return
    still go through it, so its events, pre-ping and reset apply)."""

    _DRIVERS = frozenset({"psycopg", "aiomysql"})

    @classmethod
    def of(
        cls, engine: object, statement: Any, *, autocommit: bool = False
    ) -> AsyncDirectSelect | None:
        """A direct select for an async ``engine`` on a driver it knows, else ``None``."""
        synced = getattr(engine, "sync_engine", None)  # an AsyncEngine's
        if isinstance(synced, Engine) and synced.dialect.driver in cls._DRIVERS:
            return cls(synced, statement, autocommit=autocommit)
        return None

    async def rows(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The result rows for ``params`` (every bind parameter by name), converted."""
        statement = self._statement
        parameters = statement.parameters(params)
        connection = await greenlet_spawn(self._engine.raw_connection)
        driver: Any = connection.driver_connection
        cursor = None
        invalidated = False
        # psycopg's AsyncConnection, in autocommit for this statement only (as DirectSelect)
        switch = self._autocommit and not driver.autocommit
        try:
            if switch:
                await driver.set_autocommit(True)
            cursor = await _awaited(driver.cursor())
            await cursor.execute(statement.sql, parameters)
            fetched = await cursor.fetchall()
            description = cursor.description
        except self._error as exc:
            error = await greenlet_spawn(
                self._translated, exc, connection, None, statement.sql, parameters
            )
            invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
            raise error from exc
        finally:
            if cursor is not None:
                with suppress(self._error):
                    await _awaited(cursor.close())
            if switch and not invalidated:
                try:
                    await driver.set_autocommit(False)
                except self._error as exc:  # a connection whose mode is unknown is not reused
                    await greenlet_spawn(connection.invalidate, exc)
            await greenlet_spawn(connection.close)
        return statement.convert(description, fetched)


async def _awaited(value: Any) -> Any:
    """``value``, awaited if the driver made it awaitable (aiomysql's cursors and their
    ``close``; psycopg's ``cursor()`` is not, its ``close`` is)."""
    return await value if inspect.isawaitable(value) else value


class Writes:
    """The statements of one transaction, run in turn by ``run``."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.sql = ""
        self.parameters: Any = None

    def run(self, statement: Statement, params: Params) -> list[tuple[Any, ...]]:
        """Run ``statement`` with ``params`` (a list of them: one executemany); its rows
        (those of a ``RETURNING``), converted."""
        cursor = self._cursor
        self.sql = statement.sql
        if isinstance(params, Mapping):
            self.parameters = statement.parameters(params)
            cursor.execute(statement.sql, self.parameters)
        else:
            self.parameters = [statement.parameters(row) for row in params]
            cursor.executemany(statement.sql, self.parameters)
        if cursor.description is None:
            return []
        return statement.convert(cursor.description, cursor.fetchall())


class DirectWrites(_Direct):
    """Writes in one transaction of their own, committed at the end of ``transaction()``."""

    @classmethod
    def of(cls, engine: object) -> DirectWrites | None:
        """Direct writes for ``engine``, or ``None`` where there are none."""
        if isinstance(engine, Engine) and engine.dialect.name in _WRITES:
            return cls(engine)
        return None

    def statement(
        self,
        statement: ClauseElement,
        *,
        columns: Sequence[Any] = (),
        column_keys: Sequence[str] | None = None,
    ) -> Statement | None:
        """``statement`` compiled (``columns``: those it returns; ``column_keys``: the
        values an INSERT is given), or ``None`` if SQLAlchemy would do more for it."""
        made = Statement(self._dialect, statement, columns=columns, column_keys=column_keys)
        return made if made.plain else None

    @contextmanager
    def transaction(self) -> Iterator[Writes]:
        """One transaction: committed if the block ends, rolled back if it raises."""
        connection = self._engine.raw_connection()
        cursor = None
        writes = None
        try:
            cursor = connection.cursor()
            writes = Writes(cursor)
            yield writes
            connection.commit()
        except self._error as exc:
            self._rollback(connection)
            sql, parameters = (writes.sql, writes.parameters) if writes else ("", None)
            raise self._translated(exc, connection, cursor, sql, parameters) from exc
        except BaseException:
            self._rollback(connection)
            raise
        finally:
            if cursor is not None:
                with suppress(self._error):  # a cursor of a broken connection
                    cursor.close()
            connection.close()

    def _rollback(self, connection: Any) -> None:
        try:
            connection.rollback()
        except self._error as exc:  # a broken connection: not to be reused
            connection.invalidate(exc)
