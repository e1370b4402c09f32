"""The SQLAlchemy store, written once: ``AsyncSQLAlchemyStore`` here, ``SQLAlchemyStore``
generated into ``_sync/store.py``.

Every method is one transaction, or a savepoint of the block's transaction inside
``async with store.transaction():`` (``_async/unit.py``), which the flows open around a
change and the mail about it (DI-02); the per-request lookups and the mail worker's
methods always keep their own. The races are settled by the database: a unique index
(one account per address), ``SET n = n + 1`` (counters), ``UPDATE ... WHERE stamp = ?``
(single-use tokens), ``DELETE`` row counts (single-use remember-me tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm.decl_base import _declarative_constructor

from doorward.exceptions import IdentityTaken, NotFound
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
from doorward_sqlalchemy._async.outbox import OUTBOX_METHODS, AsyncSQLAlchemyOutbox
from doorward_sqlalchemy._async.signin import AsyncSQLAlchemySignIn
from doorward_sqlalchemy._direct import AsyncDirectSelect, DirectWrites, Statement
from doorward_sqlalchemy._errors import EmailKey, UniqueKey, translated
from doorward_sqlalchemy._rows import (
    CredentialLookup,
    UserLoader,
    column_keys,
    credential_from_row,
    credential_values,
    id_value,
    permissions_text,
    role_from_row,
    role_pairs,
    searchable,
)
from doorward_sqlalchemy.models import Models, UTCDateTime, required_columns

__all__ = ["AsyncSQLAlchemyStore"]

#: The ``Authenticators`` capability: absent (``None``) when ``Models.authenticator`` is.
_AUTHENTICATOR_METHODS = (
    "create_authenticator",
    "list_authenticators",
    "confirm_authenticator",
    "delete_authenticators",
    "use_recovery_code",
    "accept_totp_step",
    "get_passkey",
    "use_passkey",
    "delete_passkey",
)
_AUTHENTICATOR_FIELDS = (
    "id",
    "kind",
    "secret",
    "created_at",
    "confirmed_at",
    "last_used_at",
    "last_used_step",
    "name",
    "credential_id",
    "public_key",
    "sign_count",
    "transports",
    "user_handle",
)


def _authenticator_values(authenticator: Authenticator) -> dict[str, Any]:
    """The row of an authenticator: transports joined, a passkey's key in ``credential_key``."""
    values = {name: getattr(authenticator, name) for name in _AUTHENTICATOR_FIELDS}
    values["transports"] = ",".join(authenticator.transports) or None
    passkey = authenticator.kind == "passkey"
    values["credential_key"] = authenticator.secret if passkey else None
    return values


def _authenticator_from(user_id: str, row: Any) -> Authenticator:
    values = dict(zip(_AUTHENTICATOR_FIELDS, row, strict=True))
    values["transports"] = tuple(t for t in (values["transports"] or "").split(",") if t)
    return Authenticator(user_id=user_id, **values)


#: The methods of the social identities capability, absent without its model.
_SOCIAL_METHODS = (
    "add_social_identity",
    "get_social_identity",
    "list_social_identities",
    "delete_social_identity",
)


class AsyncSQLAlchemyStore(AsyncSQLAlchemySignIn, AsyncSQLAlchemyOutbox):
    """A doorward store over SQLAlchemy models (see ``doorward_sqlalchemy.models``).

    The sign-in codes and refresh tokens capabilities come from ``AsyncSQLAlchemySignIn``
    (``_async/signin.py``), present when their models are.

    Users come back as detached instances of the application's model with every column
    loaded (``expire_on_commit=False``); relationships of the application are not loaded.
    """

    def __init__(self, engine: AsyncEngine, models: Models, *, session: Any = None) -> None:
        """``session``: a session of the app's (or a scoped one, such as Flask-SQLAlchemy's
        ``db.session``) that the reads returning users use, so those users stay attached
        to it and their lazy relationships load during the request, as with Flask-Login.
        Without it, users are detached copies: configure eager loading instead.
        """
        self.engine = engine
        self.models = models
        self._session = session
        self._authenticators_of: tuple[Any, Any] | None = None
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # Single-statement reads need no transaction. On PostgreSQL, autocommit saves the
        # BEGIN and ROLLBACK round trips (352 → 193 µs a lookup on loopback); elsewhere
        # switching autocommit costs more than it saves (MariaDB sends SET AUTOCOMMIT).
        self._reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._returning = engine.dialect.update_returning
        self._user_id = models.user.__mapper__.primary_key[0]
        email_column = models.user.__mapper__.columns["normalized_email"].name
        self._email_key = EmailKey.of(models.user.__table__, email_column)
        user, credential = models.user, models.credential
        # built once: the hot paths only bind parameters
        self._by_email = select(user).where(user.normalized_email == bindparam("email"))
        # A model without relationships is loaded with Core statements (no unit of work);
        # one with relationships goes through the ORM so its loader options apply.
        self._use_core = not inspect(user).relationships
        self._users = UserLoader(user)
        self._lookup = CredentialLookup(self._users, user, credential)
        self._user_by_email = select(*self._users.columns).where(
            user.normalized_email == bindparam("email")
        )
        self._user_by_id = select(*self._users.columns).where(self._user_id == bindparam("id"))
        self._record_login = (
            update(user)
            .where(self._user_id == bindparam("login_user"))
            .ordered_values(
                (user.last_login_at, user.current_login_at),
                (user.last_login_ip, user.current_login_ip),
                (user.current_login_at, bindparam("login_at")),
                (user.current_login_ip, bindparam("login_ip")),
                (user.login_count, user.login_count + 1),
                (user.failed_logins, 0),
                (user.last_failed_login_at, None),
            )
        )
        self._record_login_returning = self._record_login.returning(*self._users.columns)
        # A new user by one Core INSERT ... RETURNING when nothing of the ORM's would run on
        # the instance (no relationships, the declarative constructor, no validators).
        mapper = inspect(user)
        plain = (
            self._use_core
            and mapper.class_manager.original_init is _declarative_constructor
            and not mapper.validators
            and engine.dialect.insert_returning
        )
        self._insert_user = (
            insert(user.__table__).returning(*self._users.columns) if plain else None
        )
        self._user_column_keys = column_keys(user)
        self._insert_credential = insert(credential.__table__)
        self._credential_columns = column_keys(credential)
        role, user_role = models.role, models.user_role
        self._roles_of_user = (
            select(role.name, role.permissions)
            .join(user_role, user_role.role_id == role.id)
            .where(user_role.user_id == bindparam("uid"))
        )
        self._by_secret_orm = (
            select(credential, user)
            .join(user, user.id == credential.user_id)
            .where(
                credential.kind == bindparam("kind"),
                credential.secret_hash == bindparam("hash"),
            )
        )
        # the per-request lookup with the roles (role scopes): one statement, one row per role
        self._lookup_roles = self._lookup.with_roles(role, user_role)
        # the same two lookups straight through the driver's cursor (``_direct.py``), for
        # users loaded by Core without an application session
        self._may_go_direct = self._use_core and session is None
        self._direct_lookup = self._direct(self._lookup.statement)
        self._direct_lookup_roles = self._direct(self._lookup_roles)
        # the login's and the registration's writes likewise (SQLite and PostgreSQL)
        self._writes = DirectWrites.of(engine) if self._may_go_direct else None
        self._direct_inserts: dict[tuple[Any, frozenset[str]], Statement | None] = {}
        self._direct_record_login = (
            self._writes.statement(self._record_login_returning, columns=self._users.columns)
            if self._writes is not None and self._returning
            else None
        )
        self._by_secret_orm_roles = (
            select(credential, user, role.name, role.permissions)
            .join(user, user.id == credential.user_id)
            .outerjoin(user_role, user_role.user_id == user.id)
            .outerjoin(role, role.id == user_role.role_id)
            .where(
                credential.kind == bindparam("kind"),
                credential.secret_hash == bindparam("hash"),
            )
        )

        if models.authenticator is None:
            for name in _AUTHENTICATOR_METHODS:  # no table: no capability (MFA stays off)
                setattr(self, name, None)
        if models.authenticator is None or not self._use_core or session is not None:
            # the login's lookup goes through get_user_by_email, the factors asked apart
            self.get_user_by_email_with_authenticators = None  # type: ignore[assignment]
        else:
            factor = models.authenticator
            self._user_with_factors = (
                select(*self._users.columns, *(getattr(factor, n) for n in _AUTHENTICATOR_FIELDS))
                .select_from(
                    user.__table__.outerjoin(factor.__table__, factor.user_id == self._user_id)
                )
                .where(user.normalized_email == bindparam("email"))
                .order_by(factor.created_at, factor.id)
            )
            self._direct_user_with_factors = self._direct(self._user_with_factors)
        if models.social_identity is None:
            # no table: the capability check names these methods when a feature needs them
            for name in _SOCIAL_METHODS:
                setattr(self, name, None)
        self._init_sign_in()
        if models.outbox is None:  # no table: no outbox capability
            for name in OUTBOX_METHODS:
                setattr(self, name, None)

    def _uid(self, user_id: str) -> Any:
        return id_value(self._user_id, user_id)

    # -- users -----------------------------------------------------------------------------

    def required_fields(self) -> frozenset[str]:
        """The user model's own attributes that a new row cannot do without: NOT NULL
        columns with no default that doorward does not fill (checked at start-up, DI-01)."""
        return required_columns(self.models.user)

    async def create_user(self, new: NewUser) -> Any:
        fields = new.as_fields()
        keys = self._user_column_keys
        if self._insert_user is not None and keys.keys() >= fields.keys():
            values = {keys[name]: value for name, value in fields.items()}
            with translated("create_user", self._email_key):
                writes = self._direct_writes()
                direct = (
                    self._direct_insert(self._insert_user, values, self._users.columns)
                    if writes
                    else None
                )
                if writes is not None and direct is not None:
                    with writes.transaction() as transaction:
                        row = transaction.run(direct, values)[0]
                else:
                    async with self._writing_core() as connection:
                        row = (await connection.execute(self._insert_user, values)).one()
            return self._users.load(row)
        with translated("create_user", self._email_key):
            async with self._writing() as session:
                user = self.models.user(**fields)
                session.add(user)
                await session.flush()
            return user

    async def get_user(self, user_id: str) -> Any | None:
        key = self._uid(user_id)
        if key is None:
            return None
        with translated("get_user"):
            if self._session is not None and not self._in_transaction:
                return await self._session.get(self.models.user, key)
            if not self._use_core:
                async with self._reading() as session:
                    return await session.get(self.models.user, key)
            async with self._reading_core() as connection:
                row = (await connection.execute(self._user_by_id, {"id": key})).first()
        return self._users.load(row) if row is not None else None

    async def get_user_by_email(self, normalized_email: str) -> Any | None:
        if not searchable(normalized_email):
            return None
        params = {"email": normalized_email}
        with translated("get_user_by_email"):
            if self._session is not None and not self._in_transaction:
                return (await self._session.execute(self._by_email, params)).scalar_one_or_none()
            if not self._use_core:
                async with self._reading() as session:
                    return (await session.execute(self._by_email, params)).scalar_one_or_none()
            async with self._reading_core() as connection:
                row = (await connection.execute(self._user_by_email, params)).first()
        return self._users.load(row) if row is not None else None

    def _direct(self, statement: Any) -> AsyncDirectSelect | None:
        """``statement`` run straight through the driver's cursor, where that can be: a
        driver ``_direct.py`` knows, users loaded by Core, no application session."""
        if not self._may_go_direct:
            return None
        autocommit = self._reads is not self.engine
        return AsyncDirectSelect.of(self.engine, statement, autocommit=autocommit)

    async def _direct_rows(
        self, direct: AsyncDirectSelect | None, params: dict[str, Any]
    ) -> Sequence[Sequence[Any]] | None:
        """The rows of a direct select, or ``None`` when it must go through SQLAlchemy: no
        direct select, the engine asks for something it would skip, or a store transaction
        (whose own connection must be read through) is open."""
        if direct is None or not self._direct_now(direct):
            return None
        return await direct.rows(params)

    def _direct_writes(self) -> DirectWrites | None:
        """Direct writes where they may run now: as ``_direct_rows``, for writes."""
        writes = self._writes
        return writes if writes is not None and self._direct_now(writes) else None

    def _direct_now(self, direct: AsyncDirectSelect | DirectWrites) -> bool:
        """Whether ``direct`` may run now: no store transaction is open (its own connection
        must be read and written through) and the engine asks for nothing it would skip."""
        return not self._in_transaction and direct.usable()

    def _direct_insert(
        self, statement: Any, values: Mapping[str, Any], returning: Sequence[Any] = ()
    ) -> Statement | None:
        """``statement`` (an INSERT returning ``returning``) compiled for the columns of
        ``values``, once for each set of columns; ``None`` where it must go through
        SQLAlchemy."""
        key = (statement, frozenset(values))
        if key not in self._direct_inserts:
            assert self._writes is not None
            self._direct_inserts[key] = self._writes.statement(
                statement, columns=returning, column_keys=sorted(values)
            )
        return self._direct_inserts[key]

    async def get_user_by_email_with_authenticators(
        self, normalized_email: str
    ) -> tuple[Any, list[Authenticator]] | None:
        """``get_user_by_email`` and ``list_authenticators`` of that user in one statement
        (an outer join: a row per authenticator), for the login's lookup; ``None`` for an
        unknown address. Absent (``None``) when the models have no authenticators, load
        users through the ORM, or read through the app's session."""
        if not searchable(normalized_email):
            return None
        params = {"email": normalized_email}
        with translated("get_user_by_email"):
            rows = await self._direct_rows(self._direct_user_with_factors, params)
            if rows is None:
                async with self._reading_core() as connection:
                    rows = (await connection.execute(self._user_with_factors, params)).all()
        if not rows:
            return None
        split = len(self._users.keys)
        user = self._users.load(rows[0][:split])
        user_id = str(user.id)
        factors = [
            _authenticator_from(user_id, row[split:]) for row in rows if row[split] is not None
        ]
        return user, factors

    async def get_user_by_username(self, field: str, username: str) -> Any | None:
        column = inspect(self.models.user).column_attrs.get(field)
        if column is None or field in USER_FIELDS:
            raise ValueError(f"{self.models.user.__name__} has no username column {field!r}")
        if not searchable(username):
            return None
        statement = select(self.models.user).where(column.expression == username)
        with translated("get_user_by_username"):
            if self._session is not None and not self._in_transaction:
                return (await self._session.execute(statement)).scalar_one_or_none()
            async with self._reading() as session:
                return (await session.execute(statement)).scalar_one_or_none()

    async def update_user(self, user: Any, changes: Mapping[str, Any]) -> Any:
        with translated("update_user", self._email_key):
            async with self._writing() as session:
                stored = await session.get(self.models.user, user.id, populate_existing=True)
                if stored is None:
                    raise NotFound
                for key, value in changes.items():
                    setattr(stored, key, value)
                await session.flush()
            return stored

    async def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        columns = inspect(self.models.user).column_attrs.keys()
        refused = sorted((set(changes) & set(USER_FIELDS)) | (set(changes) - set(columns)))
        if refused:
            raise ValueError(f"not application fields of {self.models.user.__name__}: {refused}")
        return await self.update_user(user, changes)

    async def compare_and_set_stamp(
        self, user: Any, expected_stamp: str, changes: Mapping[str, Any]
    ) -> Any | None:
        model = self.models.user
        with translated("compare_and_set_stamp", self._email_key):
            async with self._writing() as session:
                result = await session.execute(
                    update(model)
                    .where(model.id == user.id, model.security_stamp == expected_stamp)
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return None
                return await session.get(model, user.id, populate_existing=True)

    async def delete_user(self, user: Any) -> None:
        models = self.models
        with translated("delete_user"):
            async with self._writing() as session:
                await session.execute(
                    delete(models.credential).where(models.credential.user_id == user.id)
                )
                if models.authenticator is not None:
                    await session.execute(
                        delete(models.authenticator).where(models.authenticator.user_id == user.id)
                    )
                await session.execute(
                    delete(models.user_role).where(models.user_role.user_id == user.id)
                )
                if models.social_identity is not None:
                    linked = models.social_identity
                    await session.execute(delete(linked).where(linked.user_id == user.id))
                for owned in (models.sign_in_code, models.refresh_token):
                    if owned is not None:
                        await session.execute(delete(owned).where(owned.user_id == user.id))
                await session.execute(delete(models.user).where(models.user.id == user.id))

    async def increment_failed_logins(
        self,
        user: Any,
        at: datetime,
        *,
        keep_time: bool = False,
        restart_cutoff: datetime | None = None,
    ) -> int:
        model = self.models.user
        count: Any = model.failed_logins + 1
        if restart_cutoff is not None:
            count = case((model.last_failed_login_at <= restart_cutoff, 1), else_=count)
        when: Any = literal(at, UTCDateTime())
        if keep_time:
            when = func.coalesce(model.last_failed_login_at, when)
        # The count is assigned first: MySQL and MariaDB evaluate SET left to right, so the
        # CASE must read the stored time before it is replaced (RL-07).
        statement = (
            update(model)
            .where(model.id == user.id)
            .ordered_values((model.failed_logins, count), (model.last_failed_login_at, when))
            .execution_options(synchronize_session=False)
        )
        with translated("increment_failed_logins"):
            async with self._writing() as session:
                if self._returning:
                    result = await session.execute(statement.returning(model.failed_logins))
                    return int(result.scalar_one())
                await session.execute(statement)
                result = await session.execute(
                    select(model.failed_logins).where(model.id == user.id)
                )
                return int(result.scalar_one())

    async def record_login(self, user: Any, at: datetime, ip: str | None) -> Any:
        params = {"login_user": user.id, "login_at": at, "login_ip": ip}
        with translated("record_login"):
            if not self._use_core:
                async with self.sessions.begin() as session:
                    await session.execute(
                        self._record_login.execution_options(synchronize_session=False), params
                    )
                    return await session.get(self.models.user, user.id, populate_existing=True)
            async with self.engine.begin() as connection:
                row = await self._record_login_on(connection, user.id, params)
        return self._users.load(row) if row is not None else None

    async def _record_login_on(self, connection: Any, user_id: Any, params: dict[str, Any]) -> Any:
        """The login's counter update on ``connection``; the user's row after it, or None."""
        if self._returning:
            result = await connection.execute(self._record_login_returning, params)
        else:
            await connection.execute(self._record_login, params)
            result = await connection.execute(self._user_by_id, {"id": user_id})
        return result.first()

    async def record_login_with_credentials(
        self, user: Any, at: datetime, ip: str | None, credentials: Sequence[Credential]
    ) -> Any:
        """``record_login`` and ``create_credential`` of each of ``credentials`` (the new
        session's) in one transaction: one commit per login, and no login counted for a
        session that could not be stored."""
        if not self._use_core:
            user = await self.record_login(user, at, ip)
            for credential in credentials:
                await self.create_credential(credential)
            return user
        params = {"login_user": user.id, "login_at": at, "login_ip": ip}
        rows = [self._credential_row(credential) for credential in credentials]
        with translated("record_login"):
            writes = self._direct_writes()
            record = self._direct_record_login
            insert_rows = (
                self._direct_insert(self._insert_credential, rows[0]) if writes and rows else None
            )
            if writes is not None and record is not None and (insert_rows or not rows):
                with writes.transaction() as transaction:
                    found = transaction.run(record, params)
                    if found and insert_rows is not None:
                        transaction.run(insert_rows, rows)
                return self._users.load(found[0]) if found else None
            async with self.engine.begin() as connection:
                row = await self._record_login_on(connection, user.id, params)
                if row is None:
                    return None
                if rows:
                    await connection.execute(self._insert_credential, rows)
        return self._users.load(row)

    # -- roles -------------------------------------------------------------------------------

    async def save_role(self, role: Role) -> Role:
        model = self.models.role
        with translated("save_role"):
            async with self._writing() as session:
                result = await session.execute(select(model).where(model.name == role.name))
                row = result.scalar_one_or_none()
                if row is None:
                    row = model(name=role.name)
                    session.add(row)
                row.description = role.description
                row.permissions = permissions_text(role.permissions)
            return role

    async def get_role(self, name: str) -> Role | None:
        model = self.models.role
        if not searchable(name):
            return None
        with translated("get_role"):
            async with self._reading() as session:
                result = await session.execute(select(model).where(model.name == name))
                row = result.scalar_one_or_none()
                return role_from_row(row) if row is not None else None

    async def list_roles(self) -> list[Role]:
        model = self.models.role
        with translated("list_roles"):
            async with self._reading() as session:
                result = await session.execute(select(model).order_by(model.name))
                return [role_from_row(row) for row in result.scalars()]

    async def delete_role(self, name: str) -> bool:
        models = self.models
        with translated("delete_role"):
            async with self._writing() as session:
                result = await session.execute(
                    select(models.role.id).where(models.role.name == name)
                )
                role_id = result.scalar_one_or_none()
                if role_id is None:
                    return False
                await session.execute(
                    delete(models.user_role).where(models.user_role.role_id == role_id)
                )
                await session.execute(delete(models.role).where(models.role.id == role_id))
                return True

    async def add_user_role(self, user: Any, name: str) -> bool:
        models = self.models
        with translated("add_user_role"):
            async with self._writing() as session:
                result = await session.execute(
                    select(models.role.id).where(models.role.name == name)
                )
                role_id = result.scalar_one_or_none()
                if role_id is None:
                    raise NotFound
                link = await session.get(models.user_role, (user.id, role_id))
                if link is not None:
                    return False
                session.add(models.user_role(user_id=user.id, role_id=role_id))
                return True

    async def remove_user_role(self, user: Any, name: str) -> bool:
        models = self.models
        role_ids = select(models.role.id).where(models.role.name == name).scalar_subquery()
        with translated("remove_user_role"):
            async with self._writing() as session:
                result = await session.execute(
                    delete(models.user_role).where(
                        models.user_role.user_id == user.id,
                        models.user_role.role_id == role_ids,
                    )
                )
                return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _roles_of(self, user: Any) -> list[tuple[str, str]]:
        """``(name, permissions)`` of each of the user's roles."""
        with translated("get_user_roles"):
            async with self._reading_core() as connection:
                result = await connection.execute(self._roles_of_user, {"uid": user.id})
                return [(name, permissions) for name, permissions in result]

    async def get_user_roles(self, user: Any) -> frozenset[str]:
        return frozenset(name for name, _ in await self._roles_of(user))

    async def get_user_permissions(self, user: Any) -> frozenset[str]:
        return frozenset(p for _, text in await self._roles_of(user) for p in text.split())

    # -- credentials ---------------------------------------------------------------------------

    def _credential_row(self, credential: Credential) -> dict[str, Any]:
        columns = self._credential_columns
        found = credential_values(credential, self._uid(credential.user_id))
        return {columns[key]: value for key, value in found.items()}

    async def create_credential(self, credential: Credential) -> None:
        values = self._credential_row(credential)
        with translated("create_credential"):
            async with self.engine.begin() as connection:
                await connection.execute(self._insert_credential, values)

    async def get_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any] | None:
        if not searchable(secret_hash):
            return None
        params = {"kind": kind, "hash": secret_hash}
        with translated("get_credential"):
            rows = await self._direct_rows(self._direct_lookup, params)
            if rows is not None:
                return self._lookup.found(rows[0]) if rows else None
            if self._session is not None:
                found = (await self._session.execute(self._by_secret_orm, params)).first()
                return (credential_from_row(found[0]), found[1]) if found is not None else None
            if not self._use_core:
                async with self.sessions() as session:
                    found = (await session.execute(self._by_secret_orm, params)).first()
                return (credential_from_row(found[0]), found[1]) if found is not None else None
            async with self._reads.connect() as connection:
                row = (await connection.execute(self._lookup.statement, params)).first()
        if row is None:
            return None
        return self._lookup.found(row)

    async def get_credential_with_roles(
        self, kind: CredentialKind, secret_hash: str
    ) -> tuple[Credential, Any, frozenset[str], frozenset[str]] | None:
        if not searchable(secret_hash):
            return None
        params = {"kind": kind, "hash": secret_hash}
        with translated("get_credential_with_roles"):
            rows = await self._direct_rows(self._direct_lookup_roles, params)
            if rows is not None:
                return self._lookup.found_with_roles(rows)
            if self._use_core and self._session is None:
                async with self._reads.connect() as connection:
                    rows = (await connection.execute(self._lookup_roles, params)).all()
                return self._lookup.found_with_roles(rows)
            if self._session is not None:
                rows = (await self._session.execute(self._by_secret_orm_roles, params)).all()
            else:
                async with self.sessions() as session:
                    rows = (await session.execute(self._by_secret_orm_roles, params)).all()
        if not rows:
            return None
        names, permissions = role_pairs(rows)
        return credential_from_row(rows[0][0]), rows[0][1], names, permissions

    async def list_credentials(self, user_id: str, kind: CredentialKind) -> list[Credential]:
        model = self.models.credential
        key = self._uid(user_id)
        if key is None:
            return []
        with translated("list_credentials"):
            async with self._reading() as session:
                result = await session.execute(
                    select(model)
                    .where(model.user_id == key, model.kind == kind)
                    .order_by(model.created_at, model.id)
                )
                return [credential_from_row(row) for row in result.scalars()]

    async def touch_credential(
        self,
        credential_id: str,
        *,
        last_used_at: datetime,
        authenticated_at: datetime | None = None,
    ) -> None:
        model = self.models.credential
        values: dict[str, Any] = {"last_used_at": last_used_at}
        if authenticated_at is not None:
            values["authenticated_at"] = authenticated_at
        with translated("touch_credential"):
            async with self.sessions.begin() as session:
                await session.execute(
                    update(model)
                    .where(model.id == credential_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )

    async def delete_credential(self, credential_id: str, user_id: str | None = None) -> bool:
        model = self.models.credential
        if not searchable(credential_id):
            return False
        statement = delete(model).where(model.id == credential_id)
        if user_id is not None:
            key = self._uid(user_id)
            if key is None:
                return False
            statement = statement.where(model.user_id == key)
        with translated("delete_credential"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def delete_credentials(
        self,
        user_id: str,
        kinds: Iterable[CredentialKind],
        *,
        except_id: str | None = None,
    ) -> int:
        model = self.models.credential
        key = self._uid(user_id)
        if key is None:
            return 0
        statement = delete(model).where(model.user_id == key, model.kind.in_(list(kinds)))
        if except_id is not None:
            statement = statement.where(model.id != except_id)
        with translated("delete_credentials"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return int(result.rowcount)  # type: ignore[attr-defined]

    async def rebind_credentials(
        self, user_id: str, old_stamp: str, new_stamp: str, *, except_id: str | None = None
    ) -> int:
        model = self.models.credential
        key = self._uid(user_id)
        if key is None:
            return 0
        statement = (
            update(model)
            .where(model.user_id == key, model.stamp == old_stamp)
            .values(stamp=new_stamp)
            .execution_options(synchronize_session=False)
        )
        if except_id is not None:
            statement = statement.where(model.id != except_id)
        with translated("rebind_credentials"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete_expired_credentials(self, now: datetime) -> int:
        model = self.models.credential
        with translated("delete_expired_credentials"):
            async with self._writing() as session:
                result = await session.execute(delete(model).where(model.expires_at < now))
                return int(result.rowcount)  # type: ignore[attr-defined]

    # -- authenticators (when Models.authenticator is set) --------------------------------------

    @property
    def _authenticator(self) -> Any:
        return self.models.authenticator

    async def create_authenticator(self, authenticator: Authenticator) -> None:
        model = self._authenticator
        key = self._uid(authenticator.user_id)
        values = _authenticator_values(authenticator)
        with translated("create_authenticator"):
            async with self._writing() as session:
                if key is None or await session.get(self.models.user, key) is None:
                    raise NotFound("no such user")
                await session.execute(insert(model.__table__), {**values, "user_id": key})

    async def list_authenticators(
        self, user_id: str, kind: AuthenticatorKind | None = None
    ) -> list[Authenticator]:
        model = self._authenticator
        key = self._uid(user_id)
        if key is None:
            return []
        # on every login of every user (is there a second factor?): one prebuilt Core select
        statements = self._authenticators_of
        if statements is None:
            columns = [getattr(model, name) for name in _AUTHENTICATOR_FIELDS]
            mine = select(*columns).where(model.user_id == bindparam("uid"))
            order = (model.created_at, model.id)
            statements = self._authenticators_of = (
                mine.order_by(*order),
                mine.where(model.kind == bindparam("kind")).order_by(*order),
            )
        statement = statements[0] if kind is None else statements[1]
        with translated("list_authenticators"):
            async with self._reads.connect() as connection:
                result = await connection.execute(statement, {"uid": key, "kind": kind})
                return [_authenticator_from(user_id, row) for row in result]

    async def _update_authenticator(self, where: list[Any], values: dict[str, Any]) -> bool:
        model = self._authenticator
        with translated("update_authenticator"):
            async with self._writing() as session:
                result = await session.execute(
                    update(model)
                    .where(*where)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def confirm_authenticator(self, authenticator_id: str, at: datetime) -> bool:
        model = self._authenticator
        if not searchable(authenticator_id):
            return False
        where = [model.id == authenticator_id, model.confirmed_at.is_(None)]
        return await self._update_authenticator(where, {"confirmed_at": at})

    async def accept_totp_step(self, authenticator_id: str, step: int, at: datetime) -> bool:
        model = self._authenticator
        if not searchable(authenticator_id):
            return False
        where = [
            model.id == authenticator_id,
            model.confirmed_at.is_not(None),
            or_(model.last_used_step.is_(None), model.last_used_step < step),
        ]
        return await self._update_authenticator(where, {"last_used_step": step, "last_used_at": at})

    async def delete_authenticators(
        self,
        user_id: str,
        kinds: Iterable[AuthenticatorKind],
        *,
        except_id: str | None = None,
    ) -> int:
        model = self._authenticator
        key = self._uid(user_id)
        if key is None:
            return 0
        statement = delete(model).where(model.user_id == key, model.kind.in_(list(kinds)))
        if except_id is not None:
            statement = statement.where(model.id != except_id)
        with translated("delete_authenticators"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return int(result.rowcount)  # type: ignore[attr-defined]

    async def use_recovery_code(self, user_id: str, secret: str) -> bool:
        model = self._authenticator
        key = self._uid(user_id)
        if key is None or not searchable(secret):
            return False
        statement = delete(model).where(
            model.user_id == key, model.kind == "recovery", model.secret == secret
        )
        with translated("use_recovery_code"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def get_passkey(self, secret: str) -> tuple[Authenticator, Any] | None:
        model = self._authenticator
        if not searchable(secret):
            return None
        columns = [getattr(model, name) for name in _AUTHENTICATOR_FIELDS]
        statement = select(model.user_id, *columns).where(model.credential_key == secret)
        with translated("get_passkey"):
            async with self._reading_core() as connection:
                row = (await connection.execute(statement)).first()
        if row is None:
            return None
        user = await self.get_user(str(row[0]))
        if user is None:
            return None
        return _authenticator_from(str(row[0]), row[1:]), user

    async def use_passkey(
        self,
        authenticator_id: str,
        *,
        old_count: int,
        new_count: int,
        at: datetime,
        issued_at: datetime,
    ) -> bool:
        model = self._authenticator
        if not searchable(authenticator_id):
            return False
        where = [
            model.id == authenticator_id,
            model.kind == "passkey",
            model.sign_count == old_count,
            or_(model.last_used_at.is_(None), model.last_used_at < issued_at),
        ]
        return await self._update_authenticator(
            where, {"sign_count": new_count, "last_used_at": at}
        )

    async def delete_passkey(self, authenticator_id: str, user_id: str) -> bool:
        model = self._authenticator
        key = self._uid(user_id)
        if key is None or not searchable(authenticator_id):
            return False
        statement = delete(model).where(
            model.id == authenticator_id, model.user_id == key, model.kind == "passkey"
        )
        with translated("delete_passkey"):
            async with self._writing() as session:
                result = await session.execute(statement)
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # -- social identities ----------------------------------------------------------------------

    @property
    def _linked(self) -> Any:
        return self.models.social_identity

    async def add_social_identity(self, identity: SocialIdentity) -> None:
        key = self._uid(identity.user_id)
        if key is None:
            raise NotFound("no such user")
        row = self._linked(
            id=identity.id,
            provider=identity.provider,
            subject=identity.subject,
            user_id=key,
            email=identity.email,
            email_verified=identity.email_verified,
            linked_at=identity.linked_at,
        )
        taken = (UniqueKey.of(self._linked.__table__, "provider", "subject"), IdentityTaken)
        with translated("add_social_identity", taken=taken):
            async with self._writing() as session:
                if await session.get(self.models.user, key) is None:
                    raise NotFound("no such user")
                session.add(row)
                await session.flush()

    async def get_social_identity(self, provider: str, subject: str) -> SocialIdentity | None:
        model = self._linked
        if not searchable(provider) or not searchable(subject):
            return None
        with translated("get_social_identity"):
            async with self._reading() as session:
                result = await session.execute(
                    select(model).where(model.provider == provider, model.subject == subject)
                )
                row = result.scalar_one_or_none()
        return _identity_from_row(row) if row is not None else None

    async def list_social_identities(self, user_id: str) -> list[SocialIdentity]:
        model = self._linked
        key = self._uid(user_id)
        if key is None:
            return []
        with translated("list_social_identities"):
            async with self._reading() as session:
                result = await session.execute(
                    select(model).where(model.user_id == key).order_by(model.linked_at, model.id)
                )
                return [_identity_from_row(row) for row in result.scalars()]

    async def delete_social_identity(self, identity_id: str, user_id: str) -> bool:
        model = self._linked
        key = self._uid(user_id)
        if key is None or not searchable(identity_id):
            return False
        with translated("delete_social_identity"):
            async with self._writing() as session:
                result = await session.execute(
                    delete(model).where(model.id == identity_id, model.user_id == key)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def count_users(self) -> int:
        """How many users there are (for the CLI and the benchmarks)."""
        with translated("count_users"):
            async with self._reading() as session:
                result = await session.execute(select(func.count()).select_from(self.models.user))
                return int(result.scalar_one())


def _identity_from_row(row: Any) -> SocialIdentity:
    return SocialIdentity(
        id=row.id,
        provider=row.provider,
        subject=row.subject,
        user_id=str(row.user_id),
        email=row.email,
        email_verified=bool(row.email_verified),
        linked_at=row.linked_at,
    )
