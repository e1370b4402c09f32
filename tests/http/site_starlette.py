"""The HTTP contract's Starlette site.

Every request of every client runs on one event loop (a blocking portal), as under
uvicorn, so async stores whose clients belong to one loop (AsyncMongoClient, aiosqlite
pools) work exactly as in production.
"""

from __future__ import annotations

import contextlib

import httpx
from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette

from doorward import AsyncMemoryStore, Role
from doorward._async.mailers import AsyncOutbox
from doorward_starlette import Doorward
from tests.http.site import Site


class PortalTransport(httpx.BaseTransport):
    """A sync httpx transport that runs the ASGI app on the portal's event loop."""

    def __init__(self, app, portal, client=("192.0.2.10", 50000)):
        self.inner = httpx.ASGITransport(app=app, client=client)
        self.portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        return self.portal.call(self._handle, request, body)

    async def _handle(self, request: httpx.Request, body: bytes) -> httpx.Response:
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        response = await self.inner.handle_async_request(inner)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def make_site(settings, clock, store_factory=None) -> Site:
    stack = contextlib.ExitStack()
    portal = stack.enter_context(start_blocking_portal())
    store = portal.call(store_factory) if store_factory is not None else AsyncMemoryStore()

    async def release() -> None:
        # on the portal's loop, before it closes: no driver thread may call back into a closed loop
        engine = getattr(store, "engine", None)
        if engine is not None:
            await engine.dispose()
        database = getattr(store, "database", None)
        if database is not None:
            await database.client.close()

    stack.callback(portal.call, release)
    outbox = AsyncOutbox()
    doorward = Doorward(settings=settings, store=store, mailer=outbox, clock=clock)
    app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
    auth = doorward.auth

    def new_client() -> httpx.Client:
        return httpx.Client(transport=PortalTransport(app, portal), base_url="https://testserver")

    async def create(email, password, confirmed, active, roles):
        for role in roles:
            await auth.store.save_role(Role(name=role))
        user = await auth.create_user(email, password, confirmed=confirmed, roles=roles)
        if not active:
            user = await auth.set_active(user, False)
        return user

    def create_user(email, password, confirmed=True, active=True, roles=()):
        return portal.call(create, email, password, confirmed, active, roles)

    async def deactivate(email):
        await auth.set_active(await auth.get_user_by_email(email), False)

    return Site(
        name="starlette",
        client=new_client(),
        clock=clock,
        mails=lambda: list(outbox.messages),
        create_user=create_user,
        new_client=new_client,
        get_user=lambda email: portal.call(auth.get_user_by_email, email),
        extras={
            "app": app,
            "auth": auth,
            "doorward": doorward,
            "deactivate": lambda email: portal.call(deactivate, email),
            "close": stack.close,
        },
    )
