"""The Flask example: a public page, a logged-in page, an admin page and a JSON endpoint.

    DOORWARD_SECRET_KEY=... flask --app examples.flask_app:create_app run
    gunicorn 'examples.flask_app:create_app()'

Configuration: DOORWARD_SECRET_KEY, DOORWARD_BASE_URL (default http://127.0.0.1:5000),
DOORWARD_DATABASE_URL (default a SQLite file), DOORWARD_MAIL_URL (console:// or
smtp://host:port?from=...).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, jsonify, render_template
from markupsafe import Markup

from doorward._sync.mailers import mailer_from_url
from doorward.outbox import OutboxMailer
from doorward_flask import Doorward, csrf_token, current_user, login_required, roles_required
from doorward_redis import RedisRateLimiter
from doorward_sqlalchemy import (
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base
from examples._common import LAYOUT, PAGES, database_url, other_app, settings_from_env


def redis_limiter() -> RedisRateLimiter | None:
    """Rate limits in Redis when DOORWARD_REDIS_URL is set (short timeouts, one retry)."""
    url = os.environ.get("DOORWARD_REDIS_URL")
    if not url:
        return None
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisRateLimiter(client)


def create_app() -> Flask:
    """Build the example app from the environment."""
    app = Flask(__name__)
    settings = settings_from_env("http://127.0.0.1:5000")
    url = database_url()
    engine = sqlite_engine(url) if url.startswith("sqlite") else sa.create_engine(url)
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(engine, default_models())
    mail_url = os.environ.get("DOORWARD_MAIL_URL", "console://")
    if mail_url.startswith("smtp"):
        # durable mail (DI-02): kept in the database until delivered; this process's
        # worker starts now, so mail an earlier process left behind goes out at once
        mailer: Any = OutboxMailer.from_url(store, mail_url, lease=timedelta(minutes=1))
        mailer.start()
    else:
        mailer = mailer_from_url(mail_url)
    Doorward(
        app,
        store=store,
        limiter=redis_limiter() or SQLAlchemyRateLimiter(engine),
        settings=settings,
        mailer=mailer,
    )
    other_url, other_name = other_app()

    def page(name: str) -> str:
        title, body = PAGES[name]
        return render_template(
            LAYOUT,
            title=title,
            body=Markup(body),
            framework="Flask",
            user=current_user or None,
            csrf_token=csrf_token(),
            other_url=other_url,
            other_name=other_name,
        )

    @app.get("/")
    def home() -> str:
        return page("home")

    @app.get("/account")
    @login_required
    def account() -> str:
        return page("account")

    @app.get("/admin")
    @roles_required("admin")
    def admin() -> str:
        return page("admin")

    @app.get("/api/whoami")
    @login_required
    def whoami() -> object:
        return jsonify(id=str(current_user.id), email=current_user.email, framework="flask")

    return app
