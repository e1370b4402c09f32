# Generated from packages/core/src/doorward/_async/oauth.py by scripts/unasync.py. Do not edit: edit the source.
"""Sign in with OAuth 2.0 / OpenID Connect providers, with safe linking (OA-01..OA-04).

Off unless ``Settings.oauth_providers`` names at least one provider: then there are no
routes and the store needs no ``SocialIdentities``. The browser's round trip keeps its
``state``, PKCE verifier, ``nonce`` and ``next`` in a signed, short-lived cookie of this
site (``SameSite=Lax``, so it comes back on the provider's redirect); the callback checks
each (``_sync/oauth_client.py``) and then signs in the linked account, makes a confirmed
account for a verified email nobody has, or, when the address belongs to an account the
provider may not join on its own word, asks the owner to log in and link (OA-02).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Protocol

import attrs

from doorward._sync.context import Context
from doorward._sync.feature import Feature
from doorward._sync.login import Login
from doorward._sync.oauth_client import ProviderClient, require_oauth_libraries
from doorward._sync.protocols import Credentials, Users
from doorward.exceptions import (
    EmailTaken,
    IdentityTaken,
    LastSignInMethod,
    NotFound,
    OAuthFailed,
)
from doorward.http import HttpResponse
from doorward.i18n import N_
from doorward.oauth import (
    LINK_REQUIRED,
    NO_SIGN_UP,
    NO_VERIFIED_EMAIL,
    OAuthProvider,
    ProviderAccount,
    Refusal,
    StateCookie,
)
from doorward.policies import normalize_email
from doorward.records import NewUser, SocialIdentity
from doorward.routing import endpoint
from doorward.tokens import new_stamp
from doorward.web import Call

__all__ = ["OAuth", "SocialIdentities"]

logger = logging.getLogger("doorward.oauth")


class SocialIdentities(Protocol):
    """The social identities capability: provider accounts linked to users (OAuth, OIDC).

    ``doorward.testing.SocialIdentitiesContract`` checks every rule below.
    """

    def add_social_identity(self, identity: SocialIdentity) -> None:
        """Store the link. Raise ``IdentityTaken`` when ``(provider, subject)`` is linked
        already (to this user or another), writing nothing; ``NotFound`` when the user is
        not stored. The rule holds under concurrency (a unique index, never read first).
        """

    def get_social_identity(self, provider: str, subject: str) -> SocialIdentity | None:
        """The link of this provider account, or ``None``."""

    def list_social_identities(self, user_id: str) -> list[SocialIdentity]:
        """The user's links, oldest first."""

    def delete_social_identity(self, identity_id: str, user_id: str) -> bool:
        """Delete one link of this user; ``True`` only to the call that removed it."""


class OAuth(Feature):
    """``/oauth/...``: sign in, sign up and link with providers; list and unlink."""

    name = "oauth"
    capabilities = (Users, Credentials, SocialIdentities)
    mails = ("oauth_linked", "oauth_unlinked")
    mail_placeholders = frozenset({"provider"})
    events = frozenset({"oauth_failed", "oauth_linked", "oauth_unlinked", "oauth_signed_up"})
    notices = {  # noqa: RUF012 (read-only class data)
        "oauth_linked": N_("The account of the provider is linked: you can sign in with it."),
        "oauth_unlinked": N_("The account of the provider is unlinked."),
    }

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        providers = self.settings.oauth_providers
        self.providers: dict[str, OAuthProvider] = {p.name: p for p in providers}
        self.clients: dict[str, ProviderClient] = {}
        if not providers:
            return
        require_oauth_libraries()
        now = ctx.clock.now
        self._state = StateCookie(self.settings.secret_keys, now, self.settings.oauth_state_max_age)
        self.cookie_name = self.settings.cookie_name(self.settings.oauth_cookie)
        for provider in providers:
            redirect_uri = self.settings.url(f"/oauth/{provider.name}/callback")  # CR-06
            self.clients[provider.name] = ProviderClient(
                provider, redirect_uri, lambda: int(now().timestamp())
            )
        self.web.page_context["oauth_providers"] = [
            {"name": p.name, "label": p.display_name} for p in providers
        ]

    def wanted(self) -> bool:
        """On only when providers are configured."""
        return bool(self.providers)

    def _label(self, name: str) -> str:
        provider = self.providers.get(name)
        return provider.display_name if provider is not None else name

    def _provider(self, name: str) -> OAuthProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise NotFound
        return provider

    # -- flows -------------------------------------------------------------------------------

    def start(
        self, provider_name: str, *, next_url: str, link_user_id: str | None = None
    ) -> tuple[str, str]:
        """``(authorization URL, state cookie value)`` for one round trip to the provider."""
        self._provider(provider_name)
        state, verifier, nonce = (secrets.token_urlsafe(32) for _ in range(3))
        try:
            url = self.clients[provider_name].authorization_url(
                state=state, verifier=verifier, nonce=nonce
            )
        except Exception as exc:  # noqa: BLE001 (any provider fault is logged, neutral: OA-03)
            raise self._failed(provider_name, exc) from None
        cookie = self._state.sign(
            {
                "p": provider_name,
                "s": state,
                "v": verifier,
                "n": nonce,
                "next": next_url,
                "link": link_user_id,
            }
        )
        return url, str(cookie)

    def verify_callback(
        self, provider_name: str, query: dict[str, str], cookie: str | None
    ) -> tuple[ProviderAccount, dict[str, Any]]:
        """Who the provider says signed in, after every check of OA-01; and the round trip."""
        self._provider(provider_name)
        try:
            code, kept = self._state.check(provider_name, query, cookie)
            account = self.clients[provider_name].account(
                code=code, verifier=str(kept["v"]), nonce=str(kept["n"])
            )
        except Exception as exc:  # noqa: BLE001 (any provider fault is logged, neutral: OA-03)
            raise self._failed(provider_name, exc) from None
        return account, kept

    def _failed(self, provider_name: str, exc: Exception) -> OAuthFailed:
        """Log the cause; the user sees one neutral message (OA-03)."""
        cause = exc.message if isinstance(exc, OAuthFailed) else f"{type(exc).__name__}: {exc}"
        logger.warning("doorward: sign-in with %s failed: %s", provider_name, cause)
        self.ctx.events.emit("oauth_failed", provider=provider_name, reason=cause)
        return OAuthFailed()

    def resolve(self, provider_name: str, account: ProviderAccount) -> Any:
        """The user this provider account signs in as, creating or joining one by OA-02.

        Accounts are made only while the registration feature is on (invite-only sites
        switch it off, and then a provider account must be linked by its owner).
        Raises ``Refusal`` with the page's message when the owner must log in and link
        (``link_required``) or nothing can be done.
        """
        provider = self._provider(provider_name)
        linked = self.store.get_social_identity(provider_name, account.subject)
        if linked is not None:
            user = self.store.get_user(linked.user_id)
            if user is None or not user.active:
                raise self._failed(provider_name, OAuthFailed("linked account inactive"))
            return user
        if account.email is None or not account.email_verified:
            raise Refusal(NO_VERIFIED_EMAIL.format(provider=provider.display_name), status=400)
        address, key = normalize_email(account.email, max_length=self.settings.email_max_length)
        existing = self.store.get_user_by_email(key)
        if existing is None:
            made = self._first_sign_in(provider, account, address, key)
            if made is not None:
                return made
            existing = self.store.get_user_by_email(key)
            if existing is None:
                raise self._failed(provider_name, OAuthFailed("email race"))
        if not provider.trusted_for_email:
            raise Refusal(LINK_REQUIRED.format(provider=provider.display_name), link=True)
        if existing.confirmed_at is None:
            now = self.ctx.clock.now()
            existing = self.store.update_user(existing, {"confirmed_at": now})
        self.link(existing, provider_name, account)
        return existing

    def _first_sign_in(
        self, provider: OAuthProvider, account: ProviderAccount, address: str, key: str
    ) -> Any | None:
        """The new account, or the one a parallel first sign-in made; ``None`` when the
        address was taken meanwhile by an account without this link."""
        if "registration" not in self.ctx.features:
            raise Refusal(NO_SIGN_UP.format(provider=provider.display_name), status=400)
        try:
            return self._sign_up(provider.name, account, address, key)
        except EmailTaken:  # a parallel first sign-in may have made the account
            linked = self.store.get_social_identity(provider.name, account.subject)
            return self.store.get_user(linked.user_id) if linked else None

    def _sign_up(
        self, provider_name: str, account: ProviderAccount, address: str, key: str
    ) -> Any:
        now = self.ctx.clock.now()
        new = NewUser(
            email=address,
            normalized_email=key,
            password_hash=None,
            security_stamp=new_stamp(),
            created_at=now,
            confirmed_at=now,
        )
        user = self.store.create_user(new)
        try:
            self.store.add_social_identity(self._identity(user, provider_name, account))
        except IdentityTaken:
            self.store.delete_user(user)  # a parallel first sign-in won
            winner = self.store.get_social_identity(provider_name, account.subject)
            found = self.store.get_user(winner.user_id) if winner is not None else None
            if found is None:
                raise self._failed(provider_name, OAuthFailed("identity race")) from None
            return found
        self.ctx.events.emit("oauth_signed_up", user_id=str(user.id), provider=provider_name)
        return user

    def _identity(self, user: Any, provider_name: str, account: ProviderAccount) -> SocialIdentity:
        return SocialIdentity(
            id="o" + secrets.token_urlsafe(12),
            provider=provider_name,
            subject=account.subject,
            user_id=str(user.id),
            email=account.email,
            email_verified=account.email_verified,
            linked_at=self.ctx.clock.now(),
        )

    def link(self, user: Any, provider_name: str, account: ProviderAccount) -> None:
        """Link the provider account to ``user`` and mail the owner a notice."""
        linked = self.store.get_social_identity(provider_name, account.subject)
        if linked is not None:
            if linked.user_id == str(user.id):
                return
            raise IdentityTaken
        self.store.add_social_identity(self._identity(user, provider_name, account))
        self.ctx.events.emit("oauth_linked", user_id=str(user.id), provider=provider_name)
        self._notice("oauth_linked", user, provider_name)

    def identities(self, user: Any) -> list[SocialIdentity]:
        """The user's linked provider accounts, oldest first."""
        found: list[SocialIdentity] = self.store.list_social_identities(str(user.id))
        return found

    def unlink(self, user: Any, identity_id: str) -> None:
        """Unlink one provider account; never the last way in (OA-04)."""
        linked = self.identities(user)
        target = next((i for i in linked if i.id == identity_id), None)
        if target is None:
            raise NotFound
        if user.password_hash is None and len(linked) <= 1:
            raise LastSignInMethod
        if not self.store.delete_social_identity(identity_id, str(user.id)):
            raise NotFound
        if user.password_hash is None and not self.identities(user):
            # a parallel unlink took the other one: put this one back, refuse (OA-04)
            self.store.add_social_identity(target)
            raise LastSignInMethod
        self.ctx.events.emit("oauth_unlinked", user_id=str(user.id), provider=target.provider)
        self._notice("oauth_unlinked", user, target.provider)

    def _notice(self, kind: str, user: Any, provider_name: str) -> None:
        label = self._label(provider_name)
        self.ctx.mail(
            kind, user.email, link=self.settings.url("/oauth/accounts"), values={"provider": label}
        )

    # -- endpoints -------------------------------------------------------------------------

    def _to_provider(self, call: Call, url: str, cookie: str) -> HttpResponse:
        response = (
            HttpResponse(json={"authorization_url": url})
            if call.as_json
            else HttpResponse(status=303, redirect=url)
        )
        max_age = int(self.settings.oauth_state_max_age.total_seconds())
        response.cookies.append(self.web.cookie(self.cookie_name, cookie, max_age))
        return response

    @endpoint("GET", "/oauth/{provider}/login")
    def oauth_login(self, call: Call) -> HttpResponse:
        """303 to the provider; the safe ``next`` rides in the state cookie (OA-03)."""
        target = self.web.next_target(call, self.settings.login_redirect)
        url, cookie = self.start(call.params["provider"], next_url=target)
        return self._to_provider(call, url, cookie)

    @endpoint("POST", "/oauth/{provider}/link", access="session")
    def oauth_link(self, call: Call) -> HttpResponse:
        """Link while signed in (fresh session): 303 to the provider."""
        self.ctx.feature(Login).require_fresh(call.current)
        url, cookie = self.start(
            call.params["provider"],
            next_url=self.settings.url_prefix + "/oauth/accounts?notice=oauth_linked",
            link_user_id=call.current.user_id,
        )
        return self._to_provider(call, url, cookie)

    @endpoint("GET", "/oauth/{provider}/callback")
    def oauth_callback(self, call: Call) -> HttpResponse:
        """Back from the provider: sign in, sign up, link, or explain how to link."""
        name = call.params["provider"]
        try:
            account, kept = self.verify_callback(
                name, dict(call.request.query), call.request.cookies.get(self.cookie_name)
            )
            if kept.get("link") is not None:
                response = self._finish_link(call, name, account, str(kept["link"]))
            else:
                user = self.resolve(name, account)
                trusted = account.multi_factor and self._provider(name).trust_mfa
                response = self._sign_in(
                    call, user, str(kept.get("next") or ""), second_factor_done=trusted
                )
        except Refusal as refusal:
            response = self._refused(call, refusal)
        except OAuthFailed as exc:
            response = self._refused(call, Refusal(exc.message, status=400))
        except IdentityTaken as exc:
            response = self._refused(call, Refusal(exc.message, status=409))
        response.cookies.append(self.web.cookie(self.cookie_name, None))
        return response

    def _finish_link(
        self, call: Call, name: str, account: ProviderAccount, user_id: str
    ) -> HttpResponse:
        identity = call.identity
        if identity is None or identity.via != "session" or identity.user_id != user_id:
            raise self._failed(name, OAuthFailed("link finished by another session"))
        self.link(identity.user, name, account)
        if call.as_json:
            return HttpResponse(json={"linked": name})
        return self.web.redirect("/oauth/accounts?notice=oauth_linked")

    def _sign_in(
        self, call: Call, user: Any, next_url: str, *, second_factor_done: bool
    ) -> HttpResponse:
        """The login feature's sign-in: the second factor when the account has one (MF-08),
        unless the provider checked one and is trusted to say so (``trust_mfa``)."""
        login = self.ctx.feature(Login)
        return login.sign_in(
            attrs.evolve(call, fields={**call.fields, "next": next_url}),
            user,
            factors_checked=second_factor_done,
        )

    def _refused(self, call: Call, refusal: Refusal) -> HttpResponse:
        code = "link_required" if refusal.link else "oauth_failed"
        if call.as_json:
            body = {"error": {"code": code, "message": refusal.message}}
            return HttpResponse(status=refusal.status, json=body)
        return self.web.page(
            call.request,
            "doorward/oauth_refused.html",
            status=refusal.status,
            message=refusal.message,
            link_required=refusal.link,
        )

    @endpoint("GET", "/oauth/accounts", access="session")
    def oauth_accounts(self, call: Call) -> HttpResponse:
        """The user's linked provider accounts, and the providers they may link."""
        linked = [
            {
                "id": i.id,
                "provider": i.provider,
                "label": self._label(i.provider),
                "email": i.email,
                "linked_at": i.linked_at.isoformat(),
            }
            for i in self.identities(call.current.user)
        ]
        providers = [{"name": p.name, "label": p.display_name} for p in self.providers.values()]
        body: dict[str, Any] = {
            "accounts": linked,
            "providers": providers,
            "has_password": call.current.user.password_hash is not None,
        }
        if call.as_json:
            return HttpResponse(json=body)
        return self.web.page(call.request, "doorward/oauth_accounts.html", **body)

    @endpoint("DELETE", "/oauth/accounts/{identity_id}", access="session")
    @endpoint("POST", "/oauth/accounts/{identity_id}/unlink", access="session")
    def oauth_unlink(self, call: Call) -> HttpResponse:
        """Unlink one provider account (fresh session; never the last way in: OA-04)."""
        self.ctx.feature(Login).require_fresh(call.current)
        self.unlink(call.current.user, call.params["identity_id"])
        if call.as_json:
            return HttpResponse(status=204)
        return self.web.redirect("/oauth/accounts?notice=oauth_unlinked")
