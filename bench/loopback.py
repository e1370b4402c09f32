"""Loopback req/s for bench/run.py: each app under a real server on 127.0.0.1, driven by wrk.

Flask runs under gunicorn (one worker, gthread with 4 threads: keep-alive, as behind a
proxy that reuses connections), Starlette under uvicorn (one worker, no access log). The
bare apps are separate apps; the doorward apps use the docs' defaults (role scopes on, the
sync store in worker threads on SQLite for Starlette, as the examples). Each measure is
``wrk -t2 -c16 -d<seconds>s``; bare and protected alternate, the median of the rounds is
kept, and a run whose answers are not all 200 is refused (a fast 401 is not a result).

The servers import this module (``--factory loopback:starlette_doorward``); the database
path and the secret come from the environment, set by ``measure``.
wrk is Debian's ``wrk`` package (``apt-get install -y wrk``; ``bench/setup-peers`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SECRET = "benchmark-secret-key-0123456789-abcdefghij"
PASSWORD = "correct horse battery staple"
_DB = "DOORWARD_BENCH_DB"
_SNAPSHOT = "DOORWARD_BENCH_SNAPSHOT"


def _settings() -> Any:
    from doorward import Settings

    snapshot = int(os.environ.get(_SNAPSHOT, "0"))
    extra = {"session_snapshot_seconds": snapshot} if snapshot else {}
    return Settings(secret_keys=SECRET, base_url="https://bench.example.com", **extra)


def flask_bare() -> Any:
    """A bare Flask app: ``GET /bare``."""
    from flask import Flask

    app = Flask("bare")

    @app.get("/bare")
    def bare() -> str:
        return "ok"

    return app


def flask_doorward() -> Any:
    """A Flask app with doorward at its defaults: ``GET /protected`` needs a login."""
    from flask import Flask, request

    from doorward._sync.mailers import Outbox
    from doorward_flask import Doorward, login_required
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine

    app = Flask("doorward")
    engine = sqlite_engine(f"sqlite:///{os.environ[_DB]}")
    Doorward(
        app, store=SQLAlchemyStore(engine, default_models()), settings=_settings(), mailer=Outbox()
    )

    @app.get("/protected")
    @login_required
    def protected() -> str:
        return "ok"

    auth = app.extensions["doorward"].auth
    store, secrets = auth.ctx.store, auth.ctx.secrets

    @app.get("/lookup")
    def lookup() -> str:
        """The floor: unprotected, only the store's lookup of the session in ``FLOOR_HEADER``
        (not a cookie, so doorward identifies nothing)."""
        secret_hash = secrets.secret_hash("session", request.headers[FLOOR_HEADER])
        found = store.get_credential("session", secret_hash)
        return "ok" if found is not None else "gone"

    return app


#: The header the ``/lookup`` floor routes read the session token from.
FLOOR_HEADER = "X-Bench-Session"


def starlette_bare() -> Any:
    """A bare Starlette app: ``GET /bare``."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def bare(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/bare", bare)])


def starlette_doorward() -> Any:
    """A Starlette app with doorward at its defaults (role scopes on; the sync store in
    worker threads, as the examples on SQLite): ``GET /protected`` needs a login."""
    from starlette.applications import Starlette
    from starlette.authentication import requires
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from doorward._async.mailers import AsyncOutbox
    from doorward.threaded import AsyncThreadedStore
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
    from doorward_starlette import Doorward

    engine = sqlite_engine(f"sqlite:///{os.environ[_DB]}")
    doorward = Doorward(
        settings=_settings(),
        store=AsyncThreadedStore(SQLAlchemyStore(engine, default_models())),
        mailer=AsyncOutbox(),
    )

    @requires("authenticated")
    async def protected(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    store, secrets = doorward.auth.ctx.store, doorward.auth.ctx.secrets

    async def lookup(request: Request) -> PlainTextResponse:
        """As the Flask app's ``/lookup``: the store call a protected request makes here."""
        secret_hash = secrets.secret_hash("session", request.headers[FLOOR_HEADER])
        found = await store.get_credential_with_roles("session", secret_hash)
        return PlainTextResponse("ok" if found is not None else "gone")

    return Starlette(
        routes=[Route("/protected", protected), Route("/lookup", lookup), doorward.mount()],
        middleware=[doorward.middleware()],
    )


# -- the driver (bench/run.py's process) ------------------------------------------------------


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(factory: str, port: int, python: str, cpu: int | None = None) -> list[str]:
    pinned = [] if cpu is None else ["taskset", "-c", str(cpu)]
    if factory.startswith("flask"):
        return [*pinned,
            python, "-m", "gunicorn", "--chdir", str(HERE), "-w", "1", "-k", "gthread",
            "--threads", "4", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            f"loopback:{factory}()",
        ]  # fmt: skip
    return [*pinned,
        python, "-m", "uvicorn", "--app-dir", str(HERE), "--factory", f"loopback:{factory}",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def serving(
    factory: str, env: dict[str, str], python: str = sys.executable, cpu: int | None = None
) -> Iterator[str]:
    """Run ``factory`` under its server on a free loopback port (pinned to ``cpu`` with
    ``taskset`` when given); yields the base URL."""
    port = _free_port()
    server = subprocess.Popen(
        _command(factory, port, python, cpu),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{factory} did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wrk(url: str, headers: dict[str, str], seconds: int, cpus: str | None = None) -> float:
    """Requests per second that ``wrk -t2 -c16`` reached (on ``cpus``, a ``taskset`` list,
    when given); every answer must be a 2xx."""
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s"]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failures on {url}:\n{output}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if found is None:
        raise RuntimeError(f"no rate in wrk's output:\n{output}")
    return float(found.group(1))


def pinning_available() -> bool:
    """Whether servers can be pinned to one CPU: ``taskset`` and two CPUs or more (one for
    the server, the rest for wrk)."""
    return shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) > 1


def measure(
    folder: Path,
    *,
    seconds: int = 5,
    rounds: int = 3,
    snapshot_seconds: int = 0,
    pinned: bool = False,
) -> dict[str, float]:
    """Loopback req/s of the bare apps and of a protected (session cookie) route, the
    median of ``rounds`` alternating runs each; with the snapshot off, also of the floor
    route (``/lookup``: the store's lookup alone, in an unprotected route of the same app).
    ``pinned``: each server pinned to one CPU (the last this process may use), as
    ``docs/deployment.md`` suggests; wrk is left the others."""
    from doorward import Auth
    from doorward._sync.mailers import Outbox
    from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
    from doorward_sqlalchemy.models import Base

    path = folder / f"loopback{snapshot_seconds}{'-pinned' if pinned else ''}.sqlite3"
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed) if pinned else None
    rest = ",".join(str(c) for c in sorted(allowed - {cpu})) if pinned else None
    engine = sqlite_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    env = {_DB: str(path), _SNAPSHOT: str(snapshot_seconds)}
    os.environ.update(env)
    auth = Auth(_settings(), SQLAlchemyStore(engine, default_models()), mailer=Outbox())
    auth.create_user("loop@example.com", PASSWORD, confirmed=True)
    _, issued = auth.login("loop@example.com", PASSWORD)
    engine.dispose()
    session = {"Cookie": f"__Host-doorward={issued.token}"}
    floor = {FLOOR_HEADER: issued.token}
    results: dict[str, float] = {}
    for face in ("flask", "starlette"):
        rates: dict[str, list[float]] = {"bare": [], "session": []}
        if not snapshot_seconds and not pinned:
            rates["lookup"] = []
        with (
            serving(f"{face}_bare", env, cpu=cpu) as bare,
            serving(f"{face}_doorward", env, cpu=cpu) as protected,
        ):
            check = httpx.get(protected + "/protected", headers=session, timeout=5)
            assert check.status_code == 200, (face, check.status_code, check.text[:200])
            alone = httpx.get(protected + "/lookup", headers=floor, timeout=5)
            assert alone.text == "ok", (face, alone.status_code, alone.text[:200])
            anonymous = httpx.get(protected + "/protected", timeout=5)
            assert anonymous.status_code in {302, 303, 401, 403}, (face, anonymous.status_code)
            for _ in range(rounds):
                rates["bare"].append(wrk(bare + "/bare", {}, seconds, rest))
                headers = session
                if snapshot_seconds:  # a fresh snapshot for the round, as a browser holds it
                    made = httpx.get(protected + "/protected", headers=session, timeout=5)
                    value = next(
                        c.split(";")[0].split("=", 1)[1]
                        for c in made.headers.get_list("set-cookie")
                        if c.startswith("__Host-doorward-snapshot=")
                    )
                    headers = {"Cookie": f"{session['Cookie']}; __Host-doorward-snapshot={value}"}
                rates["session"].append(wrk(protected + "/protected", headers, seconds, rest))
                if "lookup" in rates:
                    rates["lookup"].append(wrk(protected + "/lookup", floor, seconds))
        for what, values in rates.items():
            results[f"{face}_{what}"] = statistics.median(values)
    return results
