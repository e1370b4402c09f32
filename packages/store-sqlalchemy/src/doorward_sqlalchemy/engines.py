"""Engines with sensible defaults for the embedded SQLite case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event

from doorward_sqlalchemy._asyncio import require_asyncio

if TYPE_CHECKING:
    # Only for the annotation: importing sqlalchemy.ext.asyncio needs greenlet, which the
    # sync face does without (the exception to the no-TYPE_CHECKING rule, see __init__).
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["async_sqlite_engine", "sqlite_engine"]


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sqlite_engine(url: str = "sqlite:///doorward.sqlite3", **kwargs: Any) -> Engine:
    """A SQLite engine with WAL, foreign keys on and a 5 s busy timeout."""
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _pragmas)
    return engine


def async_sqlite_engine(
    url: str = "sqlite+aiosqlite:///doorward.sqlite3", **kwargs: Any
) -> AsyncEngine:
    """The aiosqlite twin of ``sqlite_engine``.

    Needs ``pip install "doorward-sqlalchemy[sqlite-async]"`` (greenlet and aiosqlite).
    """
    engine: AsyncEngine = require_asyncio().create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _pragmas)
    return engine
