"""doorward's benchmarks (DESIGN.md §6, issue 17), on demand; never part of the test suite.

    .venv/bin/python bench/run.py                   # a few minutes
    .venv/bin/python bench/run.py --quick           # small n, seconds: a smoke run
    .venv/bin/python bench/run.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/run.py --mariadb mysql+pymysql://root@127.0.0.1:3306/bench
    .venv/bin/python bench/run.py --users 100000    # the scale check at 100,000 users (1,000,000 by default)

Measures what users run: the docs' default configuration (role scopes on, the default
in-process rate limiter, the default argon2 hasher), against separate bare Flask and
Starlette apps. Only argon2-cffi's primitive is stubbed (``argon2_stub.py``), in doorward
and in the peers alike, for the login and registration figures, which go over HTTP (the
test client). Prints medians, the issue's targets next to their goals, ratios to
Flask-Security-Too and fastapi-users measured in the same run (``bench/setup-peers``
installs them in ``bench/.peers``), SQL statements per authenticated request, per login
and per registration, and a login with each rate limiter (in-process, SQL, Redis at
``--redis``; issue 17 item 5). With
``--postgres`` / ``--mariadb`` (the database is emptied first: give a database of its
own) it also measures there, with the bare indexed ``SELECT`` floor through the same
driver and pool, sync (psycopg 3 / PyMySQL) and async (psycopg 3 / aiomysql).
Loopback req/s (``loopback.py``): Flask under gunicorn and Starlette under uvicorn on
127.0.0.1, bare and protected, driven by wrk (Debian's ``wrk``; ``bench/setup-peers``
installs it); skipped, and said so, when wrk is absent or with ``--no-loopback``.
The per-request measures and loopback are repeated with the session snapshot on
(``session_snapshot_seconds=60``; off by default), and the targets printed for both.
Under each target doorward misses, its floor: the same measure of a route that makes only
the store calls doorward's request must make (``flask_floor_app``, ``starlette_floor_app``,
``loopback``'s ``/lookup``), next to what the goal allows.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from flask import Flask
from flask import jsonify as flask_jsonify
from flask import request as flask_request
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loopback  # noqa: E402
from argon2_stub import stubbed  # noqa: E402
from peers import measured_turns, timed_turns  # noqa: E402 (the peers' own measure)

from doorward import AsyncArgon2Hasher, AsyncUserStore, Auth, Role, Settings  # noqa: E402
from doorward._async.mailers import AsyncOutbox  # noqa: E402
from doorward._sync.mailers import Outbox, mailer_from_url  # noqa: E402
from doorward.clock import FrozenClock  # noqa: E402
from doorward.hashing import Argon2Hasher  # noqa: E402
from doorward.queued import QueuedMailer  # noqa: E402
from doorward.testing.smtp import SmtpServer  # noqa: E402
from doorward.threaded import AsyncThreadedStore  # noqa: E402
from doorward.threaded import _in_thread as threaded_call  # noqa: E402
from doorward.tokens import CsrfTokens  # noqa: E402
from doorward_flask import Doorward as FlaskDoorward  # noqa: E402
from doorward_flask import login_required  # noqa: E402
from doorward_redis import RedisRateLimiter  # noqa: E402
from doorward_sqlalchemy import (  # noqa: E402
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base, DefaultCredential, DefaultUser  # noqa: E402
from doorward_starlette import Doorward as StarletteDoorward  # noqa: E402

SECRET = "benchmark-secret-key-0123456789-abcdefghij"
#: ``Settings.session_snapshot_seconds`` in the "snapshot on" measures (off is the default)
SNAPSHOT_SECONDS = 60
PASSWORD = "correct horse battery staple"


class StubHasher:
    """No argon2: what is left is doorward's own cost."""

    def hash(self, password: str) -> str:
        return "stub$" + password

    def verify(self, stored: str | None, password: str) -> bool:
        return stored == "stub$" + password

    def needs_rehash(self, stored: str) -> bool:
        return False


def settings(**overrides: object) -> Settings:
    """The docs' configuration: default rate limits, features and hasher parameters."""
    values: dict[str, object] = {
        "secret_keys": SECRET,
        "base_url": "https://bench.example.com",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def timed(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return median_us(samples)


# -- per-request cost ---------------------------------------------------------------------------

#: a new client address for each login and registration: a new rate-limit key, counted
ADDRESSES = (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in itertools.count(1))
EMAILS = (f"user{i}@example.com" for i in itertools.count())


def fresh_engine(folder: Path, name: str, url: str | None) -> sa.Engine:
    """A SQLite file in ``folder``, or the database at ``url`` emptied."""
    if url is None:
        engine = sqlite_engine(f"sqlite:///{folder}/{name}.sqlite3")
    else:
        engine = sa.create_engine(url, pool_size=10)
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


def async_url(url: str) -> str:
    """The async driver's URL for the same database (psycopg 3 is both; PyMySQL → aiomysql)."""
    return url.replace("+pymysql", "+aiomysql")


def count_statements(engine: sa.Engine) -> Callable[[], int]:
    """Start counting SQL statements sent through ``engine``; the returned call stops and tells."""
    seen = {"n": 0}

    def count(*_: object) -> None:
        seen["n"] += 1

    sa.event.listen(engine, "before_cursor_execute", count)

    def done() -> int:
        sa.event.remove(engine, "before_cursor_execute", count)
        return seen["n"]

    return done


def flask_request_cost(
    n: int, folder: Path, url: str | None = None, snapshot: int = 0
) -> dict[str, float]:
    """``snapshot``: ``Settings.session_snapshot_seconds`` (0: off, the default)."""
    engine = fresh_engine(folder, f"flask{snapshot}", url)
    bare_app = Flask("bare")

    @bare_app.get("/bare")
    def bare() -> str:
        return "ok"

    app = Flask(__name__)
    options = {"session_snapshot_seconds": snapshot} if snapshot else {}
    store = SQLAlchemyStore(engine, default_models())
    FlaskDoorward(app, store=store, settings=settings(**options), mailer=Outbox())

    @app.get("/open")
    def open_route() -> str:
        return "ok"

    @app.get("/protected")
    @login_required
    def protected() -> str:
        return "ok"

    auth = app.extensions["doorward"].auth
    user = auth.create_user("bench@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("bench@example.com", PASSWORD)
    token, _ = auth.issue_api_token(user, "bench")
    client = app.test_client()
    client.set_cookie("__Host-doorward", issued.token)
    anonymous = app.test_client()
    plain = bare_app.test_client()
    floor_app = flask_floor_app(auth, issued.token)
    floor = floor_app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    first = client.get("/protected")
    assert first.status_code == 200
    if snapshot:  # sent back as a browser would
        made = [c for c in first.headers.getlist("Set-Cookie") if c.startswith("__Host-doorward-s")]
        assert made, "no snapshot cookie"
        client.set_cookie("__Host-doorward-snapshot", made[0].split(";")[0].split("=", 1)[1])
    done = count_statements(engine)
    client.get("/protected")
    statements = done()
    results = timed_turns(
        {
            "bare": lambda: plain.get("/bare"),
            "open": lambda: anonymous.get("/open"),
            "session": lambda: client.get("/protected"),
            "token": lambda: anonymous.get("/protected", headers=bearer),
            "lookup": lambda: floor.get("/lookup"),
        },
        n,
    )
    results["statements"] = float(statements)
    csrf_cookie, csrf_header = csrf_pair()
    body = {"email": "bench@example.com", "password": PASSWORD}

    def browser(served: Flask = app) -> Any:
        # a fresh anonymous client from a new address, as the peers' measure, with a
        # valid CSRF pair
        fresh = served.test_client()
        fresh.environ_base["REMOTE_ADDR"] = next(ADDRESSES)
        fresh.set_cookie("__Host-doorward-csrf", csrf_cookie)
        return fresh

    def login() -> None:
        response = browser().post("/auth/login", json=body, headers=csrf_header)
        assert response.status_code == 200, response.data

    def login_floor() -> None:
        response = browser(floor_app).post("/login", json=body, headers=csrf_header)
        assert response.status_code == 200, response.data

    def register() -> None:
        fields = {"email": next(EMAILS), "password": PASSWORD}
        response = browser().post("/auth/register", json=fields, headers=csrf_header)
        assert response.status_code in {200, 201, 202}, response.data

    if not snapshot:  # on SQLite and on each --postgres / --mariadb database
        for key, call in (("login", login), ("register", register)):
            done = count_statements(engine)
            call()
            results[f"{key}_statements"] = float(done())
        logins = timed_turns({"login": login, "floor": login_floor}, max(n // 4, 50))
        results["http_login"], results["login_floor"] = logins["login"], logins["floor"]
        results["http_register"] = timed(register, max(n // 4, 50))
    engine.dispose()
    return results


def flask_floor_app(auth: Auth, session_token: str) -> Flask:
    """The floors of the targets doorward misses: a bare Flask app whose routes make only
    the store calls doorward's request must make.

    ``GET /lookup``: the store's lookup of the session (the one SELECT of a protected
    request), nothing else. ``POST /login``: the store calls of a login (the user by email,
    then the login's writes and its new session in one transaction), the session token made
    for it, and the answer with that cookie; no validation, limiter, CSRF or password check.
    """
    app = Flask("floor")
    store = auth.ctx.store
    session_hash = auth.ctx.secrets.secret_hash("session", session_token)
    login = auth.features["login"]

    @app.get("/lookup")
    def lookup() -> str:
        assert store.get_credential("session", session_hash) is not None
        return "ok"

    @app.post("/login")
    def login_route() -> Any:
        fields = flask_request.get_json()
        found = store.get_user_by_email_with_authenticators(fields["email"])
        assert found is not None
        now = auth.ctx.clock.now()
        address = flask_request.remote_addr
        issued, credentials = login.new_session(  # type: ignore[attr-defined]
            found[0], now, remember=False, ip=address, user_agent=None, authenticated=True
        )
        user = store.record_login_with_credentials(found[0], now, address, credentials)
        response = flask_jsonify({"user": {"id": str(user.id), "email": user.email}})
        response.set_cookie(
            "__Host-doorward", issued.token, secure=True, httponly=True, samesite="Lax"
        )
        return response

    return app


def limiter_login_cost(n: int, folder: Path, redis_url: str) -> dict[str, float] | None:
    """Issue 17 item 5: a Flask login over HTTP (SQLite store, argon2 primitive stubbed,
    a new client address each, so each login is a counted hit of a new key) with the
    default in-process limiter, ``SQLAlchemyRateLimiter`` on the store's SQLite engine and
    ``RedisRateLimiter`` at ``redis_url``; the three take turns in rounds. ``None`` when
    Redis cannot be reached. Keys go under a prefix of their own, deleted afterwards."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        return None
    prefix = f"doorward-bench:{secrets.token_hex(4)}:"
    engine = fresh_engine(folder, "limiters", None)
    limiters: dict[str, Any] = {
        "memory": None,  # the default
        "sqlalchemy": SQLAlchemyRateLimiter(engine),
        "redis": RedisRateLimiter(client, prefix=prefix),
    }
    csrf_cookie, csrf_header = csrf_pair()
    body = {"email": "bench@example.com", "password": PASSWORD}
    logins: dict[str, Callable[[], None]] = {}
    for name, limiter in limiters.items():
        app = Flask(f"limiter-{name}")
        FlaskDoorward(
            app,
            store=SQLAlchemyStore(engine, default_models()),
            settings=settings(),
            mailer=Outbox(),
            limiter=limiter,
        )
        if not logins:
            app.extensions["doorward"].auth.create_user(
                "bench@example.com", PASSWORD, confirmed=True
            )

        def login(app: Flask = app) -> None:
            browser = app.test_client()
            browser.environ_base["REMOTE_ADDR"] = next(ADDRESSES)
            browser.set_cookie("__Host-doorward-csrf", csrf_cookie)
            response = browser.post("/auth/login", json=body, headers=csrf_header)
            assert response.status_code == 200, response.data

        logins[name] = login
    samples: dict[str, list[float]] = {name: [] for name in logins}
    rounds = 5
    per_round = max(n // 4 // rounds, 20)
    try:
        for round_ in range(-1, rounds):  # round -1 warms up
            for name, login in logins.items():
                for _ in range(per_round):
                    start = time.perf_counter()
                    login()
                    if round_ >= 0:
                        samples[name].append(time.perf_counter() - start)
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
        engine.dispose()
    return {name: median_us(taken) for name, taken in samples.items()}


def mfa_login_cost(n: int, folder: Path) -> dict[str, float]:
    """Issue 13's figure (Flask, SQLite, HTTP in-process, argon2 stubbed): a password login
    of an account without a second factor, and of one with TOTP (the password step that
    answers ``mfa_required``, then the code step), rate limits off."""
    import pyotp

    engine = fresh_engine(folder, "mfa", None)
    app = Flask(__name__)
    clock = FrozenClock(datetime.now(UTC))
    FlaskDoorward(
        app,
        store=SQLAlchemyStore(engine, default_models()),
        settings=settings(rate_limits={}),
        mailer=Outbox(),
        hasher=StubHasher(),
        clock=clock,
    )
    auth = app.extensions["doorward"].auth
    auth.create_user("plain@example.com", PASSWORD, confirmed=True)
    auth.create_user("totp@example.com", PASSWORD, confirmed=True)
    csrf_cookie, csrf_header = csrf_pair()
    _, issued = auth.login("totp@example.com", PASSWORD)
    owner = app.test_client()
    owner.set_cookie("__Host-doorward", issued.token)
    owner.set_cookie("__Host-doorward-csrf", csrf_cookie)
    secret = owner.post("/auth/mfa/totp", json={}, headers=csrf_header).get_json()["secret"]
    totp = pyotp.TOTP(secret)
    assert (
        owner.post(
            "/auth/mfa/totp/confirm", json={"code": totp.at(clock.now())}, headers=csrf_header
        )
    ).status_code == 200

    def login(email: str) -> Any:
        browser = app.test_client()
        browser.set_cookie("__Host-doorward-csrf", csrf_cookie)
        body = {"email": email, "password": PASSWORD}
        return browser, browser.post("/auth/login", json=body, headers=csrf_header)

    def plain() -> None:
        assert login("plain@example.com")[1].status_code == 200

    def password_step() -> None:
        assert login("totp@example.com")[1].get_json()["mfa_required"] is True

    def code_step() -> None:
        browser, answer = login("totp@example.com")
        assert answer.get_json()["mfa_required"] is True
        clock.advance(30)  # each time step is accepted once: the next step's code
        done = browser.post(
            "/auth/login/mfa", json={"code": totp.at(clock.now())}, headers=csrf_header
        )
        assert done.status_code == 200, done.data

    return {
        "login_plain": timed(plain, max(n // 4, 100)),
        "login_password_step": timed(password_step, max(n // 4, 100)),
        "login_both_steps": timed(code_step, max(n // 8, 50)),
    }


def app_client_cost(n: int, folder: Path) -> dict[str, float]:
    """Issue 14's figures (Flask, SQLite, in-process): a refresh (rotation) over HTTP, a
    request with an app client's access token, and a sign-in code request; store writes
    per code request and per refresh, counted at the SQL layer."""
    engine = fresh_engine(folder, "app_clients", None)
    app = Flask(__name__)
    FlaskDoorward(
        app,
        store=SQLAlchemyStore(engine, default_models()),
        # limits off: the same request from one address thousands of times
        settings=settings(app_clients=True, sign_in_by_email=True, rate_limits={}),
        mailer=Outbox(),
        hasher=StubHasher(),
    )

    @app.get("/protected")
    @login_required
    def protected() -> str:
        return "ok"

    auth = app.extensions["doorward"].auth
    auth.create_user("app@example.com", PASSWORD, confirmed=True)
    client = app.test_client()
    signed = client.post(
        "/auth/token",
        json={"grant_type": "password", "email": "app@example.com", "password": PASSWORD},
    )
    state = {"refresh": signed.get_json()["refresh_token"]}
    bearer = {"Authorization": f"Bearer {signed.get_json()['access_token']}"}
    writes = {"n": 0}

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes["n"] += 1

    def refresh() -> None:
        answer = client.post(
            "/auth/token", json={"grant_type": "refresh_token", "refresh_token": state["refresh"]}
        )
        state["refresh"] = answer.get_json()["refresh_token"]

    csrf_cookie, csrf_header = csrf_pair()
    code_client = app.test_client()
    code_client.set_cookie("__Host-doorward-csrf", csrf_cookie)

    def request_code() -> None:
        answer = code_client.post(
            "/auth/login/code", json={"email": "app@example.com"}, headers=csrf_header
        )
        assert answer.status_code == 202, answer.data

    sa.event.listen(engine, "before_cursor_execute", count)
    writes["n"] = 0
    refresh()
    per_refresh = writes["n"]
    writes["n"] = 0
    request_code()
    per_code = writes["n"]
    sa.event.remove(engine, "before_cursor_execute", count)
    return {
        "refresh": timed(refresh, max(n // 4, 100)),
        "access_token_request": timed(lambda: client.get("/protected", headers=bearer), n),
        "code_request": timed(request_code, max(n // 4, 100)),
        "writes_per_refresh": per_refresh,
        "writes_per_code_request": per_code,
    }


def csrf_pair() -> tuple[str, dict[str, str]]:
    """A CSRF cookie and the matching header, as a client gets them from ``GET /auth/csrf``."""
    tokens = CsrfTokens(settings().secret_keys)
    cookie = tokens.new_cookie()
    return cookie, {"X-CSRF-Token": tokens.token_for(cookie), "Accept": "application/json"}


def async_store(
    folder: Path, name: str, kind: str, url: str | None = None
) -> tuple[AsyncUserStore, sa.Engine, AsyncThreadedStore | None]:
    """``threaded``: the sync store in worker threads (what the examples use on SQLite;
    returned third too, for its count of calls, each a thread hop); ``aiosqlite``;
    ``async``: the async store on ``url``."""
    if kind == "async":
        assert url is not None
        fresh_engine(folder, name, url).dispose()
        on_url = create_async_engine(async_url(url), pool_size=10)
        return AsyncSQLAlchemyStore(on_url, default_models()), on_url.sync_engine, None
    path = folder / f"{name}.sqlite3"
    engine = sqlite_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    if kind == "threaded":
        threaded = AsyncThreadedStore(SQLAlchemyStore(engine, default_models()))
        return threaded, engine, threaded
    aio = async_sqlite_engine(f"sqlite+aiosqlite:///{path}")
    return AsyncSQLAlchemyStore(aio, default_models()), aio.sync_engine, None


async def _starlette_cost(
    n: int,
    folder: Path,
    *,
    kind: str,
    role_scopes: bool = True,
    url: str | None = None,
    snapshot: int = 0,
) -> dict[str, float]:
    name = f"starlette-{kind}-{role_scopes}-{snapshot}"
    store, engine, threaded = async_store(folder, name, kind, url)
    options = {"session_snapshot_seconds": snapshot} if snapshot else {}
    doorward = StarletteDoorward(
        settings=settings(**options), store=store, mailer=AsyncOutbox(), role_scopes=role_scopes
    )

    async def bare(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def open_route(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @requires("authenticated")
    async def protected(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app_bare = Starlette(routes=[Route("/bare", bare)])
    app = Starlette(
        routes=[Route("/open", open_route), Route("/protected", protected), doorward.mount()],
        middleware=[doorward.middleware()],
    )
    auth = doorward.auth
    user = await auth.create_user("bench@example.com", PASSWORD, confirmed=True)
    # a user with two roles, so the role scopes have something to carry
    await auth.save_role(Role(name="member", permissions=frozenset({"posts:read"})))
    await auth.save_role(Role(name="editor", permissions=frozenset({"posts:edit", "posts:read"})))
    await auth.add_role(user, "member")
    await auth.add_role(user, "editor")
    _, issued = await auth.login("bench@example.com", PASSWORD)
    token, _ = await auth.issue_api_token(user, "bench")

    async def measure(call: Callable[[], Awaitable[object]], count: int) -> float:
        for _ in range(min(200, count)):
            await call()
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - start)
        return median_us(samples)

    base = "https://bench"
    session = {"Cookie": f"__Host-doorward={issued.token}"}
    bearer = {"Authorization": f"Bearer {token}"}
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=app_bare), base_url=base)
    floor_app = starlette_floor_app(auth, issued.token, hop=threaded is not None)
    floor = httpx.AsyncClient(transport=httpx.ASGITransport(app=floor_app), base_url=base)
    transport = httpx.ASGITransport(app=app)
    async with plain, floor, httpx.AsyncClient(transport=transport, base_url=base) as c:
        first = await c.get("/protected", headers=session)
        assert first.status_code == 200
        made = first.cookies.get("__Host-doorward-snapshot")
        if snapshot:  # sent back as a browser would
            assert made is not None
            session = {"Cookie": f"{session['Cookie']}; __Host-doorward-snapshot={made}"}
        c.cookies.clear()
        done = count_statements(engine)
        hops = threaded.calls if threaded else 0
        await c.get("/protected", headers=session)
        statements = done()
        hops = (threaded.calls - hops) if threaded else 0
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "bare": lambda: plain.get("/bare"),
            "open": lambda: c.get("/open"),
            "session": lambda: c.get("/protected", headers=session),
            "token": lambda: c.get("/protected", headers=bearer),
            "lookup": lambda: floor.get("/lookup"),
        }
        if threaded is not None:  # what one hop costs here: a no-op through the same threads
            calls["hop"] = lambda: threaded_call(None, int)
            calls["bare_hop"] = lambda: floor.get("/hop")
        results = await measured_turns(calls, n)
    results["statements"] = float(statements)
    results["thread_hops"] = float(hops)
    if url is None and not snapshot:
        csrf_cookie, csrf_header = csrf_pair()
        headers = {**csrf_header, "Cookie": f"__Host-doorward-csrf={csrf_cookie}"}
        body = {"email": "bench@example.com", "password": PASSWORD}
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:

            async def login() -> None:
                transport.client = (next(ADDRESSES), 123)  # a new client address each time
                response = await c.post("/auth/login", json=body, headers=headers)
                assert response.status_code == 200, response.text
                c.cookies.clear()

            async def register() -> None:
                transport.client = (next(ADDRESSES), 123)
                fields = {"email": next(EMAILS), "password": PASSWORD}
                response = await c.post("/auth/register", json=fields, headers=headers)
                assert response.status_code in {200, 201, 202}, response.text
                c.cookies.clear()

            results["http_login"] = await measure(login, max(n // 4, 50))
            results["http_register"] = await measure(register, max(n // 4, 50))
    if kind == "threaded":
        engine.dispose()
    else:
        await store.engine.dispose()  # type: ignore[attr-defined]
    return results


def starlette_floor_app(auth: Any, session_token: str, *, hop: bool) -> Starlette:
    """As ``flask_floor_app``, on Starlette: ``GET /lookup`` awaits only the store's lookup
    of the session with its roles (the one store call of a protected request at the
    defaults); with ``hop``, ``GET /hop`` makes one no-op
    call through the threaded store's worker threads (what the hop alone costs inside a
    request, where what follows it runs after a thread wake-up)."""
    store = auth.ctx.store
    session_hash = auth.ctx.secrets.secret_hash("session", session_token)

    async def lookup(request: object) -> PlainTextResponse:
        assert await store.get_credential_with_roles("session", session_hash) is not None
        return PlainTextResponse("ok")

    async def one_hop(request: object) -> PlainTextResponse:
        await threaded_call(None, int)
        return PlainTextResponse("ok")

    routes = [Route("/lookup", lookup)]
    if hop:
        routes.append(Route("/hop", one_hop))
    return Starlette(routes=routes)


def starlette_request_cost(
    n: int,
    folder: Path,
    *,
    kind: str,
    role_scopes: bool = True,
    url: str | None = None,
    snapshot: int = 0,
) -> dict[str, float]:
    return asyncio.run(
        _starlette_cost(n, folder, kind=kind, role_scopes=role_scopes, url=url, snapshot=snapshot)
    )


# -- the floor: one bare indexed SELECT through the same driver and pool -----------------------------


def floor_cost(url: str, n: int) -> dict[str, float]:
    """A credential row looked up by its indexed hash, sync and async, through the same
    engine options doorward's reads use (autocommit on PostgreSQL): pool checkout, one
    ``SELECT``, return."""
    credential = default_models().credential
    statement = sa.select(credential.id).where(credential.secret_hash == sa.bindparam("h"))
    params = {"h": "f" * 64}
    engine = sa.create_engine(url, pool_size=10)
    reads = (
        engine.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql"
        else engine
    )

    def once() -> None:
        with reads.connect() as connection:
            connection.execute(statement, params).first()

    results = {"sync": timed(once, n)}
    engine.dispose()

    async def run() -> float:
        engine = create_async_engine(async_url(url), pool_size=10)
        reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        for _ in range(min(200, n)):
            async with reads.connect() as connection:
                (await connection.execute(statement, params)).first()
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            async with reads.connect() as connection:
                (await connection.execute(statement, params)).first()
            samples.append(time.perf_counter() - start)
        await engine.dispose()
        return median_us(samples)

    results["async"] = asyncio.run(run())
    return results


# -- login and registration beyond the hash ----------------------------------------------------------


def flows_cost(n: int, folder: Path) -> dict[str, float]:
    """Registration (a direct call, hashing stubbed) mailing a real SMTP server on loopback,
    queued (the default) and inline; one real argon2 verify at the defaults."""
    engine = sqlite_engine(f"sqlite:///{folder}/flows.sqlite3")
    Base.metadata.create_all(engine)
    counter = iter(range(10**9))
    hasher = Argon2Hasher()
    stored = hasher.hash(PASSWORD)
    results = {"argon2_verify": timed(lambda: hasher.verify(stored, PASSWORD), 10)}
    with SmtpServer() as smtp:
        # the mail to a real SMTP server on loopback: queued (the default) and inline
        url = f"smtp://127.0.0.1:{smtp.port}?from=auth@example.com"
        for name, mail_url in (("smtp_queued", url), ("smtp_inline", url + "&queue=0")):
            mailer = mailer_from_url(mail_url)
            with_smtp = Auth(
                settings(),
                SQLAlchemyStore(engine, default_models()),
                mailer=mailer,
                hasher=StubHasher(),
            )
            results[f"register_{name}"] = timed(
                lambda a=with_smtp: a.register(f"user{next(counter)}@example.com", PASSWORD),
                max(n // 4, 100),
            )
            if isinstance(mailer, QueuedMailer):
                mailer.close()
    return results


# -- the event loop while hashing ------------------------------------------------------------------------


async def _loop_lag(folder: Path, *, threaded: bool) -> dict[str, float]:
    hasher = AsyncArgon2Hasher.from_settings(settings())
    doorward = StarletteDoorward(
        settings=settings(),
        store=async_store(folder, f"lag{threaded}", "threaded" if threaded else "aiosqlite")[0],
        mailer=AsyncOutbox(),
        hasher=hasher,
    )

    async def ping(request: object) -> PlainTextResponse:
        return PlainTextResponse("pong")

    app = Starlette(
        routes=[Route("/ping", ping), doorward.mount()], middleware=[doorward.middleware()]
    )
    await doorward.auth.create_user("lag@example.com", PASSWORD, confirmed=True)
    _, issued = await doorward.auth.login("lag@example.com", PASSWORD)
    csrf_cookie, csrf_header = csrf_pair()
    login_headers = {**csrf_header, "Cookie": f"__Host-doorward-csrf={csrf_cookie}"}
    body = {"email": "lag@example.com", "password": PASSWORD}
    transport = httpx.ASGITransport(app=app)
    done = asyncio.Event()

    async def probe(headers: dict[str, str], lags: list[float]) -> None:
        # its own client: the logins' cookies never reach the probe
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
            while not done.is_set():
                start = time.perf_counter()
                response = await client.get("/ping", headers=headers)
                lags.append(time.perf_counter() - start)
                assert response.status_code == 200
                await asyncio.sleep(0.002)

    anonymous: list[float] = []
    signed_in: list[float] = []
    probes = [
        asyncio.create_task(probe({}, anonymous)),
        asyncio.create_task(probe({"Cookie": f"__Host-doorward={issued.token}"}, signed_in)),
    ]
    async with httpx.AsyncClient(transport=transport, base_url="https://bench") as http:
        start = time.perf_counter()
        answers = await asyncio.gather(
            *(http.post("/auth/login", json=body, headers=login_headers) for _ in range(16))
        )
        wall = time.perf_counter() - start
    done.set()
    await asyncio.gather(*probes)
    assert all(answer.status_code == 200 for answer in answers)
    anonymous.sort()
    signed_in.sort()
    return {
        "probe_p50_ms": anonymous[len(anonymous) // 2] * 1e3,
        "probe_p99_ms": anonymous[int(len(anonymous) * 0.99)] * 1e3,
        "probes": float(len(anonymous)),
        "session_p50_ms": signed_in[len(signed_in) // 2] * 1e3,
        "session_p99_ms": signed_in[int(len(signed_in) * 0.99)] * 1e3,
        "logins_wall_s": wall,
        "peak_hashes": float(hasher.sync.peak_running),
    }


def loop_lag(folder: Path, *, threaded: bool) -> dict[str, float]:
    return asyncio.run(_loop_lag(folder, threaded=threaded))


# -- cost against the number of users --------------------------------------------------------------------


def scale(users: int, n: int, folder: Path) -> dict[str, float]:
    """Login and authentication at 1,000 users and at ``users``, each user with a live
    session (so the per-request lookup searches as many credentials as there are users),
    measured in turns (the two sizes side by side, so a slow minute does not read as
    growth)."""
    calls: dict[str, Callable[[], object]] = {}
    engines = []
    for count in (1000, users):
        engine = sqlite_engine(f"sqlite:///{folder}/scale{count}.sqlite3")
        Base.metadata.create_all(engine)
        now = datetime.now(UTC)
        rows = [
            {
                "email": f"u{i}@example.com",
                "normalized_email": f"u{i}@example.com",
                "password_hash": "stub$" + PASSWORD,
                "active": True,
                "confirmed_at": now,
                "security_stamp": f"s{i}",
                "failed_logins": 0,
                "created_at": now,
                "login_count": 0,
            }
            for i in range(count)
        ]
        sessions = [
            {
                "id": f"c{i}",
                "user_id": i + 1,
                "kind": "session",
                "secret_hash": secrets.token_hex(32),
                "stamp": f"s{i}",
                "created_at": now,
                "authenticated_at": now,
            }
            for i in range(count)
        ]
        with engine.begin() as connection:
            for start in range(0, count, 50_000):
                connection.execute(sa.insert(DefaultUser), rows[start : start + 50_000])
                connection.execute(sa.insert(DefaultCredential), sessions[start : start + 50_000])
        auth = Auth(
            settings(),
            SQLAlchemyStore(engine, default_models()),
            mailer=Outbox(),
            hasher=StubHasher(),
        )
        target = f"u{count // 2}@example.com"
        _, issued = auth.login(target, PASSWORD)
        calls[f"login_{count}"] = lambda a=auth, t=target: a.login(t, PASSWORD)
        calls[f"authenticate_{count}"] = lambda a=auth, i=issued: a.authenticate(
            session_token=i.token
        )
        engines.append(engine)
    results = timed_turns(calls, n)
    for engine in engines:
        engine.dispose()
    return results


@dataclass
class Round:
    """One round of the head-to-head measures."""

    flask: dict[str, float]
    starlette: dict[str, float]
    peers: dict[str, Any] | None


def median_of(results: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def per_round(rounds: list[Round], ratio: Callable[[Round], float]) -> str:
    """A ratio in each round, for the spread beside the median's."""
    if len(rounds) < 2 or any(r.peers is None for r in rounds):
        return ""
    return " (rounds: " + ", ".join(f"{ratio(r):.2f}" for r in rounds) + ")"


def peers(n: int) -> dict[str, Any] | None:
    python = ROOT / "bench" / ".peers" / "bin" / "python"
    if not python.exists():
        return None
    output = subprocess.run(
        [str(python), str(ROOT / "bench" / "peers.py"), "--n", str(n)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if output.returncode != 0:
        print(output.stderr[-2000:])
        return None
    result: dict[str, object] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="requests per measure")
    parser.add_argument("--users", type=int, default=1_000_000, help="the large user count")
    parser.add_argument("--quick", action="store_true", help="small n and user counts: seconds")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure on this PostgreSQL database (emptied first; give one of its own), "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench",
    )
    parser.add_argument(
        "--mariadb",
        metavar="URL",
        help="also measure on this MariaDB/MySQL database (emptied first; give one of its own), "
        "e.g. mysql+pymysql://root@127.0.0.1:3306/bench (async: aiomysql)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default="redis://127.0.0.1:6379/0",
        help="the Redis server of the limiter comparison (skipped, and said so, when unreachable)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the head-to-head measures (doorward's Flask and Starlette rows and the "
        "peers take turns); each figure is the median of the rounds",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peers")
    parser.add_argument("--no-loopback", action="store_true", help="skip loopback req/s (wrk)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.users, args.rounds = min(args.n, 300), min(args.users, 10_000), 1
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with stubbed():
            # the head-to-head figures: doorward and the peers take turns, so a slow minute
            # of this shared machine falls on one round of each rather than on one side
            rounds: list[Round] = []
            for number in range(max(args.rounds, 1)):
                fresh = folder / f"round{number}"  # new databases for each round
                fresh.mkdir()
                rounds.append(
                    Round(
                        flask=flask_request_cost(args.n, fresh),
                        starlette=starlette_request_cost(args.n, fresh, kind="threaded"),
                        peers=None if args.no_peers else peers(args.n),
                    )
                )
            flask = median_of([r.flask for r in rounds])
            rows = {
                "Flask": flask,
                "Starlette": median_of([r.starlette for r in rounds]),
                "  no role scopes": starlette_request_cost(
                    args.n, folder, kind="threaded", role_scopes=False
                ),
                "  aiosqlite": starlette_request_cost(args.n, folder, kind="aiosqlite"),
            }
            snapshots = {
                "Flask": flask_request_cost(args.n, folder, snapshot=SNAPSHOT_SECONDS),
                "Starlette": starlette_request_cost(
                    args.n, folder, kind="threaded", snapshot=SNAPSHOT_SECONDS
                ),
            }
            databases: dict[str, dict[str, Any]] = {}
            for name, url in (("PostgreSQL", args.postgres), ("MariaDB", args.mariadb)):
                if url:
                    databases[name] = {
                        "Flask": flask_request_cost(args.n, folder, url),
                        "Starlette": starlette_request_cost(args.n, folder, kind="async", url=url),
                        "floor": floor_cost(url, args.n),
                    }
            limited = limiter_login_cost(args.n, folder, args.redis)
        flows = flows_cost(max(args.n // 4, 50), folder)
        apps = app_client_cost(args.n, folder)
        apps.update(mfa_login_cost(args.n, folder))
        lags = {
            "sync store in threads": loop_lag(folder, threaded=True),
            "aiosqlite": loop_lag(folder, threaded=False),
        }
        sizes = scale(args.users, max(args.n // 4, 100), folder)
        wire = wire_snapshot = None
        if not args.no_loopback and loopback.wrk_available():
            seconds, wire_rounds = (2, 1) if args.quick else (5, 3)
            wire = loopback.measure(folder, seconds=seconds, rounds=wire_rounds)
            wire_snapshot = loopback.measure(
                folder, seconds=seconds, rounds=wire_rounds, snapshot_seconds=SNAPSHOT_SECONDS
            )
            if loopback.pinning_available():
                pinned = loopback.measure(folder, seconds=seconds, rounds=wire_rounds, pinned=True)
                wire.update({f"pinned_{key}": value for key, value in pinned.items()})
    measured = [r.peers for r in rounds if r.peers is not None]
    other = None
    if measured and len(measured) == len(rounds):
        other = {name: median_of([m[name] for m in measured]) for name in measured[0]}
    print(f"after: {load()}")
    report(args, rows, databases, apps, flows, lags, sizes, other, wire, limited, rounds)
    report_snapshot(snapshots, other, wire_snapshot)


def print_request_cost(name: str, numbers: dict[str, float]) -> None:
    bare = numbers["bare"]
    calls = f"{numbers['statements']:.0f} SQL"
    if numbers.get("thread_hops"):
        calls += f", {numbers['thread_hops']:.0f} thread hops"
        if "hop" in numbers:
            calls += f" (a no-op's hop {numbers['hop']:.0f})"
    print(
        f"  {name:17} bare {bare:5.0f}  open {numbers['open']:5.0f} "
        f"({bare / numbers['open']:.2f}x)  session {numbers['session']:5.0f} "
        f"(+{numbers['session'] - bare:.0f})  token {numbers['token']:5.0f} "
        f"(+{numbers['token'] - bare:.0f})  {calls} per session request"
    )


def target(label: str, value: float, goal: str, ok: bool, spread: str = "") -> None:
    print(f"  {label}: {value:.3f} (goal {goal}) {'met' if ok else 'NOT MET'}{spread}")


def report(
    args: argparse.Namespace,
    rows: dict[str, dict[str, float]],
    databases: dict[str, dict[str, Any]],
    apps: dict[str, float],
    flows: dict[str, float],
    lags: dict[str, dict[str, float]],
    sizes: dict[str, float],
    other: dict[str, Any] | None,
    wire: dict[str, float] | None,
    limited: dict[str, float] | None,
    rounds: list[Round],
) -> None:
    flask, starlette = rows["Flask"], rows["Starlette"]
    print("doorward, medians in µs, in-process (test clients), the docs' defaults:")
    print("  SQLite file; Starlette on the sync store in worker threads (as the examples), role")
    print("  scopes on (the default); bare = a separate bare app, open = an unprotected route")
    print("  inside the doorward app (x = its req/s as a fraction of bare)")
    for name, numbers in rows.items():
        print_request_cost(name, numbers)
    print(
        f"  login over HTTP (argon2 primitive stubbed; default limiter, a new address each): "
        f"Flask {flask['http_login']:.0f}, Starlette {starlette['http_login']:.0f}; "
        f"registration Flask {flask['http_register']:.0f}, Starlette "
        f"{starlette['http_register']:.0f}; SQL statements: a login "
        f"{flask['login_statements']:.0f}, a registration {flask['register_statements']:.0f}"
    )
    if limited is None:
        print(f"  login by limiter: not measured (Redis unreachable at {args.redis})")
    else:
        memory = limited["memory"]
        print(
            f"  login over HTTP by limiter (Flask, SQLite store, taking turns): in-process "
            f"(the default) {memory:.0f}, SQLAlchemyRateLimiter on the SQLite file "
            f"{limited['sqlalchemy']:.0f} (+{limited['sqlalchemy'] - memory:.0f}), "
            f"RedisRateLimiter {limited['redis']:.0f} (+{limited['redis'] - memory:.0f})"
        )
    for db, found in databases.items():
        floor = found["floor"]
        print(
            f"  {db}: bare indexed SELECT through the same driver and pool (checkout, SELECT, "
            f"return): sync {floor['sync']:.0f}, async {floor['async']:.0f}"
        )
        print_request_cost(f"{db} Flask", found["Flask"])
        on_db = found["Flask"]
        print(
            f"  {db} Flask login over HTTP {on_db['http_login']:.0f} "
            f"({on_db['login_statements']:.0f} SQL), registration {on_db['http_register']:.0f} "
            f"({on_db['register_statements']:.0f} SQL)"
        )
        print_request_cost(f"{db} Starlette", found["Starlette"])
    print(
        f"  second factor (Flask, rate limits off): password login {apps['login_plain']:.0f} µs; "
        f"with TOTP the password step {apps['login_password_step']:.0f} µs, both steps "
        f"{apps['login_both_steps']:.0f} µs"
    )
    print(
        f"  app clients (Flask, rate limits off): a refresh {apps['refresh']:.0f} µs "
        f"({apps['writes_per_refresh']:.0f} store writes), a request with an access token "
        f"{apps['access_token_request']:.0f} µs; a sign-in code request {apps['code_request']:.0f} µs "
        f"({apps['writes_per_code_request']:.0f} store writes)"
    )
    print(
        f"  registration (direct call) mailing a real SMTP server on loopback: queued "
        f"{flows['register_smtp_queued']:.0f} µs (the default), inline "
        f"{flows['register_smtp_inline']:.0f} µs; one argon2 verify at the defaults "
        f"{flows['argon2_verify'] / 1000:.0f} ms"
    )
    for store, lag in lags.items():
        print(
            f"  16 logins with argon2 defaults ({store}): trivial endpoint p50 "
            f"{lag['probe_p50_ms']:.1f} ms, p99 {lag['probe_p99_ms']:.1f} ms over "
            f"{lag['probes']:.0f} probes (with a session cookie: p50 "
            f"{lag['session_p50_ms']:.1f} ms, p99 {lag['session_p99_ms']:.1f} ms); logins took "
            f"{lag['logins_wall_s']:.2f} s; peak hashes in flight {lag['peak_hashes']:.0f}"
        )
    big = args.users
    login_growth = sizes[f"login_{big}"] / sizes["login_1000"] - 1
    auth_growth = sizes[f"authenticate_{big}"] / sizes["authenticate_1000"] - 1
    print(
        f"  login at 1,000 users {sizes['login_1000']:.0f} µs vs {big:,} users "
        f"{sizes[f'login_{big}']:.0f} µs ({login_growth:+.0%}); authenticate "
        f"{sizes['authenticate_1000']:.0f} vs {sizes[f'authenticate_{big}']:.0f} µs "
        f"({auth_growth:+.0%})"
    )
    if wire is not None:
        print(
            "loopback req/s (wrk -t2 -c16; Flask: gunicorn 1 worker gthread 4 threads; "
            "Starlette: uvicorn 1 worker; SQLite; median of the rounds):"
        )
        for face in ("flask", "starlette"):
            print(
                f"  {face.capitalize():10} bare {wire[f'{face}_bare']:7.0f}  session "
                f"{wire[f'{face}_session']:7.0f}  "
                f"({wire[f'{face}_session'] / wire[f'{face}_bare']:.2f}x bare)"
            )
        if "pinned_flask_bare" in wire:
            print(
                "  each server pinned to one CPU with taskset, wrk on the others "
                "(docs/deployment.md, 'What a request costs'):"
            )
            for face in ("flask", "starlette"):
                bare, session = wire[f"pinned_{face}_bare"], wire[f"pinned_{face}_session"]
                print(
                    f"  {face.capitalize():10} bare {bare:7.0f}  session {session:7.0f}  "
                    f"({session / bare:.2f}x bare)"
                )
    if other is not None:
        fst = other["Flask-Security-Too 5.9.2"]
        fu = other["fastapi-users 15.0.5"]
        print(
            f"peers, same run, same measures (µs, median of {len(rounds)} rounds taking turns "
            "with doorward's; bare = their own bare app):"
        )
        print(
            f"  Flask-Security-Too  bare {fst['bare']:.0f}  open {fst['open']:.0f}  session "
            f"+{fst['session'] - fst['bare']:.0f}  token +{fst['token'] - fst['bare']:.0f}  "
            f"login {fst['login']:.0f}  registration {fst['register']:.0f}"
        )
        print(
            f"  fastapi-users       bare {fu['bare']:.0f}  open {fu['open']:.0f}  cookie+DB "
            f"+{fu['cookie_db'] - fu['bare']:.0f}  JWT +{fu['jwt'] - fu['bare']:.0f}  "
            f"login (JWT) {fu['login']:.0f}  registration {fu['register']:.0f}"
        )
    print(f"targets (issue 17; ratios from this run, the rounds' in brackets; {load()}):")
    if other is not None:
        flask_session, flask_token = extra("flask", "session"), extra("flask", "token")
        star_session, star_token = extra("starlette", "session"), extra("starlette", "token")
        value = flask_session(flask, fst)
        spread = per_round(rounds, lambda r: flask_session(r.flask, fst_of(r)))
        target(
            "Flask per-request overhead vs FS-Too (session)", value, "≤ 0.20", value <= 0.20, spread
        )
        value = flask_token(flask, fst)
        print(f"  Flask per-request overhead vs FS-Too (token): {value:.2f}")
        value = star_session(starlette, fu)
        spread = per_round(rounds, lambda r: star_session(r.starlette, fu_of(r)))
        target(
            "Starlette per-request overhead vs fastapi-users JWT",
            value,
            "≤ 0.125",
            value <= 0.125,
            spread,
        )
        budget = (fu["jwt"] - fu["bare"]) / 8
        alone = starlette["lookup"] - starlette["bare"]
        print(
            f"    (the goal allows +{budget:.0f} µs; the store's lookup alone, awaited in a bare "
            f"route, costs +{alone:.0f}",
            end="",
        )
        if "bare_hop" in starlette:
            print(
                f", of which one no-op hop through the store's worker threads "
                f"+{starlette['bare_hop'] - starlette['bare']:.0f} (a no-op's hop alone "
                f"{starlette['hop']:.0f}; an async store makes none)",
                end="",
            )
        print(")")
        value = star_token(starlette, fu)
        print(f"  Starlette API-token overhead vs fastapi-users JWT: {value:.2f}")
        for what, key in (("login", "login"), ("registration", "register")):
            value = flask[f"http_{key}"] / fst[key]

            def flow(one: Round, key: str = key) -> float:
                return one.flask[f"http_{key}"] / fst_of(one)[key]

            spread = per_round(rounds, flow)
            target(f"{what} over HTTP, Flask vs FS-Too", value, "≤ 0.33", value <= 1 / 3, spread)
            if key == "login":
                print(
                    f"    (the goal allows {fst['login'] / 3:.0f} µs; a bare Flask route making "
                    f"only the login's store calls, its session token and cookie takes "
                    f"{flask['login_floor']:.0f} through the same test client)"
                )
            value = starlette[f"http_{key}"] / fu[key]
            print(f"  {what} over HTTP, Starlette vs fastapi-users: {value:.2f}")
    else:
        print("  (peers not measured: --no-peers, or bench/setup-peers not run yet)")
    if wire is not None:
        for face, goal in (("Flask", 0.70), ("Starlette", 0.35)):
            key = face.lower()
            value = wire[f"{key}_session"] / wire[f"{key}_bare"]
            target(f"{face} protected loopback req/s x bare", value, f"≥ {goal:.2f}", value >= goal)
            if f"pinned_{key}_bare" in wire:
                pinned = wire[f"pinned_{key}_session"] / wire[f"pinned_{key}_bare"]
                print(f"    (with each server pinned to one CPU: {pinned:.2f}x)")
            if f"{key}_lookup" in wire:
                print(
                    f"    (an unprotected route of the same app making only the store's lookup: "
                    f"{wire[f'{key}_lookup']:.0f} req/s, "
                    f"{wire[f'{key}_lookup'] / wire[f'{key}_bare']:.2f}x bare)"
                )
    else:
        print(
            "  protected loopback req/s: not measured (--no-loopback, or wrk absent: bench/setup-peers)"
        )
    value = flask["bare"] / flask["session"]
    print(f"  (in-process, for comparison: Flask protected x bare {value:.2f}, ", end="")
    print(f"Starlette {starlette['bare'] / starlette['session']:.2f}; a bare route making ", end="")
    print(f"only the store's lookup x bare: Flask {flask['bare'] / flask['lookup']:.2f}, ", end="")
    print(f"Starlette {starlette['bare'] / starlette['lookup']:.2f})")
    value = flask["bare"] / flask["open"]
    target("Flask unprotected route in the doorward app x bare", value, "≥ 0.95", value >= 0.95)
    value = starlette["bare"] / starlette["open"]
    target("Starlette unprotected route in the doorward app x bare", value, "≥ 0.95", value >= 0.95)
    if databases:
        print(
            "  (each SELECT floor below is timed back to back; 'alone' is the store's lookup, "
            "the same one round trip, made alone by a bare route in a request)"
        )
    for db, found in databases.items():
        for face, sync in (("Flask", "sync"), ("Starlette", "async")):
            numbers = found[face]
            overhead = numbers["session"] - numbers["bare"]
            value = overhead / found["floor"][sync]
            target(f"{db} {face} overhead x the {sync} SELECT floor", value, "≤ 2.5", value <= 2.5)
            alone = numbers["lookup"] - numbers["bare"]
            print(f"    (alone +{alone:.0f} µs: the overhead is {overhead / alone:.2f}x that)")
    p99 = max(lag["probe_p99_ms"] for lag in lags.values())
    target("trivial endpoint p99 with 16 logins in flight, ms", p99, "< 10", p99 < 10)
    growth = max(abs(login_growth), abs(auth_growth))
    target(f"cost from 1,000 to {big:,} users", growth, "< 0.20", growth < 0.20)


def fst_of(one: Round) -> dict[str, float]:
    assert one.peers is not None
    found: dict[str, float] = one.peers["Flask-Security-Too 5.9.2"]
    return found


def fu_of(one: Round) -> dict[str, float]:
    assert one.peers is not None
    found: dict[str, float] = one.peers["fastapi-users 15.0.5"]
    return found


def extra(face: str, key: str) -> Callable[[dict[str, float], dict[str, float]], float]:
    """doorward's overhead over its bare app as a fraction of the peer's (FS-Too for Flask,
    fastapi-users' JWT for Starlette) for the ``key`` request (session or token)."""
    theirs = key if face == "flask" else "jwt"

    def ratio(ours: dict[str, float], peer: dict[str, float]) -> float:
        return (ours[key] - ours["bare"]) / (peer[theirs] - peer["bare"])

    return ratio


def report_snapshot(
    snapshots: dict[str, dict[str, float]],
    other: dict[str, Any] | None,
    wire_snapshot: dict[str, float] | None,
) -> None:
    """The per-request targets again with the session snapshot on (not the default)."""
    print(
        f"with the session snapshot on (session_snapshot_seconds={SNAPSHOT_SECONDS}; off by "
        "default; revocation delayed up to that long):"
    )
    for name, numbers in snapshots.items():
        print_request_cost(name, numbers)
    flask, starlette = snapshots["Flask"], snapshots["Starlette"]
    if other is not None:
        fst = other["Flask-Security-Too 5.9.2"]
        fu = other["fastapi-users 15.0.5"]
        value = (flask["session"] - flask["bare"]) / (fst["session"] - fst["bare"])
        target("Flask per-request overhead vs FS-Too (session)", value, "≤ 0.20", value <= 0.20)
        value = (starlette["session"] - starlette["bare"]) / (fu["jwt"] - fu["bare"])
        target(
            "Starlette per-request overhead vs fastapi-users JWT", value, "≤ 0.125", value <= 0.125
        )
    if wire_snapshot is not None:
        for face in ("flask", "starlette"):
            print(
                f"  loopback {face.capitalize():10} bare {wire_snapshot[f'{face}_bare']:7.0f}  "
                f"session {wire_snapshot[f'{face}_session']:7.0f} req/s"
            )
        for face, goal in (("Flask", 0.70), ("Starlette", 0.35)):
            key = face.lower()
            value = wire_snapshot[f"{key}_session"] / wire_snapshot[f"{key}_bare"]
            target(f"{face} protected loopback req/s x bare", value, f"≥ {goal:.2f}", value >= goal)


if __name__ == "__main__":
    main()
