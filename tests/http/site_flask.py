"""The HTTP contract's Flask site: an app with the in-memory store, behind httpx over WSGI."""

from __future__ import annotations

import httpx
from flask import Flask

from doorward import MemoryStore, Role
from doorward._sync.mailers import Outbox
from doorward_flask import Doorward
from tests.http.site import Site


def make_site(settings, clock, store_factory=None) -> Site:
    app = Flask(__name__)
    store = store_factory() if store_factory is not None else MemoryStore()
    outbox = Outbox()
    extension = Doorward(app, store=store, settings=settings, mailer=outbox, clock=clock)
    auth = app.extensions["doorward"].auth

    def new_client() -> httpx.Client:
        return httpx.Client(
            transport=httpx.WSGITransport(app=app, remote_addr="192.0.2.10"),
            base_url="https://testserver",
        )

    def create_user(email, password, confirmed=True, active=True, roles=()):
        for role in roles:
            store.save_role(Role(name=role))
        user = auth.create_user(email, password, confirmed=confirmed, roles=roles)
        if not active:
            user = auth.set_active(user, False)
        return user

    return Site(
        name="flask",
        client=new_client(),
        clock=clock,
        mails=lambda: list(outbox.messages),
        create_user=create_user,
        new_client=new_client,
        get_user=auth.get_user_by_email,
        extras={
            "app": app,
            "auth": auth,
            "extension": extension,
            "deactivate": lambda email: auth.set_active(auth.get_user_by_email(email), False),
            "close": lambda: None,
        },
    )
