"""The outbox contract (DI-02) on the Mongo store, both faces, through real pymongo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from doorward.exceptions import ConfigurationError
from doorward.records import OutboxMessage
from doorward.testing import AsyncMailOutboxContract, MailOutboxContract
from doorward_mongo import MongoStore

from .conftest import fresh_name


class TestMongoOutbox(MailOutboxContract):
    """MongoStore keeps the outbox contract (find_one_and_update per message)."""

    @pytest.fixture
    def store(self, mongo_store):
        return mongo_store


class TestAsyncMongoOutbox(AsyncMailOutboxContract):
    """AsyncMongoStore keeps the outbox contract."""

    @pytest.fixture
    def store(self, async_mongo_store):
        return async_mongo_store


def test_claims_refuse_a_store_without_the_outbox_index(sync_client):
    """Without ensure_indexes a claim stops with a ConfigurationError naming the fix."""
    name = fresh_name()
    store = MongoStore(sync_client, name)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    store.enqueue_mail(
        OutboxMessage(
            id="m1",
            kind="reset",
            to="a@example.test",
            subject="s",
            text="t",
            created_at=now,
            next_attempt_at=now,
        )
    )
    try:
        with pytest.raises(ConfigurationError, match="ensure_indexes"):
            store.claim_mail("w1", now, timedelta(minutes=5), 1)
        store.ensure_indexes()
        assert len(store.claim_mail("w1", now, timedelta(minutes=5), 1)) == 1
    finally:
        sync_client.drop_database(name)
