"""What every feature shares: the site's services and the steps several flows take.

``AsyncContext`` is built once by ``AsyncAuth`` and handed to each feature. It holds no
per-user state. The sync face (``Context``) is generated from this file.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from doorward import _rules, i18n
from doorward._async._io import _IS_SYNC
from doorward._async.mailers import AsyncConsoleMailer
from doorward._async.outbox import AsyncOutboxMailer
from doorward._async.protocols import AsyncMailer, AsyncPasswordHasher
from doorward._async.ratelimit import AsyncMemoryRateLimiter, AsyncRateLimiter
from doorward.clock import Clock, SystemClock
from doorward.events import Events
from doorward.exceptions import (
    ConfigurationError,
    InvalidToken,
    MailerUnavailable,
    RateLimited,
    StoreUnavailable,
    ValidationFailed,
)
from doorward.hashing import AsyncArgon2Hasher
from doorward.i18n import N_
from doorward.mail import MailTemplates, render_mail
from doorward.policies import BreachChecker, check_new_password
from doorward.records import Credential, CredentialKind
from doorward.settings import Settings
from doorward.tokens import CredentialSecrets, EmailTokens, Purpose, new_stamp
from doorward.web import Web

__all__ = ["ALL_KINDS", "AsyncContext"]

logger = logging.getLogger("doorward")

ALL_KINDS: tuple[CredentialKind, ...] = ("session", "remember", "api", "mfa", "trust", "access")
#: The user id in the token of a decoy mail (never a store's id: it is never looked up).
DECOY_ID = "decoy"
F = TypeVar("F")
#: set inside ``change_and_mail`` while it is one transaction of the store
_ATOMIC: ContextVar[bool] = ContextVar("doorward_change_and_mail", default=False)


class AsyncContext:
    """The services of one site (settings, store, mailer, hasher, clock, events, limiter,
    mail templates, token signers) and the shared steps of its flows."""

    def __init__(
        self,
        settings: Settings,
        store: Any,
        *,
        mailer: AsyncMailer | None = None,
        hasher: AsyncPasswordHasher | None = None,
        clock: Clock | None = None,
        events: Events | None = None,
        limiter: AsyncRateLimiter | None = None,
        templates: MailTemplates | None = None,
        breach_checker: BreachChecker | None = None,
    ) -> None:
        _check_face(store)
        self.settings = settings
        self.store = store
        self.mailer: AsyncMailer = mailer or AsyncConsoleMailer()
        if isinstance(self.mailer, AsyncConsoleMailer) and not settings.local_site:
            logger.warning(
                "doorward: mail goes to the console, not to people, while base_url is %s: "
                "give a mailer (doorward.mailers.mailer_from_url('smtp://...'))",
                settings.base_url,
            )
        self.hasher: AsyncPasswordHasher = hasher or AsyncArgon2Hasher.from_settings(settings)
        self.clock: Clock = clock or SystemClock()
        self.events = events or Events()
        self.limiter: AsyncRateLimiter = limiter or AsyncMemoryRateLimiter()
        self.templates = templates or MailTemplates()
        self.breach_checker = breach_checker
        self.tokens = EmailTokens(settings.secret_keys, self.clock)
        self.secrets = CredentialSecrets(settings.secret_keys)
        self.web = Web(settings)
        self.features: dict[str, Any] = {}

    def feature(self, kind: type[F]) -> F:
        """The enabled feature of this class; ``ConfigurationError`` when it is off."""
        for feature in self.features.values():
            if isinstance(feature, kind):
                return feature
        raise ConfigurationError(f"the {kind.__name__} feature is not enabled")

    def feature_named(self, name: str) -> Any:
        """The enabled feature of this name; ``ConfigurationError`` when it is off."""
        try:
            return self.features[name]
        except KeyError:
            raise ConfigurationError(f"the {name} feature is not enabled") from None

    # -- limits and mail ---------------------------------------------------------------------

    async def limit(self, action: str, ip: str | None) -> None:
        """Count one hit of ``action`` for this client address; ``RateLimited`` when over."""
        limit = self.settings.rate_limits.get(action)
        if limit is None or ip is None:
            return
        wait = await self.limiter.hit(f"{action}:{ip}", limit, self.clock.now())
        if wait is not None:
            self.events.emit("rate_limited", action=action, ip=ip)
            raise RateLimited(retry_after=wait)

    async def mail(
        self,
        kind: str,
        to: str,
        *,
        link: str,
        strict: bool = False,
        values: Mapping[str, str] | None = None,
        decoy: bool = False,
        locale: str | None = None,
    ) -> None:
        """Render and send; failures are logged and swallowed unless ``strict`` (FT-02) or
        inside a transactional ``change_and_mail`` (DI-02).

        The mail is in ``locale`` when given, else in the language of the request being
        answered (``doorward.i18n.current_language``), else English.

        Each address gets at most ``rate_limits["mail_per_address"]`` mails of one kind; the
        surplus is dropped silently so the caller's answer stays neutral (RL-05).
        ``decoy=True`` (an address without an account, LE-07) takes the same steps, the
        limiter hit and the rendering included, and hands the mail marked ``decoy`` to a
        mailer that declares ``accepts_decoys`` (which never delivers it); other mailers
        are not called.
        """
        limit = self.settings.rate_limits.get("mail_per_address")
        if limit is not None:
            key = f"mail:{kind}:{to.casefold()}"
            if await self.limiter.hit(key, limit, self.clock.now()) is not None:
                self.events.emit("rate_limited", action=f"mail:{kind}")
                return
        context = {"link": link, "email": to, "site_name": self.settings.display_name}
        lang = i18n.language(locale) if locale else i18n.current_language()
        mail = render_mail(
            kind,
            to=to,
            context={**context, **(values or {})},
            templates=self.templates,
            language=lang,
        )
        if decoy:
            if not getattr(self.mailer, "accepts_decoys", False):
                return
            mail = attrs.evolve(mail, decoy=True)
        try:
            await self.mailer.send(mail)
        except Exception as exc:  # any mailer fault is logged (FT-02)
            self.events.emit("mail_failed", kind=kind, error=type(exc).__name__)
            if _ATOMIC.get() and isinstance(exc, StoreUnavailable):
                raise  # the change must not commit without its mail (DI-02)
            if strict or _ATOMIC.get():
                raise MailerUnavailable from None

    @asynccontextmanager
    async def change_and_mail(self) -> AsyncIterator[None]:
        """The block in which a flow changes the store and mails about it (DI-02).

        With an ``AsyncOutboxMailer`` on this very store, and a store that has
        ``transaction()`` (the SQLAlchemy store), the block is one transaction: the change
        and the outbox row commit together or not at all. A mail that cannot be stored
        then raises out of ``mail`` (``StoreUnavailable``; ``MailerUnavailable`` for any
        other fault) and the change rolls back with it, instead of being logged and
        dropped. Otherwise (another mailer; a store without transactions, such as the
        memory and Mongo stores) the block is plain: the mail follows the change in a
        write of its own and a failure is logged (FT-02).
        """
        transaction = self._transaction()
        if transaction is None or _ATOMIC.get():
            yield
            return
        async with transaction():
            token = _ATOMIC.set(True)
            try:
                yield
            finally:
                _ATOMIC.reset(token)

    def _transaction(self) -> Any:
        """The store's ``transaction`` when mail goes to an outbox in this store; else None."""
        mailer = self.mailer
        if not isinstance(mailer, AsyncOutboxMailer) or mailer.store is not self.store:
            return None
        found = getattr(self.store, "transaction", None)
        return found if callable(found) else None

    # -- passwords and emailed tokens ------------------------------------------------------

    async def new_password_hash(
        self, password: object, email: str, *, field: str | None = None
    ) -> str:
        """Check a new password against the policy (PW-01..PW-04) and hash it.

        ``field`` renames the refused field in the error (``new_password`` on change).
        """
        try:
            plain = check_new_password(
                password, self.settings, context=(email,), breach_checker=self.breach_checker
            )
        except ValidationFailed as exc:
            if field is None:
                raise
            messages = [m for msgs in exc.fields.values() for m in msgs]
            raise ValidationFailed({field: messages}) from exc
        return await self.hasher.hash(plain)

    def link_token(self, purpose: Purpose, user: Any | None, *bound: str) -> str:
        """An emailed token for ``user``, or for nobody (``None``) at the same cost (LE-07).

        ``bound`` names the user's attributes the token is bound to (``security_stamp``,
        ``normalized_email``); for nobody, random values of the same kind are used.
        """
        if user is None:
            return self.tokens.dumps(purpose, DECOY_ID, *(new_stamp() for _ in bound))
        return self.tokens.dumps(purpose, str(user.id), *(getattr(user, b) for b in bound))

    def load_token(self, purpose: Purpose, token: object, max_age: timedelta) -> tuple[str, ...]:
        """The parts of a signed, unexpired token of this purpose (``InvalidToken`` if not)."""
        return tuple(self.tokens.loads(purpose, token, max_age=max_age))

    async def user_for_stamp_token(
        self, purpose: Purpose, token: object, max_age: timedelta
    ) -> tuple[Any, tuple[str, ...]]:
        """The user of a stamp-bound token and the token's further fingerprints (TK-06)."""
        user_id, stamp_print, *rest = self.load_token(purpose, token, max_age)  # >= 2 parts
        user = await self.store.get_user(user_id)
        if (
            user is None
            or not user.active
            or not self.tokens.matches(stamp_print, user.security_stamp)
        ):
            raise InvalidToken
        return user, tuple(rest)

    async def rotate_stamp(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """Apply ``changes`` with a new stamp in one conditional update (kills credentials)."""
        updated = await self.store.compare_and_set_stamp(
            user, user.security_stamp, {**changes, "security_stamp": new_stamp()}
        )
        if updated is None:
            raise InvalidToken(N_("The account changed meanwhile; please try again."))
        return updated

    # -- credentials ---------------------------------------------------------------------------

    def new_credential(
        self, user: Any, kind: CredentialKind, now: datetime, **fields: Any
    ) -> tuple[str, Credential]:
        """A fresh secret of ``kind`` and its record, bound to the user's current stamp."""
        token, secret_hash = self.secrets.new(kind)
        credential = Credential(
            id="c" + secrets.token_urlsafe(12),  # never a leading "-" (read as an option)
            user_id=str(user.id),
            kind=kind,
            secret_hash=secret_hash,
            stamp=user.security_stamp,
            created_at=now,
            **fields,
        )
        return token, credential

    async def live_credentials(self, user: Any, kind: CredentialKind) -> list[Credential]:
        """The user's credentials of ``kind`` that still authenticate, oldest first."""
        now = self.clock.now()
        return [
            c
            for c in await self.store.list_credentials(str(user.id), kind)
            if _rules.credential_alive(c, user, now, self.settings)
        ]

    async def forget_credentials(self, user: Any) -> None:
        """Delete the records of credentials a stamp rotation already killed.

        The rotation is what ends them (their stamp no longer matches, in the same atomic
        update as the change itself: FT-03); this is clean-up, so a failure is logged.
        """
        if not hasattr(self.store, "delete_credentials"):
            return
        try:
            await self.store.delete_credentials(str(user.id), ALL_KINDS)
            if callable(getattr(self.store, "delete_refresh_tokens", None)):
                await self.store.delete_refresh_tokens(str(user.id))
        except StoreUnavailable:
            logger.warning("doorward: could not delete dead credentials of user %s", user.id)


def _check_face(store: Any) -> None:
    """Refuse a store of the other face at construction, naming the wrapper to use."""
    probe = getattr(store, "get_user", None)
    if probe is None:
        return
    if _IS_SYNC and inspect.iscoroutinefunction(probe):
        raise TypeError(
            f"{type(store).__name__} is an async store; Auth (and Flask) needs a sync one, "
            "e.g. SQLAlchemyStore or MongoStore instead of their Async* twins"
        )
    if not _IS_SYNC and not inspect.iscoroutinefunction(probe):
        raise TypeError(
            f"{type(store).__name__} is a sync store; AsyncAuth (and Starlette) needs an "
            "async one: wrap it as doorward.threaded.AsyncThreadedStore(store)"
        )
