"""The optional session snapshot (``Settings.session_snapshot_seconds``) on Starlette and
FastAPI: the store is skipped for up to N seconds (role scopes included); logout on the
device is immediate; logout everywhere and a role change take effect within N seconds;
never another user's, never without the session cookie, never for bearer tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from doorward import Argon2Params, AsyncMemoryStore, Role, Settings
from doorward._async.mailers import AsyncOutbox
from doorward.clock import FrozenClock
from doorward_starlette import Doorward, DoorwardMiddleware
from doorward_starlette.fastapi import current_user

SECRET = "starlette-snapshot-secret-key-0123456789"
PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}
SNAPSHOT = "__Host-doorward-snapshot"
SESSION = "__Host-doorward"
N = 30


class CountingStore(AsyncMemoryStore):
    """The memory store, counting the per-request lookups."""

    def __init__(self):
        super().__init__()
        self.calls = []

    async def get_credential(self, kind, secret_hash):
        self.calls.append("get_credential")
        return await super().get_credential(kind, secret_hash)

    async def get_credential_with_roles(self, kind, secret_hash):
        self.calls.append("get_credential_with_roles")
        return await super().get_credential_with_roles(kind, secret_hash)


def make(seconds=N):
    store = CountingStore()
    doorward = Doorward(
        settings=Settings(
            secret_keys=SECRET,
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
            session_snapshot_seconds=seconds,
        ),
        store=store,
        mailer=AsyncOutbox(),
        clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)),
    )

    @requires("authenticated", status_code=401)
    async def guarded(request: Request):
        identity = request.user.identity_record
        return JSONResponse(
            {
                "user_id": identity.user_id,
                "email": request.user.email,
                "via": identity.via,
                "snapshot": identity.snapshot,
                "scopes": request.auth.scopes,
            }
        )

    @requires("authenticated", status_code=401)
    async def loaded(request: Request):
        user = await doorward.load_user(request)
        return JSONResponse({"created": None if user is None else str(user.created_at)})

    @requires("role:admin", status_code=403)
    async def admin(request: Request):
        return PlainTextResponse("admin")

    app = Starlette(
        routes=[
            Route("/guarded", guarded),
            Route("/loaded", loaded),
            Route("/admin", admin),
            doorward.mount(),
        ],
        middleware=[doorward.middleware()],
    )
    return app, doorward, store


def client(app):
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def login(http, email):
    token = http.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    answer = http.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token, **JSON},
    )
    assert answer.status_code == 200, answer.text


def snapshot_header(response):
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(SNAPSHOT + "=")]
    return found[0] if found else None


def sent(session, snapshot):
    return {"Cookie": f"{SESSION}={session}; {SNAPSHOT}={snapshot}"}


def test_off_by_default():
    """Without the setting no snapshot cookie is made and every request reads the store."""
    app, doorward, store = make(seconds=0)
    asyncio.run(doorward.auth.create_user("a@example.com", PASSWORD, confirmed=True))
    http = client(app)
    login(http, "a@example.com")
    del store.calls[:]
    for _ in range(3):
        answer = http.get("/guarded")
        assert answer.json()["snapshot"] is False
        assert snapshot_header(answer) is None
    assert len(store.calls) == 3


def test_skips_the_store_with_role_scopes_and_loads_the_user_on_demand():
    """The snapshot carries the role scopes; request.user has the id and email; load_user
    and FastAPI's current_user read the application's user from the store."""
    app, doorward, store = make()
    auth = doorward.auth

    async def arrange():
        await auth.store.save_role(Role(name="admin", permissions=frozenset({"users:write"})))
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        await auth.add_role(user, "admin")

    asyncio.run(arrange())
    http = client(app)
    login(http, "a@example.com")
    first = http.get("/guarded")
    assert first.json()["snapshot"] is False
    assert f"Max-Age={N}" in snapshot_header(first)
    del store.calls[:]
    body = http.get("/guarded").json()
    assert body["snapshot"] is True
    assert body["email"] == "a@example.com"
    assert {"authenticated", "fresh", "role:admin", "perm:users:write"} <= set(body["scopes"])
    assert http.get("/admin").text == "admin"
    assert store.calls == []
    assert http.get("/loaded").json()["created"] is not None
    assert len(store.calls) == 1

    api = FastAPI()

    @api.get("/me")
    async def me(user=Depends(current_user)):  # noqa: B008 (FastAPI's idiom)
        return {"created": str(user.created_at)}

    api.add_middleware(DoorwardMiddleware, doorward=doorward)
    api.mount("/auth", doorward.mount())
    session, snapshot = http.cookies.get(SESSION), http.cookies.get(SNAPSHOT)
    del store.calls[:]
    assert client(api).get("/me", headers=sent(session, snapshot)).json()["created"] != "None"
    assert len(store.calls) == 1  # the snapshot identified it; the user came from the store


def test_logout_here_is_immediate_everywhere_within_n_seconds():
    """Logout clears the snapshot; logout everywhere from elsewhere and a role removal
    reach the snapshotted session within N seconds."""
    app, doorward, _ = make()
    auth = doorward.auth

    async def arrange():
        await auth.store.save_role(Role(name="admin"))
        user = await auth.create_user("a@example.com", PASSWORD, confirmed=True)
        await auth.add_role(user, "admin")
        return user

    user = asyncio.run(arrange())
    here, there = client(app), client(app)
    login(here, "a@example.com")
    login(there, "a@example.com")
    here.get("/guarded")
    there.get("/guarded")
    csrf = here.get("/auth/csrf", headers=JSON).json()["csrf_token"]
    out = here.post("/auth/logout", headers={"X-CSRF-Token": csrf, **JSON})
    assert out.status_code in {200, 204}
    assert "Max-Age=0" in snapshot_header(out)
    assert here.get("/guarded").status_code == 401
    asyncio.run(auth.remove_role(user, "admin"))
    assert there.get("/admin").status_code == 200  # the snapshot: within N seconds
    asyncio.run(auth.logout_everywhere(user))
    assert there.get("/guarded").status_code == 200
    assert there.get("/loaded").json() == {"created": None}  # the store knows at once
    doorward.auth.clock.advance(N)
    assert there.get("/guarded").status_code == 401
    assert there.get("/admin").status_code == 403


def test_never_another_users_without_the_session_or_for_bearer_tokens():
    """A snapshot works only with its own session cookie; alone it is cleared; bearer
    requests ignore it and never get one."""
    app, doorward, store = make()
    auth = doorward.auth
    alice = asyncio.run(auth.create_user("a@example.com", PASSWORD, confirmed=True))
    bob = asyncio.run(auth.create_user("b@example.com", PASSWORD, confirmed=True))
    a, b = client(app), client(app)
    login(a, "a@example.com")
    login(b, "b@example.com")
    a.get("/guarded")
    b.get("/guarded")
    session_b, snapshot_a = b.cookies.get(SESSION), a.cookies.get(SNAPSHOT)
    assert snapshot_a
    answer = client(app).get("/guarded", headers=sent(session_b, snapshot_a))
    assert answer.json()["user_id"] == str(bob.id)
    assert answer.json()["snapshot"] is False
    alone = client(app).get("/guarded", headers={"Cookie": f"{SNAPSHOT}={snapshot_a}"})
    assert alone.status_code == 401
    assert "Max-Age=0" in snapshot_header(alone)
    token, _ = asyncio.run(auth.issue_api_token(alice, "ci"))
    del store.calls[:]
    for _ in range(2):
        headers = {"Authorization": f"Bearer {token}", **sent(session_b, b.cookies.get(SNAPSHOT))}
        answer = client(app).get("/guarded", headers=headers)
        assert answer.json()["user_id"] == str(alice.id)
        assert answer.json()["via"] == "api"
        assert snapshot_header(answer) is None
    assert len(store.calls) == 2
