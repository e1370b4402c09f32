"""The peers' side of bench/run.py; runs in bench/.peers (see bench/setup-peers).

Measures, as run.py does for doorward: the cost of a protected request over the bare
framework (Flask-Security-Too: session and token; fastapi-users: cookie + database token
and JWT), and login time with password hashing stubbed out. Prints one JSON line.
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

PASSWORD = "correct horse battery staple"


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


def flask_security(n, folder: Path):
    from flask import Flask
    from flask_security import Security, SQLAlchemyUserDatastore, auth_required, hash_password
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    results = {}
    for scheme in ("plaintext", "argon2"):
        app = Flask(f"fst_{scheme}")
        app.config.update(
            SECRET_KEY="f" * 40,
            SECURITY_PASSWORD_SALT="bench-salt",
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/fst_{scheme}.sqlite3",
            WTF_CSRF_ENABLED=False,
            SECURITY_PASSWORD_HASH=scheme,
            SECURITY_PASSWORD_SINGLE_HASH=True,
            SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=True,
        )
        db = SQLAlchemy(app)
        fsqla.FsModels.set_db_info(db)

        class Role(db.Model, fsqla.FsRoleMixin):
            __tablename__ = "role"

        class User(db.Model, fsqla.FsUserMixin):
            __tablename__ = "user"

        datastore = SQLAlchemyUserDatastore(db, User, Role)
        Security(app, datastore)

        @app.get("/bare")
        def bare():
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
            db.create_all()
            datastore.create_user(email="b@example.com", password=hash_password(PASSWORD))
            db.session.commit()
        client = app.test_client()
        body = {"email": "b@example.com", "password": PASSWORD}
        response = client.post("/login?include_auth_token", json=body)
        assert response.status_code == 200, response.data
        token = response.json["response"]["user"]["authentication_token"]
        login = timed(lambda: app.test_client().post("/login", json=body), max(n // 4, 100))
        if scheme == "plaintext":
            anonymous = app.test_client()
            results["bare"] = timed(lambda: anonymous.get("/bare"), n)
            results["session"] = timed(lambda: client.get("/session"), n)
            results["token"] = timed(
                lambda: anonymous.get("/token", headers={"Authentication-Token": token}), n
            )
            results["login_stubbed_hash"] = login
        else:
            results["login_argon2"] = login
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
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class User(SQLAlchemyBaseUserTableUUID, Base):
        pass

    class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
        pass

    class Plain(PasswordHelper):
        def verify_and_update(self, plain, hashed):
            return plain == hashed, None

        def hash(self, password):
            return password

    async def run():
        results = {}
        for stub in (True, False):
            engine = create_async_engine(f"sqlite+aiosqlite:///{folder}/fu_{stub}.sqlite3")
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

            helper = Plain() if stub else PasswordHelper()

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

            @app.get("/bare")
            async def bare():
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

                login = await measure(
                    lambda: http.post("/auth/jwt/login", data=form), max(n // 4, 100)
                )
                if stub:
                    logged = await http.post("/auth/cookie/login", data=form)
                    assert logged.status_code == 204, logged.text
                    bearer = (await http.post("/auth/jwt/login", data=form)).json()["access_token"]
                    results["bare"] = await measure(lambda: http.get("/bare"), n)
                    results["cookie_db"] = await measure(lambda: http.get("/cookie"), n)
                    results["jwt"] = await measure(
                        lambda: http.get("/jwt", headers={"Authorization": f"Bearer {bearer}"}), n
                    )
                    results["login_stubbed_hash"] = login
                else:
                    results["login_argon2"] = login
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
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = {
            "Flask-Security-Too 5.9.2": flask_security(args.n, folder),
            "fastapi-users 15.0.5": fastapi_users_bench(args.n, folder),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
