"""The store and flows contracts on SQLite: sync (pysqlite), async (aiosqlite), and the sync store in threads."""

import pytest
import pytest_asyncio

from doorward.testing import (
    AsyncAuthenticatorsContract,
    AsyncFlowsContract,
    AsyncRateLimiterContract,
    AsyncRefreshTokensContract,
    AsyncSignInCodesContract,
    AsyncSocialIdentitiesContract,
    AsyncStoreContract,
    AuthenticatorsContract,
    FlowsContract,
    RateLimiterContract,
    RefreshTokensContract,
    SignInCodesContract,
    SocialIdentitiesContract,
    StoreContract,
)
from doorward.threaded import AsyncThreadedRateLimiter, AsyncThreadedStore
from doorward_sqlalchemy import (
    AsyncSQLAlchemyRateLimiter,
    AsyncSQLAlchemyStore,
    SQLAlchemyRateLimiter,
    SQLAlchemyStore,
    async_sqlite_engine,
    default_models,
    sqlite_engine,
)
from doorward_sqlalchemy.models import Base


@pytest.fixture
def sync_store(tmp_path):
    engine = sqlite_engine(f"sqlite:///{tmp_path}/sync.sqlite3")
    Base.metadata.create_all(engine)
    yield SQLAlchemyStore(engine, default_models())
    engine.dispose()


@pytest_asyncio.fixture
async def async_store(tmp_path):
    engine = async_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path}/async.sqlite3")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield AsyncSQLAlchemyStore(engine, default_models())
    await engine.dispose()


class TestSQLiteStore(StoreContract):
    """SQLAlchemyStore on a SQLite file keeps the store contract."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteStore(AsyncStoreContract):
    """AsyncSQLAlchemyStore on aiosqlite keeps the store contract."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


class TestSQLiteSocialIdentities(SocialIdentitiesContract):
    """SQLAlchemyStore on SQLite keeps provider links by the capability's rules."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteSocialIdentities(AsyncSocialIdentitiesContract):
    """AsyncSQLAlchemyStore on aiosqlite keeps provider links by the capability's rules."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


def test_models_without_social_identities_lack_the_capability(tmp_path):
    """Models without the optional table: the store works, and the oauth feature refuses to
    start naming the capability's methods."""
    from doorward import Auth, Settings
    from doorward.exceptions import ConfigurationError
    from doorward.oauth import OAuthProvider
    from doorward_sqlalchemy import Models
    from doorward_sqlalchemy.models import (
        DefaultCredential,
        DefaultRole,
        DefaultUser,
        DefaultUserRole,
    )

    engine = sqlite_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(
        engine, Models(DefaultUser, DefaultRole, DefaultUserRole, DefaultCredential)
    )
    provider = OAuthProvider(
        name="idp", client_id="c", client_secret="s", issuer="https://idp.example"
    )
    values = {"secret_keys": "x" * 40, "base_url": "https://app.example"}
    assert not Auth(Settings(**values), store).enabled("oauth")
    with pytest.raises(ConfigurationError, match="add_social_identity"):
        Auth(Settings(**values, oauth_providers=(provider,)), store)
    engine.dispose()


class TestSQLiteFlows(FlowsContract):
    """Every flow on SQLAlchemyStore over SQLite."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteFlows(AsyncFlowsContract):
    """Every flow on AsyncSQLAlchemyStore over aiosqlite."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


def test_credential_lookup_returns_detached_users(sync_store):
    """The per-request lookup returns the user as a detached instance with every column loaded."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from doorward.records import Credential, NewUser

    now = datetime(2030, 1, 1, tzinfo=UTC)
    user = sync_store.create_user(
        NewUser(
            email="a@example.com",
            normalized_email="a@example.com",
            password_hash=None,
            security_stamp="s",
            created_at=now,
        )
    )
    sync_store.create_credential(
        Credential(
            id="c1",
            user_id=str(user.id),
            kind="session",
            secret_hash="h" * 64,
            stamp="s",
            created_at=now,
        )
    )
    credential, found = sync_store.get_credential("session", "h" * 64)
    state = sa.inspect(found)
    assert state.detached
    assert not state.unloaded
    assert not state.modified
    assert ("a@example.com", now, "s") == (found.email, found.created_at, found.security_stamp)
    assert ("c1", str(user.id)) == (credential.id, credential.user_id)
    assert (
        sync_store.update_user(found, {"pending_email": "b@example.com"}).pending_email
        == "b@example.com"
    )


class TestThreadedSQLiteStore(AsyncStoreContract):
    """The sync store behind ``AsyncThreadedStore``, as async apps on SQLite use it."""

    @pytest.fixture
    def store(self, sync_store):
        return AsyncThreadedStore(sync_store)


class TestThreadedSQLiteFlows(AsyncFlowsContract):
    """Every async flow on the sync SQLite store in worker threads."""

    @pytest.fixture
    def store(self, sync_store):
        return AsyncThreadedStore(sync_store)


class TestSQLiteRateLimiter(RateLimiterContract):
    """The shared limiter on a SQLite file (threads race on separate connections)."""

    @pytest.fixture
    def limiter(self, sync_store):
        return SQLAlchemyRateLimiter(sync_store.engine)


class TestAsyncSQLiteRateLimiter(AsyncRateLimiterContract):
    """The shared limiter on aiosqlite."""

    @pytest.fixture
    def limiter(self, async_store):
        return AsyncSQLAlchemyRateLimiter(async_store.engine)


def test_rate_limiter_purges_ended_windows(sync_store):
    """Rows of ended windows go at the purge; a key's row holds its digest, not the key."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from doorward.settings import RateLimit

    limiter = SQLAlchemyRateLimiter(sync_store.engine, purge_every=3)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    minute = RateLimit(5, timedelta(minutes=1))
    limiter.hit("login:203.0.113.7", minute, now)
    limiter.hit("mail:reset:a@example.com", minute, now)
    with sync_store.engine.connect() as connection:
        keys = connection.execute(sa.text("SELECT key FROM rate_limits")).scalars().all()
    assert len(keys) == 2
    assert all(len(key) == 64 and "@" not in key and "." not in key for key in keys)
    limiter.hit("register:203.0.113.9", minute, now + timedelta(minutes=2))
    with sync_store.engine.connect() as connection:
        left = connection.execute(sa.text("SELECT count(*) FROM rate_limits")).scalar()
    assert left == 1


class TestThreadedSQLiteRateLimiter(AsyncRateLimiterContract):
    """The sync shared limiter behind ``AsyncThreadedRateLimiter``, as the Starlette example uses it."""

    @pytest.fixture
    def limiter(self, sync_store):
        return AsyncThreadedRateLimiter(SQLAlchemyRateLimiter(sync_store.engine))


class TestAuthenticators(AuthenticatorsContract):
    """SQLAlchemyStore has the authenticators capability on SQLite (races across connections)."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncAuthenticators(AsyncAuthenticatorsContract):
    """AsyncSQLAlchemyStore has the authenticators capability on SQLite."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


class TestSQLiteSignIn(SignInCodesContract, RefreshTokensContract):
    """SQLAlchemyStore has the sign-in codes and refresh tokens capabilities on SQLite."""

    @pytest.fixture
    def store(self, sync_store):
        return sync_store


class TestAsyncSQLiteSignIn(AsyncSignInCodesContract, AsyncRefreshTokensContract):
    """AsyncSQLAlchemyStore has the sign-in codes and refresh tokens capabilities on SQLite."""

    @pytest.fixture
    def store(self, async_store):
        return async_store


def test_models_without_sign_in_tables_lack_the_capabilities(tmp_path):
    """Models without the optional tables: the store works, and sign-in by email and app
    clients (off by default) refuse to start naming the missing capability's methods."""
    from doorward import Auth, Settings
    from doorward.exceptions import ConfigurationError
    from doorward_sqlalchemy import Models
    from doorward_sqlalchemy.models import (
        DefaultCredential,
        DefaultRole,
        DefaultUser,
        DefaultUserRole,
    )

    engine = sqlite_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    Base.metadata.create_all(engine)
    store = SQLAlchemyStore(
        engine, Models(DefaultUser, DefaultRole, DefaultUserRole, DefaultCredential)
    )
    values = {"secret_keys": "x" * 40, "base_url": "https://app.example"}
    auth = Auth(Settings(**values), store)
    assert not auth.enabled("passwordless")
    assert not auth.enabled("app_clients")
    user = auth.create_user("ada@example.com", "a long enough passphrase", confirmed=True)
    store.delete_user(user)  # no sign-in tables to clean
    with pytest.raises(ConfigurationError, match="create_sign_in_code"):
        Auth(Settings(**values, sign_in_by_email=True), store)
    with pytest.raises(ConfigurationError, match="create_refresh_token"):
        Auth(Settings(**values, app_clients=True), store)
    engine.dispose()


def assert_foreign_key_is_not_found(store, monkeypatch):
    """Create a code and a refresh token of a deleted user past the store's own check."""
    from datetime import UTC, datetime, timedelta

    from doorward.exceptions import NotFound
    from doorward.records import NewUser, RefreshToken, SignInCode

    when = datetime(2030, 1, 1, tzinfo=UTC)
    user = store.create_user(
        NewUser(
            email="gone@example.com",
            normalized_email="gone@example.com",
            password_hash=None,
            security_stamp="stamp",
            created_at=when,
        )
    )
    store.delete_user(user)
    monkeypatch.setattr(type(store), "_user_exists", lambda *_, **__: True)
    fields = {"user_id": str(user.id), "stamp": "s", "created_at": when}
    later = when + timedelta(days=1)
    with pytest.raises(NotFound):
        store.create_sign_in_code(
            SignInCode(id="s1", secret_hash="a" * 64, expires_at=later, **fields)
        )
    with pytest.raises(NotFound):
        store.create_refresh_token(
            RefreshToken(
                id="r1",
                family_id="f1",
                secret_hash="b" * 64,
                expires_at=later,
                signed_in_at=when,
                **fields,
            )
        )


def test_a_user_deleted_meanwhile_is_not_found(sync_store, monkeypatch):
    """A code or refresh token whose user goes between the check and the INSERT: the foreign
    key refuses it and the store says NotFound (not WriteRefused)."""
    assert_foreign_key_is_not_found(sync_store, monkeypatch)
