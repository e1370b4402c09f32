# Generated from packages/store-sqlalchemy/src/doorward_sqlalchemy/_async/unit.py by scripts/unasync.py. Do not edit: edit the source.
"""One transaction across several calls of the SQLAlchemy store (DI-02), written once:
``UnitOfWork`` here, ``UnitOfWork`` generated into ``_sync/``.

``transaction()`` opens a session and binds it to the running context (a ``ContextVar``:
the task on the async face, the thread on the sync face). Until the block ends, each
store method runs on that session: a write in a savepoint of its own, so it is still all
or nothing by itself and a flow may carry on after one failed (an address taken, a
clean-up); a read sees the block's earlier writes. The block commits at its end and
rolls back on an exception; a block inside a block joins the outer one. Every store on
the same engine joins it, and so does a ``SQLAlchemyRateLimiter`` on a SQLite engine
(see ``bound_to``).

On SQLite the block starts with ``BEGIN IMMEDIATE``: it takes the database's write lock
at once (waiting up to the busy timeout) rather than at its first write, where a read
snapshot that another writer outdated would fail at once with "database is locked"; and
pysqlite, which issues no ``BEGIN`` before a ``SAVEPOINT``, would otherwise commit at the
first ``RELEASE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from doorward_sqlalchemy._errors import translated

__all__ = ["UnitOfWork", "bound_to"]

#: the engine whose transaction is open in this context, and its session
_BOUND: ContextVar[tuple[Any, Session] | None] = ContextVar(
    "doorward_sqlalchemy_transaction", default=None
)


def bound_to(engine: Any) -> Session | None:
    """The session of the transaction open on ``engine`` in this context, if any."""
    bound = _BOUND.get()
    return bound[1] if bound is not None and bound[0] is engine else None


class UnitOfWork:
    """``transaction()`` and the ways the store's methods reach the database through it."""

    engine: Engine
    sessions: sessionmaker[Session]
    _reads: Engine

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block's store calls in one transaction: committed at the end of the
        block, rolled back if it raises. A commit that fails raises ``StoreUnavailable``."""
        if bound_to(self.engine) is not None:
            yield
            return
        with translated("transaction"):
            with self.sessions.begin() as session:
                if self.engine.dialect.name == "sqlite":
                    connection = session.connection()
                    raw = getattr(connection, "sync_connection", connection).connection
                    if not getattr(raw.driver_connection, "in_transaction", False):
                        connection.exec_driver_sql("BEGIN IMMEDIATE")
                token = _BOUND.set((self.engine, session))
                try:
                    yield
                finally:
                    _BOUND.reset(token)

    @property
    def _in_transaction(self) -> bool:
        return bound_to(self.engine) is not None

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A session in a transaction of its own, or a savepoint of the bound one."""
        bound = bound_to(self.engine)
        if bound is None:
            with self.sessions.begin() as session:
                yield session
            return
        with bound.begin_nested():
            yield bound

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A session of its own for reads, or the bound one."""
        bound = bound_to(self.engine)
        if bound is None:
            with self.sessions() as session:
                yield session
            return
        yield bound

    @contextmanager
    def _writing_core(self) -> Iterator[Connection]:
        """A connection in a transaction of its own, or the bound one in a savepoint."""
        bound = bound_to(self.engine)
        if bound is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with bound.begin_nested():
            yield bound.connection()

    @contextmanager
    def _reading_core(self) -> Iterator[Connection]:
        """A connection for single-statement reads, or the bound one."""
        bound = bound_to(self.engine)
        if bound is None:
            with self._reads.connect() as connection:
                yield connection
            return
        yield bound.connection()
