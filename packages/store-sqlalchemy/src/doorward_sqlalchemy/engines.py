"""Engines with sensible defaults for the embedded SQLite case."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
    """The aiosqlite twin of ``sqlite_engine``."""
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "connect", _pragmas)
    return engine
