"""The async face needs SQLAlchemy's asyncio extension (greenlet), an optional extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["HINT", "require_asyncio"]

HINT = (
    "doorward-sqlalchemy's async face needs SQLAlchemy's asyncio support (greenlet); "
    'install it with: pip install "doorward-sqlalchemy[asyncio]"'
)


def require_asyncio() -> ModuleType:
    """``sqlalchemy.ext.asyncio``, or an ``ImportError`` that names the extra to install.

    greenlet is imported first: SQLAlchemy raises its own ``ImportError`` only on the first
    import of ``sqlalchemy.ext.asyncio``, and a second import succeeds half-working.
    """
    try:
        importlib.import_module("greenlet")
        return importlib.import_module("sqlalchemy.ext.asyncio")
    except ImportError as exc:
        raise ImportError(f"{HINT} ({exc})", name=exc.name) from exc
