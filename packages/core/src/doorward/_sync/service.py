# Generated from packages/core/src/doorward/_async/service.py by scripts/unasync.py. Do not edit: edit the source.
"""``Auth``: the flows of one site, a thin facade over its enabled features.

The features (``doorward/_sync/<feature>.py``) hold the flows and endpoints; this class
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

from doorward._sync.account_center import AccountCenter
from doorward._sync.accounts import Accounts
from doorward._sync.api_tokens import ApiTokens
from doorward._sync.app_clients import AppClients
from doorward._sync.context import Context
from doorward._sync.email_change import EmailChange
from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.mfa import Mfa
from doorward._sync.oauth import OAuth
from doorward._sync.passkeys import Passkeys
from doorward._sync.passwordless import Passwordless
from doorward._sync.passwords import Passwords
from doorward._sync.profile import Profile
from doorward._sync.protocols import Mailer, PasswordHasher
from doorward._sync.ratelimit import RateLimiter
from doorward._sync.registration import Registration
from doorward._sync.roles import RoleChecks
from doorward._sync.sessions import Sessions
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

__all__ = ["BUILT_IN_FEATURES", "Auth"]

F = TypeVar("F", bound=Feature)
T = TypeVar("T")
FeatureFactory = Callable[[Context], Feature]

#: The features every site gets unless ``Settings.disabled_features`` names them.
BUILT_IN_FEATURES: tuple[type[Feature], ...] = (
    Login,
    Accounts,
    Registration,
    Passwords,
    EmailChange,
    ApiTokens,
    Sessions,
    RoleChecks,
    Profile,
    Mfa,
    Passkeys,
    OAuth,
    Passwordless,
    AppClients,
    AccountCenter,
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
    def __get__(self, owner: Auth, kind: type[Any]) -> T: ...
    def __get__(self, owner: Auth | None, kind: type[Any]) -> T | _Shared[T]:
        if owner is None:
            return self
        value: T = getattr(owner.ctx, self.name)
        return value

    def __set__(self, owner: Auth, value: T) -> None:
        setattr(owner.ctx, self.name, value)


class Auth:
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
        mailer: Mailer | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        events: Events | None = None,
        limiter: RateLimiter | None = None,
        templates: MailTemplates | None = None,
        breach_checker: BreachChecker | None = None,
        features: Sequence[FeatureFactory] = (),
    ) -> None:
        self.ctx = Context(
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

    def _enable(self, feature: Feature) -> None:
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
    def features(self) -> Mapping[str, Feature]:
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
    mailer: _Shared[Mailer] = _Shared("mailer")
    hasher: _Shared[PasswordHasher] = _Shared("hasher")
    clock: _Shared[Clock] = _Shared("clock")
    events: _Shared[Events] = _Shared("events")
    limiter: _Shared[RateLimiter] = _Shared("limiter")
    templates: _Shared[MailTemplates] = _Shared("templates")

    # -- the flows, under one name (each belongs to a feature) --------------------------------

    def register(
        self,
        email: object,
        password: object,
        *,
        ip: str | None = None,
        extra: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Any | None:
        """``Registration.register``."""
        return self.feature(Registration).register(
            email, password, ip=ip, extra=extra, fields=fields
        )

    def send_confirmation(self, email: object, *, ip: str | None = None) -> None:
        """``Registration.send_confirmation``."""
        self.feature(Registration).send_confirmation(email, ip=ip)

    def confirm_email(self, token: object, *, ip: str | None = None) -> Any:
        """``Registration.confirm_email``."""
        return self.feature(Registration).confirm_email(token, ip=ip)

    def login(
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
        """``Login.login`` (``MfaRequired`` when a second factor is asked)."""
        return self.feature(Login).login(
            email,
            password,
            remember=remember,
            ip=ip,
            user_agent=user_agent,
            replacing=replacing,
            trust_token=trust_token,
        )

    def unlock(self, token: object, *, ip: str | None = None) -> Any:
        """``Login.unlock``."""
        return self.feature(Login).unlock(token, ip=ip)

    def authenticate(
        self,
        *,
        session_token: str | None = None,
        remember_token: str | None = None,
        bearer_token: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        roles: bool = False,
    ) -> Identity | None:
        """``Login.authenticate``."""
        return self.feature(Login).authenticate(
            session_token=session_token,
            remember_token=remember_token,
            bearer_token=bearer_token,
            ip=ip,
            user_agent=user_agent,
            roles=roles,
        )

    def logout(self, identity: Identity, *, remember_token: str | None = None) -> None:
        """``Login.logout``."""
        self.feature(Login).logout(identity, remember_token=remember_token)

    def logout_everywhere(self, user: Any) -> Any:
        """``Login.logout_everywhere``."""
        return self.feature(Login).logout_everywhere(user)

    def reauthenticate(self, identity: Identity, password: object) -> Identity:
        """``Login.reauthenticate``."""
        return self.feature(Login).reauthenticate(identity, password)

    def require_fresh(self, identity: Identity) -> None:
        """``Login.require_fresh``."""
        self.feature(Login).require_fresh(identity)

    def list_sessions(self, user: Any) -> list[Credential]:
        """``Sessions.list_sessions``."""
        return self.feature(Sessions).list_sessions(user)

    def revoke_session(self, user: Any, session_id: str) -> None:
        """``Sessions.revoke_session``."""
        self.feature(Sessions).revoke_session(user, session_id)

    def forgot_password(self, email: object, *, ip: str | None = None) -> None:
        """``Passwords.forgot_password``."""
        self.feature(Passwords).forgot_password(email, ip=ip)

    def check_reset_token(self, token: object, *, ip: str | None = None) -> Any:
        """``Passwords.check_reset_token``."""
        return self.feature(Passwords).check_reset_token(token, ip=ip)

    def reset_password(
        self, token: object, new_password: object, *, ip: str | None = None
    ) -> Any:
        """``Passwords.reset_password``."""
        return self.feature(Passwords).reset_password(token, new_password, ip=ip)

    def change_password(
        self, identity: Identity, current_password: object, new_password: object
    ) -> IssuedSession:
        """``Passwords.change_password``."""
        return self.feature(Passwords).change_password(
            identity, current_password, new_password
        )

    def set_password(self, user: Any, new_password: object) -> Any:
        """``Passwords.set_password``."""
        return self.feature(Passwords).set_password(user, new_password)

    def request_email_change(
        self, identity: Identity, password: object, new_email: object
    ) -> None:
        """``EmailChange.request_email_change``."""
        self.feature(EmailChange).request_email_change(identity, password, new_email)

    def confirm_email_change(self, token: object, *, ip: str | None = None) -> Any:
        """``EmailChange.confirm_email_change``."""
        return self.feature(EmailChange).confirm_email_change(token, ip=ip)

    def issue_api_token(
        self, user: Any, name: object, *, expires_in: timedelta | None = None
    ) -> tuple[str, Credential]:
        """``ApiTokens.issue_api_token``."""
        return self.feature(ApiTokens).issue_api_token(user, name, expires_in=expires_in)

    def list_api_tokens(self, user: Any) -> list[Credential]:
        """``ApiTokens.list_api_tokens``."""
        return self.feature(ApiTokens).list_api_tokens(user)

    def revoke_api_token(self, user: Any, token_id: str) -> None:
        """``ApiTokens.revoke_api_token``."""
        self.feature(ApiTokens).revoke_api_token(user, token_id)

    def update_profile(self, user: Any, changes: Mapping[str, Any]) -> Any:
        """``Profile.update_profile``."""
        return self.feature(Profile).update_profile(user, changes)

    def create_user(
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
        """``Accounts.create_user``."""
        return self.feature(Accounts).create_user(
            email,
            password,
            confirmed=confirmed,
            active=active,
            roles=roles,
            extra=extra,
            password_hash=password_hash,
        )

    def import_users(self, users: Iterable[ImportedUser]) -> ImportReport:
        """``Accounts.import_users``."""
        return self.feature(Accounts).import_users(users)

    def get_user_by_email(self, email: object) -> Any | None:
        """``Accounts.get_user_by_email``."""
        return self.feature(Accounts).get_user_by_email(email)

    def set_active(self, user: Any, active: bool) -> Any:
        """``Accounts.set_active``."""
        return self.feature(Accounts).set_active(user, active)

    def delete_user(self, user: Any) -> None:
        """``Accounts.delete_user``."""
        self.feature(Accounts).delete_user(user)

    def reset_mfa(self, user: Any) -> int:
        """``Mfa.reset_factors``: remove every second factor (a notice is mailed)."""
        return self.feature(Mfa).reset_factors(user)

    def save_role(self, role: Role) -> Role:
        """``RoleChecks.save_role``."""
        return self.feature(RoleChecks).save_role(role)

    def list_roles(self) -> list[Role]:
        """``RoleChecks.list_roles``."""
        return self.feature(RoleChecks).list_roles()

    def delete_role(self, name: str) -> bool:
        """``RoleChecks.delete_role``."""
        return self.feature(RoleChecks).delete_role(name)

    def add_role(self, user: Any, name: str) -> bool:
        """``RoleChecks.add_role``."""
        return self.feature(RoleChecks).add_role(user, name)

    def remove_role(self, user: Any, name: str) -> bool:
        """``RoleChecks.remove_role``."""
        return self.feature(RoleChecks).remove_role(user, name)

    def roles_of(self, user: Any) -> frozenset[str]:
        """``RoleChecks.roles_of``."""
        return self.feature(RoleChecks).roles_of(user)

    def permissions_of(self, user: Any) -> frozenset[str]:
        """``RoleChecks.permissions_of``."""
        return self.feature(RoleChecks).permissions_of(user)

    def has_roles(self, user: Any, *names: str) -> bool:
        """``RoleChecks.has_roles``."""
        return self.feature(RoleChecks).has_roles(user, *names)

    def has_any_role(self, user: Any, *names: str) -> bool:
        """``RoleChecks.has_any_role``."""
        return self.feature(RoleChecks).has_any_role(user, *names)

    def has_permissions(self, user: Any, *names: str) -> bool:
        """``RoleChecks.has_permissions``."""
        return self.feature(RoleChecks).has_permissions(user, *names)
