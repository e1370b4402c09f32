# Generated from packages/store-sqlalchemy/src/doorward_sqlalchemy/_async/signin.py by scripts/unasync.py. Do not edit: edit the source.
"""The sign-in codes and refresh tokens capabilities of the SQLAlchemy store, written once:
``SQLAlchemySignIn`` here, ``SQLAlchemySignIn`` generated into ``_sync/signin.py``.

``SQLAlchemyStore`` mixes it in (kept apart so each module stays short); each
capability is there only when its model is (``Models.sign_in_code``,
``Models.refresh_token``). Every race is settled by one conditional statement and its row
count: ``UPDATE ... SET attempts = attempts + 1 WHERE id = ?`` (wrong codes),
``DELETE ... WHERE id = ? AND attempts < :max`` (a code used once),
``UPDATE ... SET used_at = :at WHERE id = ? AND used_at IS NULL`` (a refresh token used
once); the unique index on the codes' ``user_id`` keeps one code per user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from doorward.exceptions import NotFound
from doorward.records import RefreshToken, SignInCode
from doorward_sqlalchemy._sync.unit import UnitOfWork
from doorward_sqlalchemy._errors import UniqueKey, deadlocked, translated
from doorward_sqlalchemy._rows import (
    REFRESH_TOKEN_FIELDS,
    SIGN_IN_CODE_FIELDS,
    JoinedLookup,
    UserLoader,
    column_keys,
    id_value,
    refresh_token_from_row,
    searchable,
    sign_in_code_from_row,
)
from doorward_sqlalchemy.models import Models

__all__ = ["SQLAlchemySignIn"]

#: The methods of each capability, absent (``None``) without its model.
_SIGN_IN_METHODS = (
    "create_sign_in_code",
    "get_sign_in_code",
    "fail_sign_in_code",
    "use_sign_in_code",
    "delete_sign_in_codes",
)
_REFRESH_METHODS = (
    "create_refresh_token",
    "get_refresh_token",
    "use_refresh_token",
    "list_refresh_tokens",
    "delete_refresh_family",
    "delete_refresh_tokens",
    "delete_expired_refresh_tokens",
)
#: Tries of one ``create_sign_in_code``. A concurrent create for the same user may win
#: the unique index on ``user_id`` (or, on MariaDB, make this one a deadlock's victim
#: between the DELETE and the INSERT); the next try replaces the winner's code.
_CREATE_ATTEMPTS = 5


class SQLAlchemySignIn(UnitOfWork):
    """Sign-in codes and refresh tokens in the app's tables (``SignInCodeMixin``,
    ``RefreshTokenMixin``); the store's ``__init__`` calls ``_init_sign_in``."""

    engine: Engine
    models: Models
    sessions: sessionmaker[Session]
    _reads: Engine
    _session: Any
    _use_core: bool
    _returning: bool
    _users: UserLoader
    _user_id: Any
    _code_columns: dict[str, str]
    _code_user_key: UniqueKey
    _refresh_columns: dict[str, str]
    _refresh_lookup: JoinedLookup
    _refresh_orm: Any

    def _init_sign_in(self) -> None:
        """Build the statements of the capabilities whose models are there; the others'
        methods become ``None``, so a feature needing them refuses to start, naming them."""
        models = self.models
        code, refresh = models.sign_in_code, models.refresh_token
        if code is None:
            for name in _SIGN_IN_METHODS:
                setattr(self, name, None)
        else:
            self._code_columns = column_keys(code)
            self._code_user_key = UniqueKey.of(code.__table__, inspect(code).c["user_id"].name)
        if refresh is None:
            for name in _REFRESH_METHODS:
                setattr(self, name, None)
        else:
            self._refresh_columns = column_keys(refresh)
            by_hash = refresh.secret_hash == bindparam("hash")
            self._refresh_lookup = JoinedLookup(self._users, models.user, refresh, by_hash)
            self._refresh_orm = (
                select(refresh, models.user)
                .join(models.user, self._user_id == refresh.user_id)
                .where(by_hash)
            )

    @property
    def _codes(self) -> Any:
        return self.models.sign_in_code

    @property
    def _refresh(self) -> Any:
        return self.models.refresh_token

    def _key(self, user_id: str) -> Any:
        return id_value(self._user_id, user_id)

    def _user_exists(self, session: Session, key: Any, *, lock: bool = False) -> bool:
        """Whether the user row exists; ``lock``: and hold it (``FOR UPDATE``) until commit,
        so concurrent writers for one user take turns (SQLite serialises writes anyway)."""
        query = select(self._user_id).where(self._user_id == key)
        result = session.execute(query.with_for_update() if lock else query)
        return result.first() is not None

    def _count(self, operation: str, statement: Any) -> int:
        """Run one write in its own transaction; the rows it touched."""
        with translated(operation):
            with self._writing() as session:
                result = session.execute(statement)
                return int(result.rowcount)  # type: ignore[attr-defined]

    # -- sign-in codes ---------------------------------------------------------------------

    def create_sign_in_code(self, code: SignInCode) -> None:
        """Replace the user's code: DELETE and INSERT in one transaction that holds the
        user's row, so concurrent replacements take turns; a lost race (a database that
        does not lock, or a deadlock victim) is retried."""
        key = self._key(code.user_id)
        if key is None:
            raise NotFound("no such user")
        columns = self._code_columns
        values = {columns[name]: getattr(code, name) for name in SIGN_IN_CODE_FIELDS}
        values[columns["user_id"]] = key
        with translated("create_sign_in_code", user_required=True):
            for attempt in range(1, _CREATE_ATTEMPTS + 1):
                if self._replace_code(key, values, last=attempt == _CREATE_ATTEMPTS):
                    return

    def _replace_code(self, key: Any, values: dict[str, Any], *, last: bool) -> bool:
        """One try of ``create_sign_in_code``; ``False`` if a concurrent create won it."""
        model = self._codes
        try:
            with self._writing() as session:
                if not self._user_exists(session, key, lock=True):
                    raise NotFound("no such user")
                session.execute(delete(model).where(model.user_id == key))
                session.execute(insert(model.__table__), values)
        except DBAPIError as exc:
            lost = deadlocked(exc) or (
                isinstance(exc, IntegrityError) and self._code_user_key.violated_by(exc)
            )
            if last or not lost:
                raise
            return False
        return True

    def get_sign_in_code(self, user_id: str) -> SignInCode | None:
        model = self._codes
        key = self._key(user_id)
        if key is None:
            return None
        with translated("get_sign_in_code"):
            with self._reading() as session:
                result = session.execute(select(model).where(model.user_id == key))
                row = result.scalar_one_or_none()
        return sign_in_code_from_row(row) if row is not None else None

    def fail_sign_in_code(self, code_id: str) -> int:
        model = self._codes
        if not searchable(code_id):
            return 0
        statement = (
            update(model)
            .where(model.id == code_id)
            .values(attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        with translated("fail_sign_in_code"):
            with self._writing() as session:
                if self._returning:
                    result = session.execute(statement.returning(model.attempts))
                    count = result.scalar_one_or_none()
                    return int(count) if count is not None else 0
                result = session.execute(statement)
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return 0
                # the same transaction: our own update is what it reads (MariaDB)
                result = session.execute(select(model.attempts).where(model.id == code_id))
                return int(result.scalar_one())

    def use_sign_in_code(self, code_id: str, max_attempts: int) -> bool:
        model = self._codes
        if not searchable(code_id):
            return False
        statement = delete(model).where(model.id == code_id, model.attempts < max_attempts)
        return self._count("use_sign_in_code", statement) == 1

    def delete_sign_in_codes(self, user_id: str) -> int:
        """Delete the user's code. An id that cannot be a user's still costs the same
        DELETE (matching nothing): the neutral code request relies on equal work (LE-07)."""
        model = self._codes
        key = self._key(user_id)
        mine = model.user_id == key if key is not None else model.user_id.is_(None)
        return self._count("delete_sign_in_codes", delete(model).where(mine))

    # -- refresh tokens --------------------------------------------------------------------

    def create_refresh_token(self, token: RefreshToken) -> None:
        model = self._refresh
        key = self._key(token.user_id)
        if key is None:
            raise NotFound("no such user")
        columns = self._refresh_columns
        values = {columns[name]: getattr(token, name) for name in REFRESH_TOKEN_FIELDS}
        values[columns["user_id"]] = key
        with translated("create_refresh_token", user_required=True):
            with self._writing() as session:
                if not self._user_exists(session, key):
                    raise NotFound("no such user")
                session.execute(insert(model.__table__), values)

    def get_refresh_token(self, secret_hash: str) -> tuple[RefreshToken, Any] | None:
        """The token and its user in one joined select."""
        if not searchable(secret_hash):
            return None
        params = {"hash": secret_hash}
        with translated("get_refresh_token"):
            if self._session is not None or not self._use_core:
                if self._session is not None:
                    found = (self._session.execute(self._refresh_orm, params)).first()
                else:
                    with self.sessions() as session:
                        found = (session.execute(self._refresh_orm, params)).first()
                return (refresh_token_from_row(found[0]), found[1]) if found is not None else None
            with self._reads.connect() as connection:
                statement = self._refresh_lookup.statement
                row = (connection.execute(statement, params)).first()
        if row is None:
            return None
        values, user = self._refresh_lookup.found(row)
        return refresh_token_from_row(values), user

    def use_refresh_token(self, token_id: str, at: datetime) -> bool:
        model = self._refresh
        if not searchable(token_id):
            return False
        statement = (
            update(model)
            .where(model.id == token_id, model.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return self._count("use_refresh_token", statement) == 1

    def list_refresh_tokens(self, user_id: str) -> list[RefreshToken]:
        model = self._refresh
        key = self._key(user_id)
        if key is None:
            return []
        statement = (
            select(model)
            .where(model.user_id == key, model.used_at.is_(None))
            .order_by(model.created_at, model.id)
        )
        with translated("list_refresh_tokens"):
            with self._reading() as session:
                result = session.execute(statement)
                return [refresh_token_from_row(row) for row in result.scalars()]

    def delete_refresh_family(self, family_id: str, user_id: str | None = None) -> int:
        model = self._refresh
        if not searchable(family_id):
            return 0
        statement = delete(model).where(model.family_id == family_id)
        if user_id is not None:
            key = self._key(user_id)
            if key is None:
                return 0
            statement = statement.where(model.user_id == key)
        return self._count("delete_refresh_family", statement)

    def delete_refresh_tokens(self, user_id: str) -> int:
        model = self._refresh
        key = self._key(user_id)
        if key is None:
            return 0
        return self._count("delete_refresh_tokens", delete(model).where(model.user_id == key))

    def delete_expired_refresh_tokens(self, now: datetime) -> int:
        model = self._refresh
        statement = delete(model).where(model.expires_at < now)
        return self._count("delete_expired_refresh_tokens", statement)
