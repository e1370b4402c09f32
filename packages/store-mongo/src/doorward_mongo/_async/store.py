"""The Mongo store, written once: ``AsyncMongoStore`` here, ``MongoStore`` generated into
``_sync/store.py``.

Documents: a user document per user (the documented fields, ``roles`` as a list of names,
and the application's own fields, kept intact); a role document per role (``_id`` is the
name); a credential document per session, remember-me or API token (``_id`` is its public
id). Every race is settled by one single-document operation: the unique index on
``normalized_email``, ``$inc``, ``find_one_and_update`` filtered on the stamp, a
``delete_one`` count. No flow needs a multi-document transaction, so a standalone
``mongod`` works as well as a replica set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from doorward.exceptions import (
    ConfigurationError,
    IdentityTaken,
    NotFound,
    ValidationFailed,
)
from doorward.policies import normalize_email
from doorward.records import (
    USER_FIELDS,
    Authenticator,
    AuthenticatorKind,
    Credential,
    CredentialKind,
    NewUser,
    Role,
    SocialIdentity,
)
from doorward.tokens import new_stamp
from doorward_mongo._async.outbox import OUTBOX_INDEX, AsyncMongoOutbox
from doorward_mongo._async.signin import AsyncMongoSignIn
from doorward_mongo._documents import (
    Adopted,
    Collections,
    MongoUser,
    adoption_defaults,
    authenticator_document,
    authenticator_from,
    credential_document,
    credential_from,
    failure_pipeline,
    login_pipeline,
    object_id,
    profile_changes,
    role_from,
    text,
    translated,
    user_changes,
)

__all__ = ["AsyncMongoStore"]

_RESERVED = frozenset({*USER_FIELDS, "roles"})

Document = dict[str, Any]


#: A passkey's ``secret`` (its credential ID's hash) is unique across users (MF-07).
_PASSKEY_INDEX: dict[str, Any] = {
    "name": "passkey_secret",
    "unique": True,
    "partialFilterExpression": {"kind": "passkey"},
}


class AsyncMongoStore(AsyncMongoSignIn, AsyncMongoOutbox):
    """A doorward store over pymongo. Call ``ensure_indexes()`` once at start-up.

    The sign-in codes and refresh tokens capabilities come from ``AsyncMongoSignIn``
    (``_async/signin.py``).

    ``user_factory`` turns a user document into the object the application works with
    (``MongoUser`` by default); it must expose ``id`` (the ``_id``) and the documented
    fields as attributes.
    """

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str,
        *,
        collections: Collections | None = None,
        user_factory: Callable[[Document], Any] = MongoUser,
    ) -> None:
        names = collections or Collections()
        self.database: AsyncDatabase[Document] = client.get_database(
            database, codec_options=client.codec_options.with_options(tz_aware=True)
        )
        self.users: AsyncCollection[Document] = self.database[names.users]
        self.roles: AsyncCollection[Document] = self.database[names.roles]
        self.credentials: AsyncCollection[Document] = self.database[names.credentials]
        self.authenticators: AsyncCollection[Document] = self.database[names.authenticators]
        self.social_identities: AsyncCollection[Document] = self.database[names.social_identities]
        self.sign_in_codes: AsyncCollection[Document] = self.database[names.sign_in_codes]
        self.refresh_tokens: AsyncCollection[Document] = self.database[names.refresh_tokens]
        self.outbox: AsyncCollection[Document] = self.database[names.outbox]
        self.user_factory = user_factory
        self._checked = False
        self._social_checked = False
        self._sign_in_checked = False
        self._passkey_checked = False

    # -- indexes -----------------------------------------------------------------------------

    async def ensure_indexes(self) -> None:
        """Create the indexes correctness needs; safe to run at every start."""
        with translated("ensure_indexes"):
            await self.users.create_index("normalized_email", unique=True)
            await self.credentials.create_index(
                [("kind", ASCENDING), ("secret_hash", ASCENDING)], unique=True
            )
            await self.credentials.create_index([("user_id", ASCENDING), ("kind", ASCENDING)])
            await self.credentials.create_index("expires_at", expireAfterSeconds=0)
            await self.authenticators.create_index(
                [("user_id", ASCENDING), ("kind", ASCENDING), ("secret", ASCENDING)], unique=True
            )
            await self.authenticators.create_index("secret", **_PASSKEY_INDEX)
            await self.social_identities.create_index(
                [("provider", ASCENDING), ("subject", ASCENDING)], unique=True
            )
            await self.social_identities.create_index("user_id")
            await self._ensure_sign_in_indexes()
            await self.outbox.create_index(OUTBOX_INDEX)
        self._checked = True
        self._outbox_checked = True
        self._social_checked = True
        self._passkey_checked = True

    async def adopt(self, *, batch: int = 1000) -> Adopted:
        """Adopt user documents that were there before doorward (issue 12, DI-01).

        Fills doorward's fields where they are missing (the normalised email from ``email``,
        a new stamp, the creation time, ``active``, counters, empty optional fields), then
        reports the documents whose addresses collide once normalised, or that have no
        usable address, and creates the indexes only when there are none. Safe to rerun.
        """
        now = datetime.now(UTC)
        filled = 0
        unusable: dict[str, str] = {}
        with translated("adopt"):
            pending = self.users.find(
                {
                    "$or": [
                        {"normalized_email": {"$exists": False}},
                        {"security_stamp": {"$exists": False}},
                    ]
                },
                {"email": 1},
            )
            writes: list[UpdateOne] = []
            async for document in pending:
                changes: Document = {"security_stamp": new_stamp()}
                try:
                    _, changes["normalized_email"] = normalize_email(document.get("email") or "")
                except ValidationFailed as exc:
                    unusable[str(document["_id"])] = "; ".join(
                        m for ms in exc.fields.values() for m in ms
                    )
                writes.append(UpdateOne({"_id": document["_id"]}, {"$set": changes}))
                if len(writes) >= batch:
                    filled += len(writes)
                    await self.users.bulk_write(writes, ordered=False)
                    writes = []
            if writes:
                filled += len(writes)
                await self.users.bulk_write(writes, ordered=False)
            for name, value in {**adoption_defaults(), "created_at": now}.items():
                await self.users.update_many({name: {"$exists": False}}, {"$set": {name: value}})
            seen: dict[str, list[str]] = {}
            async for document in self.users.find({}, {"normalized_email": 1}):
                key = document.get("normalized_email")
                if isinstance(key, str):
                    seen.setdefault(key, []).append(str(document["_id"]))
                elif str(document["_id"]) not in unusable:
                    unusable[str(document["_id"])] = "no usable address"
        duplicates = {key: tuple(ids) for key, ids in seen.items() if len(ids) > 1}
        ready = not duplicates and not unusable
        if ready:
            await self.ensure_indexes()
        return Adopted(
            filled=filled, duplicates=duplicates, unusable=unusable, indexes_created=ready
        )

    async def _ready(self) -> None:
        """Refuse to run without the unique indexes the races rely on (checked once)."""
        if self._checked:
            return
        with translated("check_indexes"):
            users = await self.users.index_information()
            credentials = await self.credentials.index_information()
        unique_email = any(
            info.get("unique") and info["key"] == [("normalized_email", 1)]
            for info in users.values()
        )
        unique_secret = any(
            info.get("unique") and info["key"] == [("kind", 1), ("secret_hash", 1)]
            for info in credentials.values()
        )
        if not (unique_email and unique_secret):
            raise ConfigurationError(
                "the Mongo store's unique indexes are missing: call store.ensure_indexes()"
            )
        self._checked = True

    def _user(self, document: Document | None) -> Any | None:
        return self.user_factory(document) if document is not None else None

    @staticmethod
    def _oid(user: Any) -> ObjectId:
        found = object_id(user.id if not isinstance(user, ObjectId) else user)
        if found is None:
            raise NotFound
        return found

    # -- users -------------------------------------------------------------------------------

    async def create_user(self, new: NewUser) -> Any:
        await self._ready()
        document: Document = {**new.as_fields(), "roles": []}
        with translated("create_user", email=True):
            result = await self.users.insert_one(document)
        document["_id"] = result.inserted_id
        return self._user(document)

    async def get_user(self, user_id: str) -> Any | None:
        key = object_id(user_id)
        if key is None:
            return None
        with translated("get_user"):
            return self._user(await self.users.find_one({"_id": key}))

    async def get_user_by_email(self, normalized_email: str) -> Any | None:
        value = text(normalized_email)
        if value is None:
            return None
        with translated("get_user_by_email"):
            return self._user(await self.users.find_one({"normalized_email": value}))

    async def get_user_by_username(self, field: str, username: str) -> Any | None:
        if not field.isidentifier() or field.startswith("_") or field in _RESERVED:
            raise ValueError(f"not a username field: {field!r}")
        value = text(username)
        if value is None:
            return None
        await self._ready()
        with translated("get_user_by_username"):
            return self._user(await self.users.find_one({field: value}))

    async def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        await self._ready()
        with translated("update_user", email=True):
            document = await self.users.find_one_and_update(
                {"_id": self._oid(user)},
                {"$set": user_changes(changes)},
                return_document=ReturnDocument.AFTER,
            )
        if document is None:
            raise NotFound
        return self._user(document)

    async def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        await self._ready()
        document_changes = profile_changes(changes)
        with translated("update_profile", email=True):
            document = await self.users.find_one_and_update(
                {"_id": self._oid(user)},
                {"$set": document_changes},
                return_document=ReturnDocument.AFTER,
            )
        if document is None:
            raise NotFound
        return self._user(document)

    async def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        await self._ready()
        stamp = text(expected_stamp)
        if stamp is None:
            return None
        with translated("compare_and_set_stamp", email=True):
            document = await self.users.find_one_and_update(
                {"_id": self._oid(user), "security_stamp": stamp},
                {"$set": user_changes(changes)},
                return_document=ReturnDocument.AFTER,
            )
        return self._user(document)

    async def delete_user(self, user: Any) -> None:
        key = self._oid(user)
        with translated("delete_user"):
            await self.credentials.delete_many({"user_id": key})
            await self.authenticators.delete_many({"user_id": key})
            await self.social_identities.delete_many({"user_id": key})
            await self.sign_in_codes.delete_one({"_id": key})
            await self.refresh_tokens.delete_many({"user_id": key})
            await self.users.delete_one({"_id": key})

    async def increment_failed_logins(
        self,
        user: Any,
        at: datetime,
        *,
        keep_time: bool = False,
        restart_cutoff: datetime | None = None,
    ) -> int:
        with translated("increment_failed_logins"):
            document = await self.users.find_one_and_update(
                {"_id": self._oid(user)},
                failure_pipeline(at, keep_time=keep_time, restart_cutoff=restart_cutoff),
                projection={"failed_logins": True},
                return_document=ReturnDocument.AFTER,
            )
        if document is None:
            raise NotFound
        return int(document["failed_logins"])

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        with translated("record_login"):
            document = await self.users.find_one_and_update(
                {"_id": self._oid(user)},
                login_pipeline(at, ip),
                return_document=ReturnDocument.AFTER,
            )
        if document is None:
            raise NotFound
        return self._user(document)

    # -- roles ---------------------------------------------------------------------------------

    async def save_role(self, role: Role) -> Role:
        with translated("save_role"):
            await self.roles.update_one(
                {"_id": role.name},
                {
                    "$set": {
                        "description": role.description,
                        "permissions": sorted(role.permissions),
                    }
                },
                upsert=True,
            )
        return role

    async def get_role(self, name: str) -> Role | None:
        value = text(name)
        if value is None:
            return None
        with translated("get_role"):
            document = await self.roles.find_one({"_id": value})
        return role_from(document) if document is not None else None

    async def list_roles(self) -> list[Role]:
        with translated("list_roles"):
            documents = await self.roles.find().sort("_id", ASCENDING).to_list()
        return [role_from(document) for document in documents]

    async def delete_role(self, name: str) -> bool:
        value = text(name)
        if value is None:
            return False
        with translated("delete_role"):
            result = await self.roles.delete_one({"_id": value})
            await self.users.update_many({"roles": value}, {"$pull": {"roles": value}})
        return result.deleted_count == 1

    async def add_user_role(self, user: Any, name: str) -> bool:
        value = text(name)
        with translated("add_user_role"):
            if value is None or await self.roles.find_one({"_id": value}) is None:
                raise NotFound
            result = await self.users.update_one(
                {"_id": self._oid(user), "roles": {"$ne": value}},
                {"$addToSet": {"roles": value}},
            )
        return result.modified_count == 1

    async def remove_user_role(self, user: Any, name: str) -> bool:
        value = text(name)
        if value is None:
            return False
        with translated("remove_user_role"):
            result = await self.users.update_one(
                {"_id": self._oid(user), "roles": value}, {"$pull": {"roles": value}}
            )
        return result.modified_count == 1

    async def get_user_roles(self, user: Any) -> frozenset[str]:
        with translated("get_user_roles"):
            document = await self.users.find_one({"_id": self._oid(user)}, {"roles": True})
        return frozenset(document.get("roles", [])) if document is not None else frozenset()

    async def get_user_permissions(self, user: Any) -> frozenset[str]:
        names = await self.get_user_roles(user)
        if not names:
            return frozenset()
        with translated("get_user_permissions"):
            documents = await self.roles.find({"_id": {"$in": sorted(names)}}).to_list()
        return frozenset(p for document in documents for p in document.get("permissions", []))

    # -- credentials -------------------------------------------------------------------------------

    async def create_credential(self, credential: Credential) -> None:
        key = object_id(credential.user_id)
        if key is None:
            raise NotFound
        with translated("create_credential"):
            await self.credentials.insert_one(credential_document(credential, key))

    async def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        value = text(secret_hash)
        if value is None or not isinstance(kind, str):
            return None
        pipeline: list[Document] = [
            {"$match": {"kind": kind, "secret_hash": value}},
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
        with translated("get_credential"):
            found = await (await self.credentials.aggregate(pipeline)).to_list()
        if not found or not found[0]["user"]:
            return None
        document = found[0]
        return credential_from(document), self._user(document["user"][0])

    async def get_credential_with_roles(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        value = text(secret_hash)
        if value is None or not isinstance(kind, str):
            return None
        # one aggregate: the credential, its user, and the user's (embedded) roles' documents
        pipeline: list[Document] = [
            {"$match": {"kind": kind, "secret_hash": value}},
            {"$limit": 1},
            {
                "$lookup": {
                    "from": self.users.name,
                    "localField": "user_id",
                    "foreignField": "_id",
                    "as": "user",
                }
            },
            {"$unwind": "$user"},
            {
                "$lookup": {
                    "from": self.roles.name,
                    "localField": "user.roles",
                    "foreignField": "_id",
                    "as": "granted",
                }
            },
        ]
        with translated("get_credential_with_roles"):
            found = await (await self.credentials.aggregate(pipeline)).to_list()
        if not found:
            return None
        document = found[0]
        names = frozenset(document["user"].get("roles", []))
        permissions = frozenset(
            p
            for role in document["granted"]
            if role["_id"] in names
            for p in role.get("permissions", [])
        )
        return credential_from(document), self._user(document["user"]), names, permissions

    async def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        key = object_id(user_id)
        if key is None:
            return []
        with translated("list_credentials"):
            documents = (
                await self.credentials.find({"user_id": key, "kind": kind})
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                .to_list()
            )
        return [credential_from(document) for document in documents]

    async def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        value = text(credential_id)
        if value is None:
            return
        changes: Document = {"last_used_at": last_used_at}
        if authenticated_at is not None:
            changes["authenticated_at"] = authenticated_at
        with translated("touch_credential"):
            await self.credentials.update_one({"_id": value}, {"$set": changes})

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        value = text(credential_id)
        if value is None:
            return False
        query: Document = {"_id": value}
        if user_id is not None:
            key = object_id(user_id)
            if key is None:
                return False
            query["user_id"] = key
        with translated("delete_credential"):
            result = await self.credentials.delete_one(query)
        return result.deleted_count == 1

    async def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        key = object_id(user_id)
        if key is None:
            return 0
        query: Document = {"user_id": key, "kind": {"$in": [str(k) for k in kinds]}}
        if except_id is not None:
            query["_id"] = {"$ne": str(except_id)}
        with translated("delete_credentials"):
            result = await self.credentials.delete_many(query)
        return int(result.deleted_count)

    async def rebind_credentials(
        self, user_id: str, old_stamp: str, new_stamp: str, *, except_id: str | None = None
    ) -> int:
        key = object_id(user_id)
        if key is None:
            return 0
        query: Document = {"user_id": key, "stamp": old_stamp}
        if except_id is not None:
            query["_id"] = {"$ne": str(except_id)}
        with translated("rebind_credentials"):
            result = await self.credentials.update_many(query, {"$set": {"stamp": new_stamp}})
        return int(result.modified_count)

    async def delete_expired_credentials(self, now: datetime) -> int:
        with translated("delete_expired_credentials"):
            result = await self.credentials.delete_many({"expires_at": {"$lt": now}})
        return int(result.deleted_count)

    # -- authenticators ----------------------------------------------------------------------------

    async def create_authenticator(self, authenticator: Authenticator) -> None:
        key = object_id(authenticator.user_id)
        if authenticator.kind == "passkey":
            await self._passkeys_ready()
        with translated("create_authenticator"):
            if key is None or await self.users.find_one({"_id": key}, {"_id": 1}) is None:
                raise NotFound
            await self.authenticators.insert_one(authenticator_document(authenticator, key))

    async def list_authenticators(
        self, user_id: str, kind: AuthenticatorKind | None = None
    ) -> list[Authenticator]:
        key = object_id(user_id)
        if key is None:
            return []
        query: Document = {"user_id": key}
        if kind is not None:
            query["kind"] = kind
        with translated("list_authenticators"):
            documents = (
                await self.authenticators.find(query)
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                .to_list()
            )
        return [authenticator_from(document) for document in documents]

    async def confirm_authenticator(self, authenticator_id: str, at: datetime) -> bool:
        value = text(authenticator_id)
        if value is None:
            return False
        with translated("confirm_authenticator"):
            result = await self.authenticators.update_one(
                {"_id": value, "confirmed_at": None}, {"$set": {"confirmed_at": at}}
            )
        return result.modified_count == 1

    async def delete_authenticators(
        self,
        user_id: str,
        kinds: Iterable[AuthenticatorKind],
        *,
        except_id: str | None = None,
    ) -> int:
        key = object_id(user_id)
        if key is None:
            return 0
        query: Document = {"user_id": key, "kind": {"$in": list(kinds)}}
        if except_id is not None:
            query["_id"] = {"$ne": except_id}
        with translated("delete_authenticators"):
            result = await self.authenticators.delete_many(query)
        return int(result.deleted_count)

    async def use_recovery_code(self, user_id: str, secret: str) -> bool:
        key = object_id(user_id)
        value = text(secret)
        if key is None or value is None:
            return False
        with translated("use_recovery_code"):
            result = await self.authenticators.delete_one(
                {"user_id": key, "kind": "recovery", "secret": value}
            )
        return result.deleted_count == 1

    async def accept_totp_step(self, authenticator_id: str, step: int, at: datetime) -> bool:
        value = text(authenticator_id)
        if value is None:
            return False
        query: Document = {
            "_id": value,
            "confirmed_at": {"$ne": None},
            "$or": [{"last_used_step": None}, {"last_used_step": {"$lt": step}}],
        }
        with translated("accept_totp_step"):
            result = await self.authenticators.update_one(
                query, {"$set": {"last_used_step": step, "last_used_at": at}}
            )
        return result.modified_count == 1

    async def _passkeys_ready(self) -> None:
        """Refuse passkey writes without the unique passkey index (checked once)."""
        if self._passkey_checked:
            return
        with translated("check_indexes"):
            found = await self.authenticators.index_information()
        if not any(
            info.get("unique")
            and info["key"] == [("secret", 1)]
            and info.get("partialFilterExpression") == {"kind": "passkey"}
            for info in found.values()
        ):
            raise ConfigurationError(
                "the Mongo store's passkey index is missing: call store.ensure_indexes()"
            )
        self._passkey_checked = True

    async def get_passkey(self, secret: str) -> tuple[Authenticator, Any] | None:
        value = text(secret)
        if value is None:
            return None
        with translated("get_passkey"):
            document = await self.authenticators.find_one({"kind": "passkey", "secret": value})
            if document is None:
                return None
            user = await self.users.find_one({"_id": document["user_id"]})
        if user is None:
            return None
        return authenticator_from(document), self._user(user)

    async def use_passkey(
        self,
        authenticator_id: str,
        *,
        old_count: int,
        new_count: int,
        at: datetime,
        issued_at: datetime,
    ) -> bool:
        value = text(authenticator_id)
        if value is None:
            return False
        query: Document = {
            "_id": value,
            "kind": "passkey",
            "sign_count": old_count,
            "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": issued_at}}],
        }
        with translated("use_passkey"):
            result = await self.authenticators.update_one(
                query, {"$set": {"sign_count": new_count, "last_used_at": at}}
            )
        return result.modified_count == 1

    async def delete_passkey(self, authenticator_id: str, user_id: str) -> bool:
        key = object_id(user_id)
        value = text(authenticator_id)
        if key is None or value is None:
            return False
        with translated("delete_passkey"):
            result = await self.authenticators.delete_one(
                {"_id": value, "user_id": key, "kind": "passkey"}
            )
        return result.deleted_count == 1

    # -- social identities -------------------------------------------------------------------

    async def _social_ready(self) -> None:
        """Refuse to link without the unique (provider, subject) index (checked once)."""
        if self._social_checked:
            return
        with translated("check_indexes"):
            found = await self.social_identities.index_information()
        if not any(
            info.get("unique") and info["key"] == [("provider", 1), ("subject", 1)]
            for info in found.values()
        ):
            raise ConfigurationError(
                "the Mongo store's social identities index is missing: call store.ensure_indexes()"
            )
        self._social_checked = True

    async def add_social_identity(self, identity: SocialIdentity) -> None:
        await self._social_ready()
        key = object_id(identity.user_id)
        document: Document = {
            "_id": identity.id,
            "provider": identity.provider,
            "subject": identity.subject,
            "user_id": key,
            "email": identity.email,
            "email_verified": identity.email_verified,
            "linked_at": identity.linked_at,
        }
        with translated("add_social_identity", duplicate=IdentityTaken):
            if key is None or await self.users.find_one({"_id": key}, {"_id": 1}) is None:
                raise NotFound("no such user")
            await self.social_identities.insert_one(document)

    async def get_social_identity(self, provider: str, subject: str) -> SocialIdentity | None:
        provider_text, subject_text = text(provider), text(subject)
        if provider_text is None or subject_text is None:
            return None
        with translated("get_social_identity"):
            document = await self.social_identities.find_one(
                {"provider": provider_text, "subject": subject_text}
            )
        return _identity_from(document) if document is not None else None

    async def list_social_identities(self, user_id: str) -> list[SocialIdentity]:
        key = object_id(user_id)
        if key is None:
            return []
        with translated("list_social_identities"):
            cursor = self.social_identities.find({"user_id": key}).sort(
                [("linked_at", ASCENDING), ("_id", ASCENDING)]
            )
            documents = await cursor.to_list()
        return [_identity_from(document) for document in documents]

    async def delete_social_identity(self, identity_id: str, user_id: str) -> bool:
        value, key = text(identity_id), object_id(user_id)
        if value is None or key is None:
            return False
        with translated("delete_social_identity"):
            result = await self.social_identities.delete_one({"_id": value, "user_id": key})
        return result.deleted_count == 1


def _identity_from(document: Mapping[str, Any]) -> SocialIdentity:
    return SocialIdentity(
        id=document["_id"],
        provider=document["provider"],
        subject=document["subject"],
        user_id=str(document["user_id"]),
        email=document.get("email"),
        email_verified=bool(document.get("email_verified")),
        linked_at=document["linked_at"],
    )
