"""doorward's benchmarks (DESIGN.md §6), on demand; never part of the test suite.

    .venv/bin/python bench/run.py            # about a minute
    .venv/bin/python bench/run.py --users 1000000   # the scale check at a million users

Prints medians and ratios measured in this run: the cost doorward adds to a protected
request over the bare framework (session cookie and API token, Flask and Starlette,
in-process), login and registration time beyond the password hash (argon2 stubbed out),
the event loop's lag while 16 logins hash with argon2's defaults, and lookup cost at 1,000
versus many users. With ``bench/setup-peers`` run first, the same measures are taken for
Flask-Security-Too and fastapi-users in their own environment and printed side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doorward import AsyncArgon2Hasher, AsyncUserStore, Auth, Settings  # noqa: E402
from doorward._async.mailers import AsyncOutbox  # noqa: E402
from doorward._sync.mailers import Outbox, mailer_from_url  # noqa: E402
from doorward.hashing import Argon2Hasher  # noqa: E402
from doorward.queued import QueuedMailer  # noqa: E402
from doorward.testing.smtp import SmtpServer  # noqa: E402
from doorward.threaded import AsyncThreadedStore  # noqa: E402
from doorward.tokens import CsrfTokens  # noqa: E402
from doorward_flask import Doorward as FlaskDoorward  # noqa: E402
from doorward_flask import login_required  # noqa: E402
from doorward_sqlalchemy import (  # noqa: E402
    AsyncSQLAlchemyStore,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base, DefaultUser  # noqa: E402
from doorward_starlette import Doorward as StarletteDoorward  # noqa: E402

SECRET = "benchmark-secret-key-0123456789-abcdefghij"
PASSWORD = "correct horse battery staple"


class StubHasher:
    """No argon2: what is left is doorward's own cost."""

    def hash(self, password: str) -> str:
        return "stub$" + password

    def verify(self, stored: str | None, password: str) -> bool:
        return stored == "stub$" + password

    def needs_rehash(self, stored: str) -> bool:
        return False


class AsyncStubHasher(StubHasher):
    async def hash(self, password: str) -> str:  # type: ignore[override]
        return "stub$" + password

    async def verify(self, stored: str | None, password: str) -> bool:  # type: ignore[override]
        return stored == "stub$" + password


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_keys": SECRET,
        "base_url": "https://bench.example.com",
        "rate_limits": {},
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


def fresh_engine(folder: Path, name: str, postgres: str | None) -> sa.Engine:
    """A SQLite file in ``folder``, or the PostgreSQL database at ``postgres`` emptied."""
    if postgres is None:
        engine = sqlite_engine(f"sqlite:///{folder}/{name}.sqlite3")
    else:
        engine = sa.create_engine(postgres, pool_size=10)
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


def flask_request_cost(n: int, folder: Path, postgres: str | None = None) -> dict[str, float]:
    engine = fresh_engine(folder, "flask", postgres)
    app = Flask(__name__)
    FlaskDoorward(
        app,
        store=SQLAlchemyStore(engine, default_models()),
        settings=settings(),
        mailer=Outbox(),
        hasher=StubHasher(),
    )

    @app.get("/bare")
    def bare() -> str:
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
    bearer = {"Authorization": f"Bearer {token}"}
    results = {
        "bare": timed(lambda: anonymous.get("/bare"), n),
        "session": timed(lambda: client.get("/protected"), n),
        "token": timed(lambda: anonymous.get("/protected", headers=bearer), n),
    }
    assert client.get("/protected").status_code == 200
    csrf_cookie, csrf_header = csrf_pair()
    body = {"email": "bench@example.com", "password": PASSWORD}

    def login() -> None:
        # a fresh anonymous client, as the peers' measure, with a valid CSRF pair
        browser = app.test_client()
        browser.set_cookie("__Host-doorward-csrf", csrf_cookie)
        response = browser.post("/auth/login", json=body, headers=csrf_header)
        assert response.status_code == 200, response.data

    results["http_login"] = timed(login, max(n // 4, 100))
    return results


def app_client_cost(n: int, folder: Path) -> dict[str, float]:
    """Issue 14's figures (Flask, SQLite, in-process): a refresh (rotation) over HTTP, a
    request with an app client's access token, and a sign-in code request; store writes
    per code request and per refresh, counted at the SQL layer."""
    engine = fresh_engine(folder, "app_clients", None)
    app = Flask(__name__)
    FlaskDoorward(
        app,
        store=SQLAlchemyStore(engine, default_models()),
        settings=settings(app_clients=True, sign_in_by_email=True),
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


def async_sqlite_store(path: Path, *, threaded: bool) -> AsyncUserStore:
    """The sync store in worker threads (what the examples use on SQLite), or aiosqlite."""
    engine = sqlite_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    if threaded:
        return AsyncThreadedStore(SQLAlchemyStore(engine, default_models()))
    return AsyncSQLAlchemyStore(
        async_sqlite_engine(f"sqlite+aiosqlite:///{path}"), default_models()
    )


async def _starlette_cost(
    n: int,
    folder: Path,
    *,
    threaded: bool,
    role_scopes: bool = False,
    postgres: str | None = None,
) -> dict[str, float]:
    store: AsyncUserStore
    if postgres is None:
        path = folder / f"starlette{threaded}{role_scopes}.sqlite3"
        store = async_sqlite_store(path, threaded=threaded)
    else:
        fresh_engine(folder, "starlette", postgres).dispose()
        store = AsyncSQLAlchemyStore(create_async_engine(postgres, pool_size=10), default_models())
    doorward = StarletteDoorward(
        settings=settings(),
        store=store,
        mailer=AsyncOutbox(),
        hasher=AsyncStubHasher(),  # type: ignore[arg-type]
        role_scopes=role_scopes,
    )

    async def bare(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @requires("authenticated")
    async def protected(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app_bare = Starlette(routes=[Route("/bare", bare)])
    app = Starlette(
        routes=[Route("/protected", protected), doorward.mount()],
        middleware=[doorward.middleware()],
    )
    auth = doorward.auth
    user = await auth.create_user("bench@example.com", PASSWORD, confirmed=True)
    _, issued = await auth.login("bench@example.com", PASSWORD)
    token, _ = await auth.issue_api_token(user, "bench")

    async def measure(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
        for _ in range(min(200, n)):
            await client.get(path, headers=headers)
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            await client.get(path, headers=headers)
            samples.append(time.perf_counter() - start)
        return median_us(samples)

    base = "https://bench"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_bare), base_url=base) as c:
        bare_us = await measure(c, "/bare", {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
        session_us = await measure(c, "/protected", {"Cookie": f"__Host-doorward={issued.token}"})
        token_us = await measure(c, "/protected", {"Authorization": f"Bearer {token}"})
    csrf_cookie, csrf_header = csrf_pair()
    headers = {**csrf_header, "Cookie": f"__Host-doorward-csrf={csrf_cookie}"}
    body = {"email": "bench@example.com", "password": PASSWORD}
    login_samples = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
        for i in range(max(n // 4, 100) * 2):
            start = time.perf_counter()
            response = await c.post("/auth/login", json=body, headers=headers)
            login_samples.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            c.cookies.clear()
            if i == 0:
                login_samples.clear()
    return {
        "bare": bare_us,
        "session": session_us,
        "token": token_us,
        "http_login": median_us(login_samples),
    }


def starlette_request_cost(
    n: int,
    folder: Path,
    *,
    threaded: bool,
    role_scopes: bool = False,
    postgres: str | None = None,
) -> dict[str, float]:
    return asyncio.run(
        _starlette_cost(n, folder, threaded=threaded, role_scopes=role_scopes, postgres=postgres)
    )


# -- login and registration beyond the hash ----------------------------------------------------------


def flows_cost(n: int, folder: Path) -> dict[str, float]:
    engine = sqlite_engine(f"sqlite:///{folder}/flows.sqlite3")
    Base.metadata.create_all(engine)
    auth = Auth(
        settings(), SQLAlchemyStore(engine, default_models()), mailer=Outbox(), hasher=StubHasher()
    )
    auth.create_user("login@example.com", PASSWORD, confirmed=True)
    counter = iter(range(10**9))
    login = timed(lambda: auth.login("login@example.com", PASSWORD), n)
    register = timed(lambda: auth.register(f"user{next(counter)}@example.com", PASSWORD), n)
    hasher = Argon2Hasher()
    stored = hasher.hash(PASSWORD)
    verify = timed(lambda: hasher.verify(stored, PASSWORD), 10)
    results = {
        "login_beyond_hash": login,
        "register_beyond_hash": register,
        "argon2_verify": verify,
    }
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
        store=async_sqlite_store(folder / f"lag{threaded}.sqlite3", threaded=threaded),
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
    results = {}
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
        with engine.begin() as connection:
            for start in range(0, count, 50_000):
                connection.execute(sa.insert(DefaultUser), rows[start : start + 50_000])
        auth = Auth(
            settings(),
            SQLAlchemyStore(engine, default_models()),
            mailer=Outbox(),
            hasher=StubHasher(),
        )
        target = f"u{count // 2}@example.com"
        _, issued = auth.login(target, PASSWORD)
        results[f"login_{count}"] = timed(lambda a=auth, t=target: a.login(t, PASSWORD), n)
        results[f"authenticate_{count}"] = timed(
            lambda a=auth, i=issued: a.authenticate(session_token=i.token), n
        )
        engine.dispose()
    return results


def peers(n: int) -> dict[str, object] | None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="requests per measure")
    parser.add_argument("--users", type=int, default=100_000, help="the large user count")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure per-request cost on this PostgreSQL database (emptied first), "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        flask = flask_request_cost(args.n, folder)
        starlette = starlette_request_cost(args.n, folder, threaded=True)
        aiosqlite = starlette_request_cost(args.n, folder, threaded=False)
        with_roles = starlette_request_cost(args.n, folder, threaded=True, role_scopes=True)
        flows = flows_cost(max(args.n // 4, 200), folder)
        apps = app_client_cost(args.n, folder)
        lags = {
            "sync store in threads": loop_lag(folder, threaded=True),
            "aiosqlite": loop_lag(folder, threaded=False),
        }
        sizes = scale(args.users, max(args.n // 4, 200), folder)
        on_postgres = {}
        if args.postgres:
            on_postgres = {
                "Flask": flask_request_cost(args.n, folder, args.postgres),
                "Starlette": starlette_request_cost(
                    args.n, folder, threaded=False, postgres=args.postgres
                ),
            }
    print("doorward, medians on this machine (µs unless noted)")
    print("  SQLite file; Starlette on the sync store in worker threads (as the examples),")
    print("  and on aiosqlite (one thread round trip per driver call) for comparison")
    print("  (Starlette rows without role scopes; +roles: role:/perm: scopes, the default)")
    rows = (
        ("Flask", flask),
        ("Starlette", starlette),
        ("+roles", with_roles),
        ("aiosqlite", aiosqlite),
    )
    for name, numbers in rows:
        print_request_cost(name, numbers)
    if on_postgres:
        print("  PostgreSQL (psycopg 3; Starlette on the async store):")
        for name, numbers in on_postgres.items():
            print_request_cost(name, numbers)
    print(
        f"  app clients (Flask, HTTP in-process): a refresh {apps['refresh']:.0f} µs "
        f"({apps['writes_per_refresh']:.0f} store writes), a request with an access token "
        f"{apps['access_token_request']:.0f} µs; a sign-in code request {apps['code_request']:.0f} µs "
        f"({apps['writes_per_code_request']:.0f} store writes)"
    )
    _print_rest(args, flask, starlette, flows, lags, sizes)


def print_request_cost(name: str, numbers: dict[str, float]) -> None:
    print(
        f"  {name:9} bare {numbers['bare']:7.0f}  session {numbers['session']:7.0f} "
        f"(+{numbers['session'] - numbers['bare']:.0f})  token {numbers['token']:7.0f} "
        f"(+{numbers['token'] - numbers['bare']:.0f})  "
        f"in-process req/s ratio {numbers['bare'] / numbers['session']:.2f}x"
    )


def _print_rest(
    args: argparse.Namespace,
    flask: dict[str, float],
    starlette: dict[str, float],
    flows: dict[str, float],
    lags: dict[str, dict[str, float]],
    sizes: dict[str, float],
) -> None:
    print(
        f"  login over HTTP, argon2 stubbed out (POST /auth/login, JSON, in-process): Flask "
        f"{flask['http_login']:.0f} µs, Starlette {starlette['http_login']:.0f} µs"
    )
    print(
        f"  registration beyond the hash, mailing a real SMTP server on loopback: queued "
        f"{flows['register_smtp_queued']:.0f} µs (the default), inline "
        f"{flows['register_smtp_inline']:.0f} µs"
    )
    print(
        f"  login beyond the hash {flows['login_beyond_hash']:.0f} µs; registration beyond the hash "
        f"{flows['register_beyond_hash']:.0f} µs; one argon2 verify at the defaults "
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
    print(
        f"  login at 1,000 users {sizes['login_1000']:.0f} µs vs {big:,} users {sizes[f'login_{big}']:.0f} µs "
        f"({sizes[f'login_{big}'] / sizes['login_1000'] - 1:+.0%}); authenticate "
        f"{sizes['authenticate_1000']:.0f} vs {sizes[f'authenticate_{big}']:.0f} µs "
        f"({sizes[f'authenticate_{big}'] / sizes['authenticate_1000'] - 1:+.0%})"
    )
    other = peers(args.n)
    if other is None:
        print("  peers: not measured (run bench/setup-peers once to install them in bench/.peers)")
        return
    fst = other["Flask-Security-Too 5.9.2"]
    fu = other["fastapi-users 15.0.5"]
    print("peers, same run (µs, median):")
    print(
        f"  Flask-Security-Too  bare {fst['bare']:.0f}  session +{fst['session'] - fst['bare']:.0f}  "
        f"token +{fst['token'] - fst['bare']:.0f}  login without hashing {fst['login_stubbed_hash']:.0f}"
    )
    print(
        f"  fastapi-users       bare {fu['bare']:.0f}  cookie+DB +{fu['cookie_db'] - fu['bare']:.0f}  "
        f"JWT +{fu['jwt'] - fu['bare']:.0f}  login without hashing {fu['login_stubbed_hash']:.0f}"
    )
    print("ratios (peer cost / doorward cost; above 1 means doorward is cheaper):")
    flask_extra = flask["session"] - flask["bare"]
    star_extra = starlette["session"] - starlette["bare"]
    print(
        f"  per request, Flask session: {(fst['session'] - fst['bare']) / flask_extra:.2f}x; "
        f"Flask token: {(fst['token'] - fst['bare']) / (flask['token'] - flask['bare']):.2f}x"
    )
    print(
        f"  per request, Starlette/FastAPI cookie: {(fu['cookie_db'] - fu['bare']) / star_extra:.2f}x; "
        f"token: {(fu['jwt'] - fu['bare']) / (starlette['token'] - starlette['bare']):.2f}x"
    )
    print(
        f"  login over HTTP without hashing: Flask-Security-Too vs doorward on Flask "
        f"{fst['login_stubbed_hash'] / flask['http_login']:.2f}x, fastapi-users vs doorward "
        f"on Starlette {fu['login_stubbed_hash'] / starlette['http_login']:.2f}x"
    )


if __name__ == "__main__":
    main()
