"""``AsyncAuth``: the flows of one site, a thin facade over its enabled features.

The features (``doorward/_async/<feature>.py``) hold the flows and endpoints; this class
builds the shared context, composes the features the settings enable, checks that the
store has what each needs, and offers the flows under one name for application code.
``doorward/_sync/service.py`` (``Auth``) is generated from this file by
``scripts/unasync.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from importlib import resources
from typing import Any, Generic, TypeVar, overload

from doorward._async.account_center import AsyncAccountCenter
from doorward._async.accounts import AsyncAccounts
from doorward._async.api_tokens import AsyncApiTokens
from doorward._async.app_clients import AsyncAppClients
from doorward._async.context import AsyncContext
from doorward._async.email_change import AsyncEmailChange
from doorward._async.feature import AsyncFeature
from doorward._async.login import AsyncLogin
from doorward._async.mfa import AsyncMfa
from doorward._async.oauth import AsyncOAuth
from doorward._async.passkeys import AsyncPasskeys
from doorward._async.passwordless import AsyncPasswordless
from doorward._async.passwords import AsyncPasswords
from doorward._async.profile import AsyncProfile
from doorward._async.protocols import AsyncMailer, AsyncPasswordHasher
from doorward._async.ratelimit import AsyncRateLimiter
from doorward._async.registration import AsyncRegistration
from doorward._async.roles import AsyncRoleChecks
from doorward._async.sessions import AsyncSessions
from doorward._rules import Identity, IssuedSession
from doorward.capabilities import check_capabilities, missing_methods
from doorward.clock import Clock
from doorward.events import Events
from doorward.exceptions import ConfigurationError, StoreUnavailable
from doorward.importing import ImportedUser, ImportReport
from doorward.mail import MailTemplates
from doorward.policies import BreachChecker
from doorward.records import Credential, Role
from doorward.routing import Route
from doorward.settings import Settings

__all__ = ["BUILT_IN_FEATURES", "AsyncAuth"]

F = TypeVar("F", bound=AsyncFeature)
T = TypeVar("T")
FeatureFactory = Callable[[AsyncContext], AsyncFeature]

#: The features every site gets unless ``Settings.disabled_features`` names them.
BUILT_IN_FEATURES: tuple[type[AsyncFeature], ...] = (
    AsyncLogin,
    AsyncAccounts,
    AsyncRegistration,
    AsyncPasswords,
    AsyncEmailChange,
    AsyncApiTokens,
    AsyncSessions,
    AsyncRoleChecks,
    AsyncProfile,
    AsyncMfa,
    AsyncPasskeys,
    AsyncOAuth,
    AsyncPasswordless,
    AsyncAppClients,
    AsyncAccountCenter,
)
#: Features the others build on: they cannot be switched off.
ALWAYS_ON = frozenset({"login", "accounts"})
#: Built-in features left out, rather than refused, on a store without their capabilities
#: (a store written before them keeps working; ``auth.enabled("mfa")`` tells).
WHEN_SUPPORTED = frozenset({"mfa", "passkeys"})


class _Shared(Generic[T]):
    """A service of the context, read and replaced through the facade (``auth.mailer``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, owner: None, kind: type[Any]) -> _Shared[T]: ...
    @overload
    def __get__(self, owner: AsyncAuth, kind: type[Any]) -> T: ...
    def __get__(self, owner: AsyncAuth | None, kind: type[Any]) -> T | _Shared[T]:
        if owner is None:
            return self
        value: T = getattr(owner.ctx, self.name)
        return value

    def __set__(self, owner: AsyncAuth, value: T) -> None:
        setattr(owner.ctx, self.name, value)


class AsyncAuth:
    """The flows of one site: registration, login, sessions, passwords, email, tokens, roles.

    Build one per application at start-up and share it; it holds no per-user state, so
    any number of processes over one store behave as one. ``features`` adds features
    written elsewhere (classes, or factories taking the context) after the built-in ones.
    """

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
        features: Sequence[FeatureFactory] = (),
    ) -> None:
        self.ctx = AsyncContext(
            settings,
            store,
            mailer=mailer,
            hasher=hasher,
            clock=clock,
            events=events,
            limiter=limiter,
            templates=templates,
            breach_checker=breach_checker,
        )
        disabled = set(settings.disabled_features)
        if disabled & ALWAYS_ON:
            raise ConfigurationError(
                f"these features cannot be off: {sorted(disabled & ALWAYS_ON)}"
            )
        factories: list[FeatureFactory] = [*BUILT_IN_FEATURES, *features]
        made = [make(self.ctx) for make in factories]
        unknown = disabled - {feature.name for feature in made}
        if unknown:
            raise ConfigurationError(f"unknown features in disabled_features: {sorted(unknown)}")
        for feature in made:
            if feature.name in disabled or not feature.wanted():
                continue
            if feature.name in WHEN_SUPPORTED and any(
                missing_methods(self.ctx.store, capability) for capability in feature.capabilities
            ):
                continue
            self._enable(feature)
        self._routes = self._check_routes()
        self._check_required_fields()

    def _check_required_fields(self) -> None:
        """A NOT NULL app column that nothing fills stops start-up, naming it (DI-01)."""
        report = getattr(self.ctx.store, "required_fields", None)
        if not callable(report) or inspect.iscoroutinefunction(report):
            return
        filled = {field.name for field in self.settings.signup_fields if field.required}
        try:
            required = set(report())
        except StoreUnavailable:
            return
        missing = sorted(required - filled)
        if missing:
            raise ConfigurationError(
                f"the user model requires {', '.join(missing)} (NOT NULL, no default) but "
                "doorward does not fill it: give the column a default, make it nullable, or "
                "declare it in Settings(signup_fields=[Field(name, required=True)])"
            )

    def _enable(self, feature: AsyncFeature) -> None:
        ctx = self.ctx
        if not feature.name or feature.name in ctx.features:
            raise ConfigurationError(f"feature {type(feature).__name__} needs a unique name")
        check_capabilities(ctx.store, feature.name, feature.capabilities)
        folder = feature.mail_folder or resources.files("doorward").joinpath("templates/mail")
        for kind in feature.mails:
            ctx.templates.add_kind(kind, folder, feature.mail_placeholders)
        ctx.events.declare(feature.events)
        ctx.web.notices.update(feature.notices)
        ctx.features[feature.name] = feature

    def _check_routes(self) -> tuple[Route, ...]:
        routes = tuple(
            route for feature in self.ctx.features.values() for route in feature.routes()
        )
        seen: dict[tuple[str, str], str] = {}
        names: dict[str, str] = {}
        for route in routes:
            key = (route.method, route.path)
            if key in seen or names.get(route.name, route.feature) != route.feature:
                raise ConfigurationError(
                    f"{route.method} {route.path} ({route.feature}.{route.name}) clashes with "
                    f"{seen.get(key) or names.get(route.name)}"
                )
            seen[key] = f"{route.feature}.{route.name}"
            names[route.name] = route.feature
        return routes

    # -- composition -------------------------------------------------------------------------

    def routes(self) -> Iterator[Route]:
        """The endpoints of the enabled features."""
        return iter(self._routes)

    @property
    def features(self) -> Mapping[str, AsyncFeature]:
        """The enabled features by name."""
        return self.ctx.features

    def feature(self, kind: type[F]) -> F:
        """The enabled feature of this class (``ConfigurationError`` when it is off)."""
        return self.ctx.feature(kind)

    def enabled(self, name: str) -> bool:
        """Whether the feature of this name is on."""
        return name in self.ctx.features

    settings: _Shared[Settings] = _Shared("settings")
    store: _Shared[Any] = _Shared("store")
    mailer: _Shared[AsyncMailer] = _Shared("mailer")
    hasher: _Shared[AsyncPasswordHasher] = _Shared("hasher")
    clock: _Shared[Clock] = _Shared("clock")
    events: _Shared[Events] = _Shared("events")
    limiter: _Shared[AsyncRateLimiter] = _Shared("limiter")
    templates: _Shared[MailTemplates] = _Shared("templates")

    # -- the flows, under one name (each belongs to a feature) --------------------------------

    async def register(
        self,
        email: object,
        password: object,
        *,
        ip: str | None = None,
        extra: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Any | None:
        """``AsyncRegistration.register``."""
        return await self.feature(AsyncRegistration).register(
            email, password, ip=ip, extra=extra, fields=fields
        )

    async def send_confirmation(self, email: object, *, ip: str | None = None) -> None:
        """``AsyncRegistration.send_confirmation``."""
        await self.feature(AsyncRegistration).send_confirmation(email, ip=ip)

    async def confirm_email(self, token: object, *, ip: str | None = None) -> Any:
        """``AsyncRegistration.confirm_email``."""
        return await self.feature(AsyncRegistration).confirm_email(token, ip=ip)

    async def login(
        self,
        email: object,
        password: object,
        *,
        remember: bool = False,
        ip: str | None = None,
        user_agent: str | None = None,
        replacing: Identity | None = None,
        trust_token: str | None = None,
    ) -> tuple[Any, IssuedSession]:
        """``AsyncLogin.login`` (``MfaRequired`` when a second factor is asked)."""
        return await self.feature(AsyncLogin).login(
            email,
            password,
            remember=remember,
            ip=ip,
            user_agent=user_agent,
            replacing=replacing,
            trust_token=trust_token,
        )

    async def unlock(self, token: object, *, ip: str | None = None) -> Any:
        """``AsyncLogin.unlock``."""
        return await self.feature(AsyncLogin).unlock(token, ip=ip)

    async def authenticate(
        self,
        *,
        session_token: str | None = None,
        remember_token: str | None = None,
        bearer_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        roles: bool = False,
    ) -> Identity | None:
        """``AsyncLogin.authenticate``."""
        return await self.feature(AsyncLogin).authenticate(
            session_token=session_token,
            remember_token=remember_token,
            bearer_token=bearer_token,
            ip=ip,
            user_agent=user_agent,
            roles=roles,
        )

    async def logout(self, identity: Identity, *, remember_token: str | None = None) -> None:
        """``AsyncLogin.logout``."""
        await self.feature(AsyncLogin).logout(identity, remember_token=remember_token)

    async def logout_everywhere(self, user: Any) -> Any:
        """``AsyncLogin.logout_everywhere``."""
        return await self.feature(AsyncLogin).logout_everywhere(user)

    async def reauthenticate(self, identity: Identity, password: object) -> Identity:
        """``AsyncLogin.reauthenticate``."""
        return await self.feature(AsyncLogin).reauthenticate(identity, password)

    def require_fresh(self, identity: Identity) -> None:
        """``AsyncLogin.require_fresh``."""
        self.feature(AsyncLogin).require_fresh(identity)

    async def list_sessions(self, user: Any) -> list[Credential]:
        """``AsyncSessions.list_sessions``."""
        return await self.feature(AsyncSessions).list_sessions(user)

    async def revoke_session(self, user: Any, session_id: str) -> None:
        """``AsyncSessions.revoke_session``."""
        await self.feature(AsyncSessions).revoke_session(user, session_id)

    async def forgot_password(self, email: object, *, ip: str | None = None) -> None:
        """``AsyncPasswords.forgot_password``."""
        await self.feature(AsyncPasswords).forgot_password(email, ip=ip)

    async def check_reset_token(self, token: object, *, ip: str | None = None) -> Any:
        """``AsyncPasswords.check_reset_token``."""
        return await self.feature(AsyncPasswords).check_reset_token(token, ip=ip)

    async def reset_password(
        self, token: object, new_password: object, *, ip: str | None = None
    ) -> Any:
        """``AsyncPasswords.reset_password``."""
        return await self.feature(AsyncPasswords).reset_password(token, new_password, ip=ip)

    async def change_password(
        self, identity: Identity, current_password: object, new_password: object
    ) -> IssuedSession:
        """``AsyncPasswords.change_password``."""
        return await self.feature(AsyncPasswords).change_password(
            identity, current_password, new_password
        )

    async def set_password(self, user: Any, new_password: object) -> Any:
        """``AsyncPasswords.set_password``."""
        return await self.feature(AsyncPasswords).set_password(user, new_password)

    async def request_email_change(
        self, identity: Identity, password: object, new_email: object
    ) -> None:
        """``AsyncEmailChange.request_email_change``."""
        await self.feature(AsyncEmailChange).request_email_change(identity, password, new_email)

    async def confirm_email_change(self, token: object, *, ip: str | None = None) -> Any:
        """``AsyncEmailChange.confirm_email_change``."""
        return await self.feature(AsyncEmailChange).confirm_email_change(token, ip=ip)

    async def issue_api_token(
        self, user: Any, name: object, *, expires_in: timedelta | None = None
    ) -> tuple[str, Credential]:
        """``AsyncApiTokens.issue_api_token``."""
        return await self.feature(AsyncApiTokens).issue_api_token(user, name, expires_in=expires_in)

    async def list_api_tokens(self, user: Any) -> list[Credential]:
        """``AsyncApiTokens.list_api_tokens``."""
        return await self.feature(AsyncApiTokens).list_api_tokens(user)

    async def revoke_api_token(self, user: Any, token_id: str) -> None:
        """``AsyncApiTokens.revoke_api_token``."""
        await self.feature(AsyncApiTokens).revoke_api_token(user, token_id)

    async def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """``AsyncProfile.update_profile``."""
        return await self.feature(AsyncProfile).update_profile(user, changes)

    async def create_user(
        self,
        email: object,
        password: object | None = None,
        *,
        confirmed: bool = False,
        active: bool = True,
        roles: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
        password_hash: str | None = None,
    ) -> Any:
        """``AsyncAccounts.create_user``."""
        return await self.feature(AsyncAccounts).create_user(
            email,
            password,
            confirmed=confirmed,
            active=active,
            roles=roles,
            extra=extra,
            password_hash=password_hash,
        )

    async def import_users(self, users: Iterable[ImportedUser]) -> ImportReport:
        """``AsyncAccounts.import_users``."""
        return await self.feature(AsyncAccounts).import_users(users)

    async def get_user_by_email(self, email: object) -> Any | None:
        """``AsyncAccounts.get_user_by_email``."""
        return await self.feature(AsyncAccounts).get_user_by_email(email)

    async def set_active(self, user: Any, active: bool) -> Any:
        """``AsyncAccounts.set_active``."""
        return await self.feature(AsyncAccounts).set_active(user, active)

    async def delete_user(self, user: Any) -> None:
        """``AsyncAccounts.delete_user``."""
        await self.feature(AsyncAccounts).delete_user(user)

    async def reset_mfa(self, user: Any) -> int:
        """``AsyncMfa.reset_factors``: remove every second factor (a notice is mailed)."""
        return await self.feature(AsyncMfa).reset_factors(user)

    async def save_role(self, role: Role) -> Role:
        """``AsyncRoleChecks.save_role``."""
        return await self.feature(AsyncRoleChecks).save_role(role)

    async def list_roles(self) -> list[Role]:
        """``AsyncRoleChecks.list_roles``."""
        return await self.feature(AsyncRoleChecks).list_roles()

    async def delete_role(self, name: str) -> bool:
        """``AsyncRoleChecks.delete_role``."""
        return await self.feature(AsyncRoleChecks).delete_role(name)

    async def add_role(self, user: Any, name: str) -> bool:
        """``AsyncRoleChecks.add_role``."""
        return await self.feature(AsyncRoleChecks).add_role(user, name)

    async def remove_role(self, user: Any, name: str) -> bool:
        """``AsyncRoleChecks.remove_role``."""
        return await self.feature(AsyncRoleChecks).remove_role(user, name)

    async def roles_of(self, user: Any) -> frozenset[str]:
        """``AsyncRoleChecks.roles_of``."""
        return await self.feature(AsyncRoleChecks).roles_of(user)

    async def permissions_of(self, user: Any) -> frozenset[str]:
        """``AsyncRoleChecks.permissions_of``."""
        return await self.feature(AsyncRoleChecks).permissions_of(user)

    async def has_roles(self, user: Any, *names: str) -> bool:
        """``AsyncRoleChecks.has_roles``."""
        return await self.feature(AsyncRoleChecks).has_roles(user, *names)

    async def has_any_role(self, user: Any, *names: str) -> bool:
        """``AsyncRoleChecks.has_any_role``."""
        return await self.feature(AsyncRoleChecks).has_any_role(user, *names)

    async def has_permissions(self, user: Any, *names: str) -> bool:
        """``AsyncRoleChecks.has_permissions``."""
        return await self.feature(AsyncRoleChecks).has_permissions(user, *names)
