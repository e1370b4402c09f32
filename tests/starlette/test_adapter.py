"""The Starlette adapter: request.user and scopes, requires, FastAPI dependencies, the event
loop under load, faults, malformed bodies, and a real uvicorn server with real SMTP."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from doorward import Argon2Params, AsyncMemoryStore, Role, Settings
from doorward._async.mailers import AsyncOutbox, AsyncSmtpMailer
from doorward._smtp import SmtpConfig
from doorward.clock import FrozenClock
from doorward.exceptions import StoreUnavailable
from doorward.hashing import Argon2Hasher, AsyncArgon2Hasher
from doorward.testing.smtp import SmtpServer
from doorward.tokens import CredentialSecrets
from doorward_starlette import Doorward, DoorwardMiddleware
from doorward_starlette.fastapi import (
    current_user,
    include_openapi,
    require_fresh,
    require_permissions,
    require_roles,
)

SECRET = "starlette-tests-secret-key-0123456789abc"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}


def settings(**overrides):
    values = {
        "secret_keys": SECRET,
        "base_url": "https://app.example.com",
        "argon2": Argon2Params.insecure_for_tests(),
    }
    values.update(overrides)
    return Settings(**values)


def make_doorward(store=None, mailer=None, hasher=None, **overrides):
    return Doorward(
        settings=settings(**overrides),
        store=store or AsyncMemoryStore(),
        mailer=mailer or AsyncOutbox(),
        hasher=hasher,
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )


def starlette_app(doorward):
    @requires("authenticated", status_code=401)
    async def private(request: Request):
        return JSONResponse({"email": request.user.email, "scopes": request.auth.scopes})

    @requires("role:admin", status_code=403)
    async def admin(request: Request):
        return PlainTextResponse("admin")

    async def ping(request: Request):
        return PlainTextResponse("pong")

    return Starlette(
        routes=[
            Route("/private", private),
            Route("/admin", admin),
            Route("/ping", ping),
            doorward.mount(),
        ],
        middleware=[doorward.middleware()],
    )


def client(app):
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def login(http, email="a@example.com", password=PASSWORD):
    token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    response = http.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-CSRF-Token": token, **JSON},
    )
    assert response.status_code == 200, response.text
    return response


def test_request_user_scopes_and_requires():
    """request.user is the app's user; scopes carry roles and permissions; requires() enforces them."""
    doorward = make_doorward()
    app = starlette_app(doorward)
    auth = doorward.auth

    async def arrange():
        await auth.store.save_role(Role(name="admin", permissions=frozenset({"users:write"})))
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        await auth.add_role(user, "admin")

    asyncio.run(arrange())
    http = client(app)
    assert http.get("/private").status_code == 401
    login(http)
    body = http.get("/private").json()
    assert body["email"] == "a@example.com"
    assert {"authenticated", "fresh", "role:admin", "perm:users:write"} <= set(body["scopes"])
    assert http.get("/admin").text == "admin"


class CountingStore(AsyncMemoryStore):
    """The memory store, counting the per-request lookups."""

    def __init__(self, combined=True):
        super().__init__()
        self.calls = []
        if not combined:
            self.get_credential_with_roles = None

    async def get_credential(self, kind, secret_hash):
        self.calls.append("get_credential")
        return await super().get_credential(kind, secret_hash)

    async def get_credential_with_roles(self, kind, secret_hash):
        self.calls.append("get_credential_with_roles")
        return await super().get_credential_with_roles(kind, secret_hash)

    async def get_user_roles(self, user):
        self.calls.append("get_user_roles")
        return await super().get_user_roles(user)

    async def get_user_permissions(self, user):
        self.calls.append("get_user_permissions")
        return await super().get_user_permissions(user)


@pytest.mark.parametrize("combined", [True, False], ids=["combined", "fallback"])
def test_role_scopes_come_with_the_credential(combined):
    """With role scopes (the default) a store with get_credential_with_roles answers an
    authenticated request in one call; without it, the three calls give the same scopes."""
    store = CountingStore(combined=combined)
    doorward = make_doorward(store=store)
    app = starlette_app(doorward)
    auth = doorward.auth

    async def arrange():
        await store.save_role(Role(name="admin", permissions=frozenset({"users:write"})))
        await store.save_role(Role(name="editor", permissions=frozenset({"posts:edit"})))
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        await auth.add_role(user, "admin")
        await auth.add_role(user, "editor")

    asyncio.run(arrange())
    http = client(app)
    login(http)
    http.get("/private")  # the first use may touch the session
    store.calls.clear()
    body = http.get("/private").json()
    expected = {"role:admin", "role:editor", "perm:users:write", "perm:posts:edit"}
    assert expected <= set(body["scopes"])
    if combined:
        assert store.calls == ["get_credential_with_roles"]
    else:
        assert sorted(store.calls) == ["get_credential", "get_user_permissions", "get_user_roles"]
    store.calls.clear()
    assert http.get("/admin").text == "admin"
    assert len(store.calls) == (1 if combined else 3)


def test_fastapi_dependencies():
    """current_user, require_roles, require_permissions and require_fresh work in a FastAPI app."""
    doorward = make_doorward()
    app = FastAPI()
    app.router.routes.append(doorward.mount())
    app.add_middleware(DoorwardMiddleware, doorward=doorward)

    @app.get("/me")
    async def me(user=Depends(current_user)):  # noqa: B008 (FastAPI's idiom)
        return {"email": user.email}

    @app.get("/admin", dependencies=[Depends(require_roles("admin"))])
    async def admin():
        return {"ok": True}

    @app.get("/reports", dependencies=[Depends(require_permissions("reports:read"))])
    async def reports():
        return {"ok": True}

    @app.get("/sensitive", dependencies=[Depends(require_fresh)])
    async def sensitive():
        return {"ok": True}

    auth = doorward.auth
    asyncio.run(auth.create_user("a@example.com", PASSWORD, confirmed=True))
    http = client(app)
    assert http.get("/me").status_code == 401
    login(http)
    assert http.get("/me").json() == {"email": "a@example.com"}
    assert http.get("/admin").status_code == 403
    assert http.get("/reports").status_code == 403
    assert http.get("/sensitive").status_code == 200
    auth.clock.advance(660)
    assert http.get("/sensitive").status_code == 401
    assert http.get("/sensitive").json()["error"]["code"] == "reauth_required"


@pytest.mark.parametrize("combined", [True, False], ids=["combined", "fallback"])
def test_fastapi_role_checks_use_the_roles_identification_fetched(combined):
    """require_roles/require_permissions decide from the roles the credential lookup gave
    (no further store call), or ask the store when it gave none; the answers are the same."""
    store = CountingStore(combined=combined)
    doorward = make_doorward(store=store)
    app = FastAPI()
    app.router.routes.append(doorward.mount())
    app.add_middleware(DoorwardMiddleware, doorward=doorward)

    @app.get("/admin", dependencies=[Depends(require_roles("admin"))])
    async def admin():
        return {"ok": True}

    @app.get("/edit", dependencies=[Depends(require_permissions("posts:edit"))])
    async def edit():
        return {"ok": True}

    auth = doorward.auth

    async def arrange():
        await store.save_role(Role(name="editor", permissions=frozenset({"posts:edit"})))
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        await auth.add_role(user, "editor")

    asyncio.run(arrange())
    http = client(app)
    login(http)
    http.get("/edit")  # the first use may touch the session
    store.calls.clear()
    assert http.get("/edit").status_code == 200
    assert http.get("/admin").status_code == 403
    assert len(store.calls) == (2 if combined else 8)


def test_fastapi_docs_include_doorwards_routes():
    """include_openapi merges the auth routes into FastAPI's /openapi.json (and /docs), with
    doorward's components renamed so they cannot collide with the app's."""
    from pydantic import BaseModel

    class Error(BaseModel):
        reason: str

    doorward = make_doorward()
    app = FastAPI()
    app.router.routes.append(doorward.mount())
    app.add_middleware(DoorwardMiddleware, doorward=doorward)

    @app.get("/items", responses={404: {"model": Error}})
    async def items():
        return []

    include_openapi(app, doorward)
    http = client(app)
    document = http.get("/openapi.json").json()
    assert "/items" in document["paths"]
    login_op = document["paths"]["/auth/login"]["post"]
    assert login_op["tags"] == ["auth"]
    assert "Error" in document["components"]["schemas"]
    assert "DoorwardError" in document["components"]["schemas"]
    assert "DoorwardSession" in document["components"]["securitySchemes"]
    refs = re.findall(r'"\$ref": "([^"]+)"', __import__("json").dumps(document))
    for ref in refs:
        name = ref.rsplit("/", 1)[1]
        assert name in document["components"]["schemas"], ref
    assert http.get("/docs").status_code == 200
    assert http.get("/openapi.json").json() == document


class DownStore:
    """A store whose database is down."""

    def __getattr__(self, name):
        async def fail(*args, **kwargs):
            raise StoreUnavailable

        return fail


def test_ft05_store_down_means_anonymous_and_503():
    """With the store down, app routes see an anonymous user and auth routes answer 503."""
    doorward = make_doorward(store=DownStore())
    http = client(starlette_app(doorward))
    http.cookies.set("__Host-doorward", CredentialSecrets([SECRET]).new("session")[0])
    assert http.get("/private").status_code == 401
    me = http.get("/auth/me", headers=JSON)
    assert me.status_code == 503
    assert me.json()["error"]["code"] == "store_unavailable"


@pytest.mark.asyncio
async def test_cc06_event_loop_stays_responsive_during_16_logins():
    """16 logins in flight: a trivial endpoint keeps answering, hashes run in worker threads, the bound holds."""
    inner = Argon2Hasher(
        Argon2Params(time_cost=2, memory_cost=32768, parallelism=1),
        max_concurrent=2,
        max_waiting=32,
    )
    threads = set()
    real = inner._verify_now

    def spy(stored, password):
        threads.add(threading.current_thread().name)
        return real(stored, password)

    inner._verify_now = spy
    doorward = make_doorward(hasher=AsyncArgon2Hasher(inner), rate_limits={})
    await doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True)
    app = starlette_app(doorward)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        token = (await http.get("/auth/csrf", headers=JSON)).json()["csrf_token"]
        headers = {"X-CSRF-Token": token, **JSON}
        lags = []
        done = asyncio.Event()

        async def probe():
            while not done.is_set():
                start = time.perf_counter()
                response = await http.get("/ping")
                assert response.text == "pong"
                lags.append(time.perf_counter() - start)
                await asyncio.sleep(0.005)

        probing = asyncio.create_task(probe())
        logins = [
            http.post(
                "/auth/login",
                json={"email": "a@example.com", "password": PASSWORD},
                headers=headers,
            )
            for _ in range(16)
        ]
        results = await asyncio.gather(*logins)
        done.set()
        await probing
    assert all(r.status_code == 200 for r in results)
    assert threads
    assert all(name.startswith("doorward-argon2") for name in threads)
    assert inner.peak_running <= 2
    assert len(lags) >= 3, "the probe could not run while logins were hashing"


def test_end_to_end_over_uvicorn_and_smtp():
    """Over uvicorn on 127.0.0.1 with mail through aiosmtpd: register, follow the mailed link, log in, log out."""
    with SmtpServer() as smtp:
        mailer = AsyncSmtpMailer(
            SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com")
        )
        doorward = make_doorward(
            mailer=mailer, base_url="http://127.0.0.1:1", insecure_development=True
        )
        config = uvicorn.Config(
            starlette_app(doorward), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
                headers = {"X-CSRF-Token": token, **JSON}
                assert (
                    http.post(
                        "/auth/register",
                        json={"email": "e2e@example.com", "password": PASSWORD},
                        headers=headers,
                    ).status_code
                    == 202
                )
                smtp.wait_for(1)
                path = re.sub(r"^https?://[^/]+", "", smtp.first_link(to="e2e@example.com"))
                assert http.get(path).status_code == 200
                assert http.post(path, headers=headers).status_code == 200
                assert (
                    http.post(
                        "/auth/login",
                        json={"email": "e2e@example.com", "password": PASSWORD},
                        headers=headers,
                    ).status_code
                    == 200
                )
                assert (
                    http.get("/auth/me", headers=JSON).json()["user"]["email"] == "e2e@example.com"
                )
                token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
                assert (
                    http.post("/auth/logout", headers={"X-CSRF-Token": token, **JSON}).status_code
                    == 204
                )
                assert http.get("/auth/me", headers=JSON).status_code == 401
        finally:
            server.should_exit = True
            thread.join(10)


def test_requires_redirect_brings_the_browser_back_to_the_page():
    """Starlette's requires(redirect=...) sends an absolute next; after login the browser is back."""

    @requires("authenticated", redirect="doorward:login_page")
    async def page(request: Request):
        return PlainTextResponse(f"page for {request.user.email}")

    doorward = make_doorward()
    app = Starlette(
        routes=[Route("/reports/q3", page), doorward.mount()], middleware=[doorward.middleware()]
    )
    asyncio.run(doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True))
    http = client(app)
    first = http.get("/reports/q3?year=2030")
    assert first.status_code == 303
    login_page = http.get(first.headers["location"])
    assert 'name="next" value="/reports/q3?year=2030"' in login_page.text
    csrf = login_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = http.post(
        "/auth/login",
        data={
            "email": "a@example.com",
            "password": PASSWORD,
            "csrf_token": csrf,
            "next": "https://testserver/reports/q3?year=2030",
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/reports/q3?year=2030")
    assert http.get("/reports/q3?year=2030").text == "page for a@example.com"


def test_starlette_guards_decide_as_the_flask_decorators():
    """doorward_starlette's decorators: browsers 303 to login with next, JSON 401, roles 403."""
    from doorward_starlette import login_required, roles_required

    @login_required
    async def account(request: Request):
        return PlainTextResponse("account")

    @roles_required("admin")
    async def admin(request: Request):
        return PlainTextResponse("admin")

    doorward = make_doorward()
    app = Starlette(
        routes=[Route("/account", account), Route("/admin", admin), doorward.mount()],
        middleware=[doorward.middleware()],
    )
    asyncio.run(doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True))
    http = client(app)
    browser = http.get("/account?tab=1", headers={"Accept": "text/html"})
    assert (browser.status_code, browser.headers["location"]) == (
        303,
        "/auth/login?next=/account%3Ftab%3D1",
    )
    api = http.get("/account", headers=JSON)
    assert (api.status_code, api.json()["error"]["code"]) == (401, "not_authenticated")
    login(http)
    assert http.get("/account").text == "account"
    refused = http.get("/admin", headers=JSON)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert http.get("/admin", headers={"Accept": "text/html"}).status_code == 403


def test_hd01_hd02_guard_refusals_carry_the_security_headers():
    """The guards' refusals (401, 303 to login, 403) and a store-down 503 are no-store,
    nosniff and unframeable, as the core decides."""
    from doorward_starlette import login_required, roles_required

    @login_required
    async def account(request: Request):
        return PlainTextResponse("account")

    @roles_required("admin")
    async def admin(request: Request):
        return PlainTextResponse("admin")

    doorward = make_doorward()
    app = Starlette(
        routes=[Route("/account", account), Route("/admin", admin), doorward.mount()],
        middleware=[doorward.middleware()],
    )
    asyncio.run(doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True))
    http = client(app)
    refusals = [http.get("/account", headers=JSON), http.get("/account")]
    login(http)
    refusals.append(http.get("/admin", headers=JSON))
    down = client(starlette_app(make_doorward(store=DownStore())))
    down.cookies.set("__Host-doorward", CredentialSecrets([SECRET]).new("session")[0])
    refusals.append(down.get("/auth/me", headers=JSON))
    assert [r.status_code for r in refusals] == [401, 303, 403, 503]
    for response in refusals:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_adapter_refuses_a_store_of_the_wrong_face():
    """A sync store given to Starlette fails at construction, naming the wrapper to use."""
    from doorward import MemoryStore

    with pytest.raises(TypeError, match="AsyncThreadedStore"):
        make_doorward(store=MemoryStore())


def test_unknown_path_below_the_prefix_is_the_contracts_404():
    """An unknown path under /auth answers the contract's 404 body; a known path with
    another method keeps a 405 that lists every allowed method."""
    doorward = make_doorward()
    http = client(starlette_app(doorward))
    missing = http.get("/auth/no-such-thing", headers=JSON)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert missing.headers["cache-control"] == "no-store"
    wrong = http.request("PUT", "/auth/login")
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_a_line_break_in_a_path_below_the_prefix_is_the_contracts_404():
    """Starlette's routes never match a path with a line break; doorward still answers its 404."""
    doorward = make_doorward()
    http = client(starlette_app(doorward))
    answer = http.get("/auth/reset/a%0Ab", headers=JSON)
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


def test_the_request_doorward_reads_has_the_headers_starlette_reads():
    """Identification reads headers from the scope when asked; what it reads, and the whole
    set when something iterates it, are Starlette's (names lower case, the last of a
    repeated header as a dict of them keeps)."""
    from starlette.requests import HTTPConnection

    from doorward_starlette.app import credentials_request

    raw = [
        (b"host", b"app.example.com"),
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"X-Mixed", b"first"),
        (b"x-mixed", b"second"),
        (b"cookie", b"a=1; b=2"),
        (b"user-agent", b"caf\xe9"),
    ]
    connection = HTTPConnection(
        {"type": "http", "method": "GET", "path": "/p", "headers": raw, "client": ("1.2.3.4", 5)}
    )
    head = credentials_request(connection)
    expected = {name.lower(): value for name, value in connection.headers.items()}
    assert head.headers.get("X-Forwarded-For") == "203.0.113.9"
    assert head.headers["x-mixed"] == expected["x-mixed"] == "second"
    assert head.headers.get("user-agent") == "café"
    assert head.headers.get("authorization") is None
    assert "authorization" not in head.headers
    with pytest.raises(KeyError):
        head.headers["authorization"]
    assert dict(head.headers) == expected
    assert head.headers.get("x-mixed") == "second"  # after gathering, the same answers
    assert head.cookies == {"a": "1", "b": "2"}
    assert head.remote_addr == "1.2.3.4"
