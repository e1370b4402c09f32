"""The store and flows contracts on the Mongo store, sync and async, through the real pymongo
driver; plus its own rules: indexes required, operator objects never queried, driver errors typed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from pymongo import MongoClient

from doorward.exceptions import ConfigurationError, StoreUnavailable
from doorward.records import NewUser
from doorward.testing import (
    AsyncAuthenticatorsContract,
    AsyncFlowsContract,
    AsyncProfilesContract,
    AsyncRateLimiterContract,
    AsyncRefreshTokensContract,
    AsyncSignInCodesContract,
    AsyncSocialIdentitiesContract,
    AsyncStoreContract,
    AuthenticatorsContract,
    FlowsContract,
    ProfilesContract,
    RateLimiterContract,
    RefreshTokensContract,
    SignInCodesContract,
    SocialIdentitiesContract,
    StoreContract,
    UsernamesContract,
)
from doorward_mongo import AsyncMongoRateLimiter, Collections, MongoRateLimiter, MongoStore

pytestmark = pytest.mark.mongo


def new_user(email, extra=None):
    """A new user record with the lower-cased address as its key."""
    return NewUser(
        email=email,
        normalized_email=email.lower(),
        password_hash=None,
        security_stamp="stamp-0",
        created_at=datetime(2030, 1, 1, tzinfo=UTC),
        extra=extra or {},
    )


class TestMongoStore(StoreContract):
    """MongoStore keeps the store contract."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store

    def extra_fields(self, email):
        return {"display_name": email.split("@")[0], "tags": ["a", "b"]}


class TestMongoProfiles(ProfilesContract):
    """MongoStore writes application fields of a user document, never doorward's own."""

    open_profile_fields = True

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestAsyncMongoProfiles(AsyncProfilesContract):
    """AsyncMongoStore writes application fields of a user document, never doorward's own."""

    open_profile_fields = True

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


class TestAsyncMongoStore(AsyncStoreContract):
    """AsyncMongoStore keeps the store contract."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store

    def extra_fields(self, email):
        return {"display_name": email.split("@")[0], "tags": ["a", "b"]}


class TestMongoAuthenticators(AuthenticatorsContract):
    """MongoStore has the authenticators capability (single-document races)."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestMongoSocialIdentities(SocialIdentitiesContract):
    """MongoStore keeps provider links by the capability's rules (races included)."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestAsyncMongoAuthenticators(AsyncAuthenticatorsContract):
    """AsyncMongoStore has the authenticators capability."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


class TestAsyncMongoSocialIdentities(AsyncSocialIdentitiesContract):
    """AsyncMongoStore keeps provider links by the capability's rules (races included)."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


class TestMongoSignIn(SignInCodesContract, RefreshTokensContract):
    """MongoStore has the sign-in codes and refresh tokens capabilities (single-document races)."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestAsyncMongoSignIn(AsyncSignInCodesContract, AsyncRefreshTokensContract):
    """AsyncMongoStore has the sign-in codes and refresh tokens capabilities."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


def test_sign_in_writes_need_their_indexes(sync_client):
    """Without ensure_indexes, codes and refresh tokens refuse to be written (the unique
    hash of refresh tokens is what keeps two tokens from sharing one)."""
    import secrets
    from datetime import timedelta

    from doorward.records import RefreshToken, SignInCode

    name = f"noindex_{secrets.token_hex(4)}"
    store = MongoStore(sync_client, name)
    when = datetime(2030, 1, 1, tzinfo=UTC)
    fields = {"user_id": "0" * 24, "stamp": "s", "created_at": when}
    later = when + timedelta(days=1)
    try:
        with pytest.raises(ConfigurationError, match="ensure_indexes"):
            store.create_sign_in_code(
                SignInCode(id="s1", secret_hash="a" * 64, expires_at=later, **fields)
            )
        with pytest.raises(ConfigurationError, match="ensure_indexes"):
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
    finally:
        sync_client.drop_database(name)


def test_sign_in_collections_and_indexes(mongo_store):
    """ensure_indexes makes the sign-in indexes; codes are keyed by their user."""
    codes = mongo_store.sign_in_codes.index_information()
    tokens = mongo_store.refresh_tokens.index_information()
    assert {tuple(i["key"]) for i in codes.values()} >= {
        (("_id", 1),),
        (("code_id", 1),),
        (("created_at", 1),),
    }
    assert {tuple(i["key"]) for i in tokens.values()} >= {
        (("secret_hash", 1),),
        (("family_id", 1),),
        (("user_id", 1), ("created_at", 1)),
        (("expires_at", 1),),
    }
    assert mongo_store.sign_in_codes.name == "sign_in_codes"
    assert mongo_store.refresh_tokens.name == "refresh_tokens"


def test_linking_needs_the_social_index(sync_client):
    """Without ensure_indexes, add_social_identity refuses to run (the race needs the index)."""
    import secrets

    from doorward.records import SocialIdentity

    store = MongoStore(sync_client, f"noindex_{secrets.token_hex(4)}")
    identity = SocialIdentity(
        id="i1",
        provider="p",
        subject="s",
        user_id="0" * 24,
        email=None,
        email_verified=False,
        linked_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ConfigurationError, match="ensure_indexes"):
        store.add_social_identity(identity)


class TestMongoFlows(FlowsContract):
    """Every flow on MongoStore."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestAsyncMongoFlows(AsyncFlowsContract):
    """Every flow on AsyncMongoStore."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


@pytest.mark.parametrize("probe", [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, ["a"], 0, None])
def test_iv02_operator_objects_never_reach_a_query(mongo_store, probe):
    """Operator-shaped or non-string lookups find nothing instead of matching everything."""
    mongo_store.create_user(new_user("ada@example.test"))
    assert mongo_store.get_user_by_email(probe) is None
    assert mongo_store.get_user(probe) is None
    assert mongo_store.get_credential("session", probe) is None
    assert mongo_store.get_role(probe) is None
    assert mongo_store.delete_credential(probe) is False
    assert (
        mongo_store.compare_and_set_stamp(
            mongo_store.get_user_by_email("ada@example.test"), probe, {"security_stamp": "x"}
        )
        is None
    )


def test_store_refuses_to_run_without_its_unique_indexes(sync_client):
    """A store whose unique indexes are missing raises a clear error instead of writing."""
    store = MongoStore(sync_client, "doorward_noindexes", collections=Collections(users="u2"))
    try:
        with pytest.raises(ConfigurationError, match="ensure_indexes"):
            store.create_user(new_user("ada@example.test"))
        store.ensure_indexes()
        store.ensure_indexes()
        assert store.create_user(new_user("ada@example.test")) is not None
    finally:
        sync_client.drop_database("doorward_noindexes")


def test_collection_names_configurable_and_extra_fields_kept(sync_client):
    """Custom collection names are used, and the application's fields survive updates."""
    name = "doorward_custom_names"
    store = MongoStore(
        sync_client,
        name,
        collections=Collections(users="people", roles="groups", credentials="logins"),
    )
    try:
        store.ensure_indexes()
        user = store.create_user(
            new_user("ada@example.test", extra={"nickname": "ada", "prefs": {"theme": "dark"}})
        )
        store.update_user(user, {"pending_email": "x@example.test"})
        document = sync_client[name]["people"].find_one({"_id": user.id})
        assert (document["nickname"], document["prefs"]) == ("ada", {"theme": "dark"})
        assert {"people", "logins"} <= set(sync_client[name].list_collection_names())
    finally:
        sync_client.drop_database(name)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ft01_unreachable_server_is_store_unavailable():
    """A server that cannot be reached gives StoreUnavailable with no driver text."""
    client = MongoClient(f"mongodb://127.0.0.1:{closed_port()}", serverSelectionTimeoutMS=300)
    store = MongoStore(client, "doorward_down")
    with pytest.raises(StoreUnavailable) as info:
        store.get_user_by_email("a@example.com")
    assert "127.0.0.1" not in str(info.value)
    client.close()


def test_ft04_shared_limiter_fails_closed_when_the_server_is_down():
    """A limiter that cannot reach its server refuses with StoreUnavailable."""
    from datetime import timedelta

    from doorward.settings import RateLimit

    client = MongoClient(f"mongodb://127.0.0.1:{closed_port()}", serverSelectionTimeoutMS=300)
    limiter = MongoRateLimiter(client, "doorward_down")
    with pytest.raises(StoreUnavailable) as info:
        limiter.hit("login:203.0.113.7", RateLimit(5, timedelta(minutes=1)), datetime.now(UTC))
    assert "127.0.0.1" not in str(info.value)
    client.close()


class TestMongoRateLimiter(RateLimiterContract):
    """The shared limiter on Mongo: threads race through the real driver's pool."""

    @pytest.fixture
    def limiter(self, mongo_store):
        limiter = MongoRateLimiter(mongo_store.database.client, mongo_store.database.name)
        limiter.ensure_indexes()
        return limiter


class TestAsyncMongoRateLimiter(AsyncRateLimiterContract):
    """The async shared limiter on Mongo."""

    @pytest_asyncio.fixture
    async def limiter(self, async_mongo_store):
        database = async_mongo_store.database
        limiter = AsyncMongoRateLimiter(database.client, database.name)
        await limiter.ensure_indexes()
        return limiter


def test_rate_limiter_documents_hold_digests_and_expire(mongo_store):
    """A key is stored as its SHA-256; ended windows carry a TTL index on ``expires_at``."""
    from datetime import timedelta

    from doorward.settings import RateLimit

    limiter = MongoRateLimiter(mongo_store.database.client, mongo_store.database.name)
    limiter.ensure_indexes()
    limiter.hit("mail:reset:a@example.com", RateLimit(2, timedelta(minutes=1)), datetime.now(UTC))
    (document,) = limiter.collection.find()
    assert len(document["_id"]) == 64
    assert "@" not in document["_id"]
    ttl = [
        info
        for info in limiter.collection.index_information().values()
        if info["key"] == [("expires_at", 1)]
    ]
    assert ttl
    assert ttl[0]["expireAfterSeconds"] == 0


def test_di01_only_the_email_index_is_email_taken_on_mongo(mongo_store):
    """A duplicate on the normalized_email index is EmailTaken; on any other unique index of
    the app's it is WriteRefused, and nothing is written."""
    from doorward.exceptions import EmailTaken, WriteRefused

    mongo_store.users.create_index("nick", unique=True, sparse=True)
    mongo_store.create_user(new_user("ada@example.com", {"nick": "ada"}))
    with pytest.raises(EmailTaken):
        mongo_store.create_user(new_user("ada@example.com"))
    with pytest.raises(WriteRefused):
        mongo_store.create_user(new_user("bob@example.com", {"nick": "ada"}))
    assert mongo_store.get_user_by_email("bob@example.com") is None


def test_adopting_existing_user_documents(mongo_store):
    """Documents from before doorward get its fields; collisions and unusable addresses are
    reported before the unique index; once fixed, the index is made and the user can log in."""
    from doorward import Argon2Params, Auth, Settings
    from doorward._sync.mailers import Outbox

    users = mongo_store.users
    users.drop_indexes()
    users.insert_many([{"email": f"user{i}@example.com", "nick": f"n{i}"} for i in range(2000)])
    users.insert_many(
        [{"email": "Ann@Example.com"}, {"email": "ann@example.COM"}, {"email": "nope"}]
    )
    first = mongo_store.adopt(batch=500)
    assert first.filled == 2003
    assert list(first.duplicates) == ["ann@example.com"]
    assert len(first.unusable) == 1
    assert not first.indexes_created
    users.delete_one({"email": "ann@example.COM"})
    users.delete_one({"email": "nope"})
    second = mongo_store.adopt()
    assert (second.filled, second.duplicates, second.unusable, second.indexes_created) == (
        0,
        {},
        {},
        True,
    )
    outbox = Outbox()
    auth = Auth(
        Settings(
            secret_keys="mongo-adopt-secret-key-0123456789abcdef",
            base_url="https://app.example.com",
            argon2=Argon2Params.insecure_for_tests(),
        ),
        mongo_store,
        mailer=outbox,
    )
    auth.forgot_password("user7@example.com")
    token = outbox.messages[-1].text.split("/auth/reset/", 1)[1].split()[0]
    auth.reset_password(token, "the new long passphrase of user 7")
    user, _ = auth.login("user7@example.com", "the new long passphrase of user 7")
    assert user.nick == "n7"


class TestMongoUsernames(UsernamesContract):
    """MongoStore finds users by a username field of their documents."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store
