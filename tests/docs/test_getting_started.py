"""Every Python block of docs/getting-started.md runs as written (the only change: a real
secret where the page says ``"..."``) and serves on a real server on 127.0.0.1: Flask on
werkzeug, Starlette and FastAPI on uvicorn; the local-development block goes through the
whole journey over plain http in a real HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import secrets
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from werkzeug.serving import make_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "getting-started.md").read_text("utf-8")
PASSWORD = "correct horse battery staple"


def blocks() -> dict[str, list[str]]:
    """The page's Python blocks by the heading they stand under."""
    found: dict[str, list[str]] = {}
    heading, block = "", None
    for line in PAGE.splitlines(keepends=True):
        if block is None and line.startswith("## "):
            heading = line[3:].strip()
        elif block is None and line.startswith("```python"):
            block = []
        elif block is not None and line.startswith("```"):
            found.setdefault(heading, []).append("".join(block))
            block = None
        elif block is not None:
            block.append(line)
    return found


def run_block(heading: str, tmp_path, monkeypatch, namespace=None) -> dict:
    [source] = blocks()[heading]
    monkeypatch.chdir(tmp_path)
    code = source.replace('"..."', repr(secrets.token_urlsafe(48)))
    namespace = {} if namespace is None else namespace
    namespace.setdefault("__name__", f"docs_{heading.split(maxsplit=1)[0].lower()}")
    exec(compile(code, f"getting-started.md ({heading})", "exec"), namespace)
    return namespace


@contextlib.contextmanager
def werkzeug_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextlib.contextmanager
def uvicorn_server(app):
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def register_over_https_app(base: str) -> httpx.Response:
    """Register on an https-configured app served over loopback http: the Secure CSRF cookie
    is sent by hand, as a browser would over https."""
    with httpx.Client(base_url=base) as http:
        page = http.get("/auth/register")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"].split(";", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return http.post(
            "/auth/register",
            json={"email": "ann@example.com", "password": PASSWORD},
            headers={"X-CSRF-Token": token, "Cookie": cookie},
        )


def test_every_block_is_covered():
    """The page's sections with code are the ones these tests run."""
    assert set(blocks()) == {"Flask", "Starlette", "FastAPI", "Local development over plain http"}


def test_flask_block_serves(tmp_path, monkeypatch):
    """The Flask block creates its tables and registers a user over a real server."""
    namespace = run_block("Flask", tmp_path, monkeypatch)
    with werkzeug_server(namespace["app"]) as base:
        assert register_over_https_app(base).status_code == 202
        assert (
            httpx.get(f"{base}/account", headers={"Accept": "application/json"}).status_code == 401
        )


def test_starlette_and_fastapi_blocks_serve(tmp_path, monkeypatch):
    """The Starlette block (tables created, so the first sign-up is no 503) and the FastAPI
    block built on it serve registration and their guarded routes on uvicorn."""
    namespace = run_block("Starlette", tmp_path, monkeypatch)
    with uvicorn_server(namespace["app"]) as base:
        assert register_over_https_app(base).status_code == 202
        assert httpx.get(f"{base}/account").status_code in {401, 403}
    fastapi = run_block("FastAPI", tmp_path, monkeypatch, dict(namespace))
    with uvicorn_server(fastapi["app"]) as base:
        answer = httpx.get(f"{base}/me")
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "not_authenticated")


def test_local_development_block_whole_journey(tmp_path, monkeypatch):
    """Over plain http on 127.0.0.1: register, follow the printed link, log in, see /account."""
    printed = io.StringIO()
    monkeypatch.setattr("sys.stdout", printed)
    namespace = run_block("Local development over plain http", tmp_path, monkeypatch)
    assert namespace["settings"].insecure_development
    with werkzeug_server(namespace["app"]) as base:
        with httpx.Client(base_url=base, follow_redirects=False) as http:
            page = http.get("/auth/register")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            form = {"csrf_token": token, "email": "ann@example.com", "password": PASSWORD}
            assert http.post("/auth/register", data=form).status_code == 202
            link = re.search(
                r"http://127\.0\.0\.1:5000(/auth/confirm/\S+)", printed.getvalue()
            ).group(1)
            confirm = http.get(link)
            token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text).group(1)
            assert http.post(link, data={"csrf_token": token}).status_code == 303
            login = http.get("/auth/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
            form = {"csrf_token": token, "email": "ann@example.com", "password": PASSWORD}
            assert http.post("/auth/login", data=form).status_code == 303
            assert http.get("/account").text == "Hello ann@example.com"
