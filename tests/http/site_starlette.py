"""The HTTP contract's Starlette site: the in-memory async store, behind Starlette's TestClient."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.testclient import TestClient

from doorward import AsyncMemoryStore, Role
from doorward._async.mailers import AsyncOutbox
from doorward_starlette import Doorward
from tests.http.site import Site


def make_site(settings, clock) -> Site:
    store = AsyncMemoryStore()
    outbox = AsyncOutbox()
    doorward = Doorward(settings=settings, store=store, mailer=outbox, clock=clock)
    app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])
    auth = doorward.auth

    def new_client() -> TestClient:
        return TestClient(
            app, base_url="https://testserver", client=("192.0.2.10", 50000), follow_redirects=False
        )

    def run(coroutine):
        return asyncio.run(coroutine)

    def create_user(email, password, confirmed=True, active=True, roles=()):
        async def make():
            for role in roles:
                await store.save_role(Role(name=role))
            user = await auth.create_user(email, password, confirmed=confirmed, roles=roles)
            if not active:
                user = await auth.set_active(user, False)
            return user

        return run(make())

    async def deactivate(email):
        await auth.set_active(await auth.get_user_by_email(email), False)

    return Site(
        name="starlette",
        client=new_client(),
        clock=clock,
        mails=lambda: list(outbox.messages),
        create_user=create_user,
        new_client=new_client,
        get_user=lambda email: run(auth.get_user_by_email(email)),
        extras={
            "app": app,
            "auth": auth,
            "doorward": doorward,
            "deactivate": lambda email: run(deactivate(email)),
        },
    )
