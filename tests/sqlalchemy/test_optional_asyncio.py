"""The sync face works with SQLAlchemy alone; the async names need the asyncio extra
(greenlet), are imported on first use and say which extra to install when it is missing."""

import subprocess
import sys
import textwrap

import pytest

import doorward_sqlalchemy

HINT = 'pip install "doorward-sqlalchemy[asyncio]"'

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("greenlet", "aiosqlite", "aiomysql", "asyncpg")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import doorward_sqlalchemy
    from doorward import Argon2Params, Auth, Settings
    from doorward._sync.mailers import Outbox
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
    from doorward_sqlalchemy.models import Base

    engine = sqlite_engine("sqlite://")
    Base.metadata.create_all(engine)
    outbox = Outbox()
    settings = Settings(secret_keys="s" * 40, base_url="https://x.example", argon2=Argon2Params.insecure_for_tests())
    auth = Auth(settings, SQLAlchemyStore(engine, default_models()), mailer=outbox)
    auth.register("a@example.com", "a long enough passphrase")
    auth.confirm_email(outbox.messages[-1].text.split("/confirm/")[1].split()[0])
    auth.login("a@example.com", "a long enough passphrase")
    assert "AsyncSQLAlchemyStore" in dir(doorward_sqlalchemy)

    # twice each: SQLAlchemy raises its own ImportError only on the first attempt
    for name in ["AsyncSQLAlchemyStore", "AsyncSQLAlchemyRateLimiter", "async_sqlite_engine"] * 2:
        try:
            getattr(doorward_sqlalchemy, name)
        except ImportError as exc:
            assert 'pip install "doorward-sqlalchemy[asyncio]"' in str(exc), exc
        else:
            raise AssertionError(name + " imported without greenlet")
    try:
        from doorward_sqlalchemy import AsyncSQLAlchemyStore
    except ImportError as exc:
        assert "doorward-sqlalchemy[asyncio]" in str(exc), exc
    else:
        raise AssertionError("from-import without greenlet")
    try:
        from doorward_sqlalchemy.engines import async_sqlite_engine
        async_sqlite_engine("sqlite+aiosqlite://")
    except ImportError as exc:
        assert "doorward-sqlalchemy[asyncio]" in str(exc), exc
    else:
        raise AssertionError("async engine without greenlet")
    assert not any(m.split(".")[0] in BLOCKED for m in sys.modules)
    print("sync-face-ok")
    """
)


def test_sync_face_works_without_greenlet():
    """With greenlet and the async drivers unimportable, the package imports, the sync store
    registers, confirms and logs in on SQLite, and each async name raises an ImportError
    that names ``doorward-sqlalchemy[asyncio]``, on every attempt."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=60
    )
    assert "sync-face-ok" in result.stdout, result.stderr


def test_async_names_resolve_to_the_classes():
    """With the extra installed, the lazy names are the real ones, cached after first use."""
    from doorward_sqlalchemy._async.ratelimit import AsyncSQLAlchemyRateLimiter
    from doorward_sqlalchemy._async.store import AsyncSQLAlchemyStore
    from doorward_sqlalchemy.engines import async_sqlite_engine

    assert doorward_sqlalchemy.AsyncSQLAlchemyStore is AsyncSQLAlchemyStore
    assert doorward_sqlalchemy.AsyncSQLAlchemyRateLimiter is AsyncSQLAlchemyRateLimiter
    assert doorward_sqlalchemy.async_sqlite_engine is async_sqlite_engine
    assert "AsyncSQLAlchemyStore" in vars(doorward_sqlalchemy)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = doorward_sqlalchemy.nothing
