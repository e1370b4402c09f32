"""The sign-in codes and refresh tokens capabilities of the Mongo store, written once:
``AsyncMongoSignIn`` here, ``MongoSignIn`` generated into ``_sync/signin.py``.

``AsyncMongoStore`` mixes it in (kept apart so each module stays short). Documents:

- ``sign_in_codes``: ``_id`` is the user's id, so a user has one code by the primary key
  and a new code replaces the old in one single-document upsert; ``code_id`` (unique
  index) is the code's public id. A TTL index on ``created_at`` removes codes a day old
  (every code and link is dead long before).
- ``refresh_tokens``: ``_id`` is the token's public id; unique ``secret_hash``, indexes on
  ``family_id`` and ``(user_id, created_at)``, TTL on ``expires_at`` (the family's end).

Every race is one single-document operation: ``find_one_and_update`` with ``$inc``
(wrong codes), ``delete_one`` filtered on ``attempts < max`` (a code used once),
``update_one`` filtered on ``used_at: None`` (a refresh token used once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from doorward.exceptions import ConfigurationError, NotFound
from doorward.records import RefreshToken, SignInCode
from doorward_mongo._documents import (
    object_id,
    refresh_token_document,
    refresh_token_from,
    sign_in_code_document,
    sign_in_code_from,
    text,
    translated,
)

__all__ = ["AsyncMongoSignIn"]

Document = dict[str, Any]

#: How long a code document outlives its creation before the TTL monitor removes it.
_CODE_TTL_SECONDS = 24 * 3600
#: Tries of one ``create_sign_in_code``: concurrent upserts of one ``_id`` may lose the
#: insert to each other (a duplicate key); the next try replaces the winner's code.
_CREATE_ATTEMPTS = 5


class AsyncMongoSignIn:
    """Sign-in codes and refresh tokens in their collections; ``ensure_indexes`` calls
    ``_ensure_sign_in_indexes``."""

    users: AsyncCollection[Document]
    sign_in_codes: AsyncCollection[Document]
    refresh_tokens: AsyncCollection[Document]
    _sign_in_checked: bool
    user_factory: Callable[[Document], Any]

    async def _ensure_sign_in_indexes(self) -> None:
        await self.sign_in_codes.create_index("code_id", unique=True)
        await self.sign_in_codes.create_index("created_at", expireAfterSeconds=_CODE_TTL_SECONDS)
        await self.refresh_tokens.create_index("secret_hash", unique=True)
        await self.refresh_tokens.create_index("family_id")
        await self.refresh_tokens.create_index([("user_id", ASCENDING), ("created_at", ASCENDING)])
        await self.refresh_tokens.create_index("expires_at", expireAfterSeconds=0)
        self._sign_in_checked = True

    async def _sign_in_ready(self) -> None:
        """Refuse to write without the unique indexes of codes and tokens (checked once)."""
        if self._sign_in_checked:
            return
        with translated("check_indexes"):
            codes = await self.sign_in_codes.index_information()
            tokens = await self.refresh_tokens.index_information()
        wanted = ((codes, "code_id"), (tokens, "secret_hash"))
        if not all(
            any(info.get("unique") and info["key"] == [(field, 1)] for info in found.values())
            for found, field in wanted
        ):
            raise ConfigurationError(
                "the Mongo store's sign-in indexes are missing: call store.ensure_indexes()"
            )
        self._sign_in_checked = True

    async def _owner(self, user_id: str) -> ObjectId:
        """The id of a stored user, or ``NotFound`` (call inside ``translated``)."""
        key = object_id(user_id)
        if key is None or await self.users.find_one({"_id": key}, {"_id": 1}) is None:
            raise NotFound("no such user")
        return key

    # -- sign-in codes ---------------------------------------------------------------------

    async def create_sign_in_code(self, code: SignInCode) -> None:
        """Replace the user's code in one upsert of the document whose ``_id`` is the user's.

        A user deleted between the check and the upsert leaves an orphan code that no
        lookup reaches (its ``_id`` is no user's); the TTL index removes it.
        """
        await self._sign_in_ready()
        with translated("create_sign_in_code"):
            key = await self._owner(code.user_id)
            document = sign_in_code_document(code, key)
            for attempt in range(1, _CREATE_ATTEMPTS + 1):
                if await self._replace_code(key, document, last=attempt == _CREATE_ATTEMPTS):
                    return

    async def _replace_code(self, key: ObjectId, document: Document, *, last: bool) -> bool:
        """One try of ``create_sign_in_code``; ``False`` if a concurrent upsert won it."""
        try:
            await self.sign_in_codes.replace_one({"_id": key}, document, upsert=True)
        except DuplicateKeyError as exc:
            if last or list((exc.details or {}).get("keyPattern") or {"_id": 1}) != ["_id"]:
                raise
            return False
        return True

    async def get_sign_in_code(self, user_id: str) -> SignInCode | None:
        key = object_id(user_id)
        if key is None:
            return None
        with translated("get_sign_in_code"):
            document = await self.sign_in_codes.find_one({"_id": key})
        return sign_in_code_from(document) if document is not None else None

    async def fail_sign_in_code(self, code_id: str) -> int:
        value = text(code_id)
        if value is None:
            return 0
        with translated("fail_sign_in_code"):
            document = await self.sign_in_codes.find_one_and_update(
                {"code_id": value},
                {"$inc": {"attempts": 1}},
                projection={"attempts": True},
                return_document=ReturnDocument.AFTER,
            )
        return int(document["attempts"]) if document is not None else 0

    async def use_sign_in_code(self, code_id: str, max_attempts: int) -> bool:
        value = text(code_id)
        if value is None:
            return False
        with translated("use_sign_in_code"):
            result = await self.sign_in_codes.delete_one(
                {"code_id": value, "attempts": {"$lt": int(max_attempts)}}
            )
        return result.deleted_count == 1

    async def delete_sign_in_codes(self, user_id: str) -> int:
        """Delete the user's code. An id that cannot be a user's still costs the same
        ``delete_one`` (matching nothing: every ``_id`` is an ObjectId), for the neutral
        code request's equal work (LE-07)."""
        key: ObjectId | str = object_id(user_id) or str(text(user_id))
        with translated("delete_sign_in_codes"):
            result = await self.sign_in_codes.delete_one({"_id": key})
        return int(result.deleted_count)

    # -- refresh tokens --------------------------------------------------------------------

    async def create_refresh_token(self, token: RefreshToken) -> None:
        await self._sign_in_ready()
        with translated("create_refresh_token"):
            key = await self._owner(token.user_id)
            await self.refresh_tokens.insert_one(refresh_token_document(token, key))

    async def get_refresh_token(self, secret_hash: str) -> tuple[RefreshToken, Any] | None:
        """The token and its user in one round trip (``$match`` on the unique hash, then
        ``$lookup`` of the user); ``None`` for a token whose user is gone."""
        value = text(secret_hash)
        if value is None:
            return None
        pipeline: list[Document] = [
            {"$match": {"secret_hash": value}},
            {"$limit": 1},
            {
                "$lookup": {
                    "from": self.users.name,
                    "localField": "user_id",
                    "foreignField": "_id",
                    "as": "user",
                }
            },
        ]
        with translated("get_refresh_token"):
            found = await (await self.refresh_tokens.aggregate(pipeline)).to_list()
        if not found or not found[0]["user"]:
            return None
        document = found[0]
        return refresh_token_from(document), self.user_factory(document["user"][0])

    async def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        value = text(token_id)
        if value is None:
            return False
        with translated("use_refresh_token"):
            result = await self.refresh_tokens.update_one(
                {"_id": value, "used_at": None}, {"$set": {"used_at": at}}
            )
        return result.modified_count == 1

    async def list_refresh_tokens(self, user_id: str) -> list[RefreshToken]:
        key = object_id(user_id)
        if key is None:
            return []
        with translated("list_refresh_tokens"):
            cursor = self.refresh_tokens.find({"user_id": key, "used_at": None}).sort(
                [("created_at", ASCENDING), ("_id", ASCENDING)]
            )
            documents = await cursor.to_list()
        return [refresh_token_from(document) for document in documents]

    async def delete_refresh_family(self, family_id: str, user_id: str | None = None) -> int:
        value = text(family_id)
        if value is None:
            return 0
        query: Document = {"family_id": value}
        if user_id is not None:
            key = object_id(user_id)
            if key is None:
                return 0
            query["user_id"] = key
        with translated("delete_refresh_family"):
            result = await self.refresh_tokens.delete_many(query)
        return int(result.deleted_count)

    async def delete_refresh_tokens(self, user_id: str) -> int:
        key = object_id(user_id)
        if key is None:
            return 0
        with translated("delete_refresh_tokens"):
            result = await self.refresh_tokens.delete_many({"user_id": key})
        return int(result.deleted_count)

    async def delete_expired_refresh_tokens(self, now: datetime) -> int:
        with translated("delete_expired_refresh_tokens"):
            result = await self.refresh_tokens.delete_many({"expires_at": {"$lt": now}})
        return int(result.deleted_count)
