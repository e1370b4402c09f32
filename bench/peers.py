"""The peers' side of bench/run.py; runs in bench/.peers (see bench/setup-peers).

Measures, as run.py does for doorward: a request to a separate bare framework app (Flask,
FastAPI), an unprotected route inside the auth app, a protected request
(Flask-Security-Too: session and token; fastapi-users: cookie + database token and JWT),
and login and registration over HTTP with each library's default hashing (argon2) where
only argon2-cffi's primitive is stubbed (``argon2_stub.py``, the same stub as doorward's).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from argon2_stub import stubbed

PASSWORD = "correct horse battery staple"


def sqlite_pragmas(dbapi_connection, _record):
    """doorward's ``sqlite_engine`` pragmas, for every library: the disk's fsync is not
    what the bench compares."""
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "busy_timeout=5000",
        "synchronous=NORMAL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def median_us(samples):
    return statistics.median(samples) * 1e6


def timed(fn, n):
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return median_us(samples)


def timed_turns(calls, n, turn=50):
    """The median µs of each of ``calls``, ``n`` times each, measured in turns of ``turn``
    calls: a slow spell of the machine falls on them alike, not on one of them (the
    overheads are differences of these medians). run.py measures doorward with it too."""
    for call in calls.values():
        for _ in range(min(200, n)):
            call()
    samples = {name: [] for name in calls}
    for done in range(0, n, turn):
        for name, call in calls.items():
            for _ in range(min(turn, n - done)):
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
    return {name: median_us(found) for name, found in samples.items()}


async def measured_turns(calls, n, turn=50):
    """``timed_turns`` of coroutine functions."""
    for call in calls.values():
        for _ in range(min(200, n)):
            await call()
    samples = {name: [] for name in calls}
    for done in range(0, n, turn):
        for name, call in calls.items():
            for _ in range(min(turn, n - done)):
                start = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - start)
    return {name: median_us(found) for name, found in samples.items()}


def flask_security(n, folder: Path):
    import sqlalchemy as sa
    from flask import Flask
    from flask_security import Security, SQLAlchemyUserDatastore, auth_required, hash_password
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    bare_app = Flask("bare")

    @bare_app.get("/bare")
    def bare():
        return "ok"

    app = Flask("fst")
    # the defaults (argon2, the password HMAC'd with the salt first), registration on
    # without its mail; Flask-WTF's CSRF off, as JSON clients of it usually run
    app.config.update(
        SECRET_KEY="f" * 40,
        SECURITY_PASSWORD_SALT="bench-salt",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/fst.sqlite3",
        WTF_CSRF_ENABLED=False,
        SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=True,
        SECURITY_REGISTERABLE=True,
        SECURITY_SEND_REGISTER_EMAIL=False,
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},  # no DNS in a bench
    )
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        __tablename__ = "role"

    class User(db.Model, fsqla.FsUserMixin):
        __tablename__ = "user"

    datastore = SQLAlchemyUserDatastore(db, User, Role)
    Security(app, datastore)

    @app.get("/open")
    def open_view():
        return "ok"

    @app.get("/session")
    @auth_required("session")
    def session_view():
        return "ok"

    @app.get("/token")
    @auth_required("token")
    def token_view():
        return "ok"

    with app.app_context():
        sa.event.listen(db.engine, "connect", sqlite_pragmas)
        db.create_all()
        datastore.create_user(email="b@example.com", password=hash_password(PASSWORD))
        db.session.commit()
    client = app.test_client()
    body = {"email": "b@example.com", "password": PASSWORD}
    response = client.post("/login?include_auth_token", json=body)
    assert response.status_code == 200, response.data
    token = response.json["response"]["user"]["authentication_token"]
    anonymous = app.test_client()
    plain = bare_app.test_client()
    counter = iter(range(10**9))

    def login():
        answer = app.test_client().post("/login", json=body)
        assert answer.status_code == 200, answer.data

    def register():
        email = f"r{next(counter)}@example.com"
        fields = {"email": email, "password": PASSWORD, "password_confirm": PASSWORD}
        answer = app.test_client().post("/register", json=fields)
        assert answer.status_code == 200, answer.data

    results = timed_turns(
        {
            "bare": lambda: plain.get("/bare"),
            "open": lambda: anonymous.get("/open"),
            "session": lambda: client.get("/session"),
            "token": lambda: anonymous.get("/token", headers={"Authentication-Token": token}),
        },
        n,
    )
    results["login"] = timed(login, max(n // 4, 50))
    results["register"] = timed(register, max(n // 4, 50))
    return results


def fastapi_users_bench(n, folder: Path):
    import httpx
    from fastapi import Depends, FastAPI
    from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin
    from fastapi_users.authentication import (
        AuthenticationBackend,
        BearerTransport,
        CookieTransport,
        JWTStrategy,
    )
    from fastapi_users.authentication.strategy.db import DatabaseStrategy
    from fastapi_users.password import PasswordHelper
    from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
    from fastapi_users_db_sqlalchemy.access_token import (
        SQLAlchemyAccessTokenDatabase,
        SQLAlchemyBaseAccessTokenTableUUID,
    )
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class User(SQLAlchemyBaseUserTableUUID, Base):
        pass

    class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
        pass

    async def run():
        results = {}
        bare_app = FastAPI()

        @bare_app.get("/bare")
        async def bare():
            return "ok"

        for stub in (True,):
            engine = create_async_engine(f"sqlite+aiosqlite:///{folder}/fu_{stub}.sqlite3")
            event.listen(engine.sync_engine, "connect", sqlite_pragmas)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)

            async def get_session():
                async with sessions() as session:
                    yield session

            async def get_user_db(session=Depends(get_session)):
                yield SQLAlchemyUserDatabase(session, User)

            async def get_token_db(session=Depends(get_session)):
                yield SQLAlchemyAccessTokenDatabase(session, AccessToken)

            helper = PasswordHelper()  # the default: pwdlib's argon2

            class Manager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
                reset_password_token_secret = "s" * 40
                verification_token_secret = "s" * 40

            async def get_manager(user_db=Depends(get_user_db)):
                yield Manager(user_db, helper)

            def db_strategy(token_db=Depends(get_token_db)):
                return DatabaseStrategy(token_db, lifetime_seconds=3600)

            def jwt_strategy():
                return JWTStrategy(secret="j" * 40, lifetime_seconds=3600)

            cookie = AuthenticationBackend(
                "cookie", CookieTransport(cookie_secure=False), db_strategy
            )
            jwt = AuthenticationBackend("jwt", BearerTransport("auth/jwt/login"), jwt_strategy)
            users = FastAPIUsers[User, uuid.UUID](get_manager, [cookie, jwt])
            app = FastAPI()
            app.include_router(users.get_auth_router(cookie), prefix="/auth/cookie")
            app.include_router(users.get_auth_router(jwt), prefix="/auth/jwt")
            app.include_router(users.get_register_router(_Read(), _Create()), prefix="/auth")
            cookie_user = users.current_user(active=True, get_enabled_backends=lambda: [cookie])
            jwt_user = users.current_user(active=True, get_enabled_backends=lambda: [jwt])

            @app.get("/open")
            async def open_view():
                return "ok"

            @app.get("/cookie")
            async def cookie_view(user=Depends(cookie_user)):
                return "ok"

            @app.get("/jwt")
            async def jwt_view(user=Depends(jwt_user)):
                return "ok"

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                created = await http.post(
                    "/auth/register", json={"email": "b@example.com", "password": PASSWORD}
                )
                assert created.status_code == 201, created.text
                form = {"username": "b@example.com", "password": PASSWORD}

                async def measure(call, count):
                    for _ in range(min(200, count)):
                        await call()
                    samples = []
                    for _ in range(count):
                        start = time.perf_counter()
                        await call()
                        samples.append(time.perf_counter() - start)
                    return median_us(samples)

                counter = iter(range(10**9))

                async def login():
                    answer = await http.post("/auth/jwt/login", data=form)
                    assert answer.status_code == 200, answer.text

                async def register():
                    email = f"r{next(counter)}@example.com"
                    answer = await http.post(
                        "/auth/register", json={"email": email, "password": PASSWORD}
                    )
                    assert answer.status_code == 201, answer.text

                login_us = await measure(login, max(n // 4, 50))
                register_us = await measure(register, max(n // 4, 50))
                if stub:
                    logged = await http.post("/auth/cookie/login", data=form)
                    assert logged.status_code == 204, logged.text
                    bearer = (await http.post("/auth/jwt/login", data=form)).json()["access_token"]
                    bare_transport = httpx.ASGITransport(app=bare_app)
                    jwt_header = {"Authorization": f"Bearer {bearer}"}
                    async with httpx.AsyncClient(
                        transport=bare_transport, base_url="http://bench"
                    ) as plain:
                        results.update(
                            await measured_turns(
                                {
                                    "bare": lambda: plain.get("/bare"),
                                    "open": lambda: http.get("/open"),
                                    "cookie_db": lambda: http.get("/cookie"),
                                    "jwt": lambda: http.get("/jwt", headers=jwt_header),
                                },
                                n,
                            )
                        )
                    results["login"] = login_us
                    results["register"] = register_us
            await engine.dispose()
        return results

    from fastapi_users import schemas

    class _ReadModel(schemas.BaseUser[uuid.UUID]):
        pass

    class _CreateModel(schemas.BaseUserCreate):
        pass

    global _Read, _Create
    _Read = lambda: _ReadModel
    _Create = lambda: _CreateModel
    return asyncio.run(run())


_Read = _Create = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, stubbed():
        folder = Path(tmp)
        out = {
            "Flask-Security-Too 5.9.2": flask_security(args.n, folder),
            "fastapi-users 15.0.5": fastapi_users_bench(args.n, folder),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
