"""CSRF protection of the app's own Starlette and FastAPI routes (CR-01): ``csrf_protect``,
the middleware's ``csrf_protect_app``, ``csrf_exempt``, ``csrf_token`` and FastAPI's
``require_csrf``."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated

import jinja2
import pytest
from fastapi import Depends, FastAPI, Form
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from doorward import Argon2Params, AsyncMemoryStore, Settings
from doorward._async.mailers import AsyncOutbox
from doorward.clock import FrozenClock
from doorward_starlette import Doorward, csrf_exempt, csrf_protect, csrf_token
from doorward_starlette.fastapi import require_csrf

SECRET = "starlette-tests-secret-key-0123456789abc"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}


def make_doorward(**overrides: object) -> Doorward:
    return Doorward(
        settings=Settings(
            secret_keys=SECRET,
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            **overrides,
        ),
        store=AsyncMemoryStore(),
        mailer=AsyncOutbox(),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )


def starlette_app(doorward: Doorward, effects: list[str]) -> Starlette:
    @csrf_protect
    async def notes(request: Request) -> JSONResponse:
        form = await request.form() if "form" in request.headers.get("content-type", "") else {}
        effects.append(f"notes {request.user.display_name or 'anonymous'} {form.get('text')}")
        return JSONResponse({"ok": True})

    @csrf_protect
    async def raw(request: Request) -> JSONResponse:
        effects.append(f"raw {(await request.body()).decode()}")
        return JSONResponse({"ok": True})

    async def plain(request: Request) -> JSONResponse:
        body = await request.body()
        effects.append(f"plain {body.decode()}")
        return JSONResponse({"ok": True})

    @csrf_exempt
    async def webhook(request: Request) -> JSONResponse:
        effects.append("webhook")
        return JSONResponse({"ok": True})

    async def form(request: Request) -> HTMLResponse:
        template = jinja2.Template('<input name="csrf_token" value="{{ csrf_token() }}">')
        return HTMLResponse(template.render(csrf_token=csrf_token(request)))

    async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
        effects.append("legacy")
        await JSONResponse({"ok": True})(scope, receive, send)

    return Starlette(
        routes=[
            Mount("/legacy", app=legacy),
            Route("/notes", notes, methods=["GET", "POST", "DELETE"]),
            Route("/plain", plain, methods=["POST"]),
            Route("/raw", raw, methods=["POST"]),
            Route("/form", form),
            Mount("/hooks", routes=[Route("/paid", webhook, methods=["POST"])]),
            doorward.mount(),
        ],
        middleware=[doorward.middleware()],
    )


def fastapi_app(doorward: Doorward, effects: list[str]) -> FastAPI:
    app = FastAPI()
    app.router.routes.append(doorward.mount())
    app.add_middleware(doorward.middleware().cls, doorward=doorward)

    @app.post("/api/notes", dependencies=[Depends(require_csrf)])
    async def add_note(note: dict[str, str]) -> dict[str, bool]:
        effects.append(f"note {note['text']}")
        return {"ok": True}

    @app.post("/api/form", dependencies=[Depends(require_csrf)])
    async def form_note(text: Annotated[str, Form()]) -> dict[str, bool]:
        effects.append(f"form {text}")
        return {"ok": True}

    @app.post("/api/plain")
    async def plain() -> dict[str, bool]:
        effects.append("plain")
        return {"ok": True}

    @app.post("/api/webhook")
    @csrf_exempt
    async def webhook() -> dict[str, bool]:
        effects.append("webhook")
        return {"ok": True}

    return app


def client(app: Starlette | FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def token_of(http: TestClient) -> str:
    token: str = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    return token


def login(doorward: Doorward, http: TestClient) -> None:
    asyncio.run(doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True))
    answer = http.post(
        "/auth/login",
        json={"email": "a@example.com", "password": PASSWORD},
        headers={"X-CSRF-Token": token_of(http), **JSON},
    )
    assert answer.status_code == 200


@pytest.fixture
def effects() -> list[str]:
    return []


def test_cr01_app_route_refuses_a_form_post_without_token(effects: list[str]) -> None:
    """A logged-in browser's form POST without the token: the error page, 403, and the
    endpoint never ran; with the form's ``csrf_token`` field it runs and reads the form."""
    doorward = make_doorward()
    http = client(starlette_app(doorward, effects))
    login(doorward, http)
    refused = http.post("/notes", data={"text": "x"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert effects == []
    token = token_of(http)
    assert http.post("/notes", data={"text": "x", "csrf_token": token}).status_code == 200
    assert http.post("/raw", data={"csrf_token": token}).status_code == 200
    assert effects == ["notes a@example.com x", f"raw csrf_token={token}"]


def test_cr01_app_route_refuses_a_json_post_without_token(effects: list[str]) -> None:
    """A JSON POST without the header (or with a wrong one): the contract's 403
    ``csrf_failed``, no effect; the header's token lets it in."""
    doorward = make_doorward()
    http = client(starlette_app(doorward, effects))
    login(doorward, http)
    refused = http.post("/notes", json={"text": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert http.post("/notes", json={}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert http.delete("/notes", headers=JSON).status_code == 403
    assert effects == []
    answer = http.post("/notes", json={}, headers={"X-CSRF-Token": token_of(http)})
    assert answer.status_code == 200
    assert effects == ["notes a@example.com None"]


def test_cr01_app_route_needs_the_token_when_logged_out(effects: list[str]) -> None:
    """Anonymous requests need the token as well."""
    http = client(starlette_app(make_doorward(), effects))
    assert http.post("/notes", json={}).status_code == 403
    assert effects == []
    assert http.post("/notes", json={}, headers={"X-CSRF-Token": token_of(http)}).status_code == 200
    assert effects == ["notes anonymous None"]


def test_cr01_app_route_exempts_bearer_tokens_and_safe_methods(effects: list[str]) -> None:
    """A request authenticated by an API token needs no CSRF token, nor does a GET; an
    invalid bearer token is no exemption."""
    doorward = make_doorward()
    auth = doorward.auth

    async def arrange() -> str:
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        token, _ = await auth.issue_api_token(user, "script")
        return token

    api_token = asyncio.run(arrange())
    http = client(starlette_app(doorward, effects))
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert http.post("/notes", json={}, headers=bearer).status_code == 200
    assert http.post("/notes", json={}, headers={"Authorization": "Bearer no"}).status_code == 403
    assert http.get("/notes").status_code == 200
    assert effects == ["notes a@example.com None", "notes anonymous None"]


def test_cr01_app_routes_are_left_alone_by_default(effects: list[str]) -> None:
    """Without ``csrf_protect_app`` only decorated endpoints are checked."""
    http = client(starlette_app(make_doorward(), effects))
    assert http.post("/plain", content=b"a").status_code == 200
    assert effects == ["plain a"]


def test_cr01_app_wide_protection_and_csrf_exempt(effects: list[str]) -> None:
    """With ``csrf_protect_app`` the middleware checks every unsafe request to the app's
    routes (form field or header); the form body it read reaches the endpoint whole;
    ``csrf_exempt`` endpoints (also in a ``Mount``) are left alone, and a request no route
    takes gets the router's 404 or 405 as on Flask."""
    doorward = make_doorward(csrf_protect_app=True)
    http = client(starlette_app(doorward, effects))
    assert http.post("/plain", json={}).status_code == 403
    assert http.post("/plain", data={"csrf_token": "forged"}).status_code == 403
    assert http.put("/plain", json={}).status_code == 405
    assert http.post("/nowhere", json={}).status_code == 404
    assert http.post("/legacy/x", json={}).status_code == 403  # an ASGI app: no routes to see
    assert effects == []
    token = token_of(http)
    assert http.post("/plain", data={"csrf_token": token, "a": "1"}).status_code == 200
    assert http.post("/plain", content=b"x", headers={"X-CSRF-Token": token}).status_code == 200
    assert http.post("/hooks/paid", json={"event": "paid"}).status_code == 200
    assert http.post("/notes", data={"text": "y", "csrf_token": token}).status_code == 200
    assert http.post("/auth/logout", json={}).json()["error"]["code"] == "csrf_failed"
    assert http.post("/legacy/x", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    assert effects == [
        f"plain csrf_token={token}&a=1",
        "plain x",
        "webhook",
        "notes anonymous y",
        "legacy",
    ]


def test_cr01_app_wide_protection_refuses_a_form_too_large_to_read(effects: list[str]) -> None:
    """A form body beyond ``max_body_size`` is not buffered: without the header it is
    refused, with the header it reaches the endpoint whole."""
    doorward = make_doorward(csrf_protect_app=True, max_body_size=1024)
    http = client(starlette_app(doorward, effects))
    token = token_of(http)
    big = {"csrf_token": token, "text": "z" * 2000}
    assert http.post("/plain", data=big).status_code == 403
    assert effects == []
    assert http.post("/plain", data=big, headers={"X-CSRF-Token": token}).status_code == 200
    assert len(effects[0]) > 2000


def test_cr01_csrf_token_helper_sets_its_cookie(effects: list[str]) -> None:
    """``csrf_token(request)`` gives a token (callable in a template as on doorward's
    pages) whose cookie the same response sets, and that token is accepted."""
    http = client(starlette_app(make_doorward(csrf_protect_app=True), effects))
    page = http.get("/form")
    assert "__Host-doorward-csrf=" in page.headers["set-cookie"]
    token = re.search(r'value="([^"]+)"', page.text).group(1)
    assert http.post("/plain", data={"csrf_token": token}).status_code == 200


def test_cr01_fastapi_require_csrf(effects: list[str]) -> None:
    """FastAPI: ``require_csrf`` refuses a JSON or form POST without the token (403 JSON,
    the path function never ran) and lets in the header's or the form field's token."""
    doorward = make_doorward()
    http = client(fastapi_app(doorward, effects))
    login(doorward, http)
    refused = http.post("/api/notes", json={"text": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert effects == []
    token = token_of(http)
    added = http.post("/api/notes", json={"text": "x"}, headers={"X-CSRF-Token": token})
    assert added.status_code == 200
    assert http.post("/api/form", data={"text": "y"}).status_code == 403
    assert http.post("/api/form", data={"text": "y", "csrf_token": token}).status_code == 200
    assert http.post("/api/plain").status_code == 200
    assert effects == ["note x", "form y", "plain"]


def test_cr01_fastapi_app_wide_protection_and_csrf_exempt(effects: list[str]) -> None:
    """FastAPI with ``csrf_protect_app``: every path function needs the token, except one
    marked ``csrf_exempt``."""
    doorward = make_doorward(csrf_protect_app=True)
    http = client(fastapi_app(doorward, effects))
    assert http.post("/api/plain").status_code == 403
    assert http.post("/api/webhook", json={}).status_code == 200
    assert http.post("/api/plain", headers={"X-CSRF-Token": token_of(http)}).status_code == 200
    assert effects == ["webhook", "plain"]


def test_cr01_http_endpoint_methods_are_protected(effects: list[str]) -> None:
    """On an ``HTTPEndpoint`` the decorator goes on its methods: the POST without the
    token is refused before the method runs, and with the form's token the method reads the
    form. Decorating the class itself is refused at once, rather than breaking the route."""
    from starlette.endpoints import HTTPEndpoint

    class Notes(HTTPEndpoint):
        async def get(self, request: Request) -> JSONResponse:
            return JSONResponse({"ok": True})

        @csrf_protect
        async def post(self, request: Request) -> JSONResponse:
            form = await request.form()
            effects.append(f"endpoint {form.get('text')}")
            return JSONResponse({"ok": True})

    with pytest.raises(TypeError, match="not the class"):
        csrf_protect(Notes)
    doorward = make_doorward()
    app = Starlette(
        routes=[Route("/endpoint", Notes), doorward.mount()], middleware=[doorward.middleware()]
    )
    http = client(app)
    login(doorward, http)
    assert http.get("/endpoint").status_code == 200
    assert http.post("/endpoint", data={"text": "x"}).status_code == 403
    assert effects == []
    token = token_of(http)
    assert http.post("/endpoint", data={"text": "x", "csrf_token": token}).status_code == 200
    assert effects == ["endpoint x"]
