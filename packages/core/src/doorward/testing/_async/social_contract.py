"""The social identities contract: every rule of ``AsyncSocialIdentities`` as tests.

Subclass ``AsyncSocialIdentitiesContract`` with the same ``store`` fixture as for
``AsyncStoreContract`` (a fresh, empty store that also has the users capability).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from doorward.exceptions import IdentityTaken, NotFound
from doorward.records import SocialIdentity
from doorward.testing._async._concurrency import run_concurrently
from doorward.testing._async.store_contract import T0, _AsyncContractBase, errors, successes

__all__ = ["AsyncSocialIdentitiesContract"]


class AsyncSocialIdentitiesContract(_AsyncContractBase):
    """The social identities capability (``AsyncSocialIdentities``, with users)."""

    def identity(self, user: Any, **overrides: Any) -> SocialIdentity:
        """A new link of ``user`` with a random id and subject; ``overrides`` replace values."""
        values: dict[str, Any] = {
            "id": "i" + secrets.token_urlsafe(12),
            "provider": "example",
            "subject": secrets.token_hex(8),
            "user_id": str(user.id),
            "email": user.email,
            "email_verified": True,
            "linked_at": T0,
        }
        values.update(overrides)
        return SocialIdentity(**values)

    async def test_added_identity_is_found_by_provider_and_subject(self, store: Any) -> None:
        """get_social_identity returns the stored record, every field as written."""
        user = await store.create_user(self.new_user())
        identity = self.identity(user, email=None, email_verified=False)
        await store.add_social_identity(identity)
        found = await store.get_social_identity("example", identity.subject)
        assert found == identity
        assert await store.get_social_identity("other", identity.subject) is None
        assert await store.get_social_identity("example", "nobody") is None

    async def test_provider_and_subject_are_unique(self, store: Any) -> None:
        """A second link of one provider account raises IdentityTaken, for any user."""
        ada = await store.create_user(self.new_user("ada@example.test"))
        eve = await store.create_user(self.new_user("eve@example.test"))
        first = self.identity(ada, subject="s-1")
        await store.add_social_identity(first)
        for user in (ada, eve):
            with pytest.raises(IdentityTaken):
                await store.add_social_identity(self.identity(user, subject="s-1"))
        assert await store.get_social_identity("example", "s-1") == first
        await store.add_social_identity(self.identity(eve, provider="other", subject="s-1"))

    async def test_identity_of_an_unknown_user_is_refused(self, store: Any) -> None:
        """A link to a user that is not stored raises NotFound (or IdentityTaken: never stored)."""
        user = await store.create_user(self.new_user())
        await store.delete_user(user)
        with pytest.raises((NotFound, IdentityTaken)):
            await store.add_social_identity(self.identity(user, subject="s-gone"))
        assert await store.get_social_identity("example", "s-gone") is None

    async def test_list_is_the_users_links_oldest_first(self, store: Any) -> None:
        """list_social_identities returns only this user's links, oldest first."""
        ada = await store.create_user(self.new_user("ada@example.test"))
        eve = await store.create_user(self.new_user("eve@example.test"))
        later = self.identity(ada, provider="b", linked_at=T0 + timedelta(minutes=5))
        earlier = self.identity(ada, provider="a", linked_at=T0)
        await store.add_social_identity(later)
        await store.add_social_identity(earlier)
        await store.add_social_identity(self.identity(eve))
        assert await store.list_social_identities(str(ada.id)) == [earlier, later]
        assert await store.list_social_identities("nobody") == []

    async def test_delete_only_the_users_own_link(self, store: Any) -> None:
        """delete_social_identity removes the link of this user only, True once."""
        ada = await store.create_user(self.new_user("ada@example.test"))
        eve = await store.create_user(self.new_user("eve@example.test"))
        identity = self.identity(ada)
        await store.add_social_identity(identity)
        assert await store.delete_social_identity(identity.id, str(eve.id)) is False
        assert await store.get_social_identity("example", identity.subject) == identity
        assert await store.delete_social_identity(identity.id, str(ada.id)) is True
        assert await store.delete_social_identity(identity.id, str(ada.id)) is False
        assert await store.get_social_identity("example", identity.subject) is None

    async def test_delete_user_removes_their_links(self, store: Any) -> None:
        """After delete_user the user's provider accounts are free to link again."""
        user = await store.create_user(self.new_user())
        identity = self.identity(user)
        await store.add_social_identity(identity)
        await store.delete_user(user)
        assert await store.get_social_identity("example", identity.subject) is None
        assert await store.list_social_identities(str(user.id)) == []

    async def test_parallel_first_sign_ins_make_one_account(self, store: Any) -> None:
        """Of parallel first sign-ins of one provider account (each making an account and
        linking it), one link wins; the losers get IdentityTaken and one account remains."""

        async def first_sign_in(i: int) -> Any:
            user = await store.create_user(self.new_user(f"racer{i}@example.test"))
            try:
                await store.add_social_identity(self.identity(user, subject="s-race"))
            except IdentityTaken:
                await store.delete_user(user)  # what the flow does with its orphan
                raise
            return user

        results = await run_concurrently(first_sign_in, self.race_workers)
        winners = successes(results)
        assert len(winners) == 1, results
        assert all(isinstance(error, IdentityTaken) for error in errors(results))
        found = await store.get_social_identity("example", "s-race")
        assert found is not None
        assert found.user_id == str(winners[0].id)
        remaining = [
            await store.get_user_by_email(f"racer{i}@example.test")
            for i in range(self.race_workers)
        ]
        assert [str(u.id) for u in remaining if u is not None] == [str(winners[0].id)]
