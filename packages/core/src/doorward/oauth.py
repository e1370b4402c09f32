"""OAuth 2.0 / OpenID Connect providers: the records ``Settings.oauth_providers`` holds.

Pure data and decisions (no I/O, no Authlib): the provider record, the presets for
Google, Microsoft Entra, GitHub and GitLab, and how a provider's answer becomes the
``ProviderAccount`` the sign-in flow decides on. The flows are in ``doorward/_async/oauth.py``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from doorward.exceptions import ConfigurationError, OAuthFailed

__all__ = ["PRESETS", "OAuthProvider", "Preset", "ProviderAccount", "Refusal", "StateCookie"]

LINK_REQUIRED = (
    "An account with this email address exists already. Log in to it, then link {provider} "
    "from your linked accounts page."
)
NO_VERIFIED_EMAIL = (
    "{provider} did not confirm an email address for you, so no account was made. "
    "Create an account with a password instead, then link {provider}."
)
NO_SIGN_UP = (
    "No account is linked to this {provider} account, and new accounts are made by invitation "
    "only. Log in to your account, then link {provider}."
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@attrs.frozen(kw_only=True)
class Preset:
    """What doorward knows about a well-known provider.

    ``issuer`` (with ``{tenant}`` for Entra) is an OpenID Connect issuer found by
    discovery; without one the provider is plain OAuth 2 with fixed endpoints and a user
    API (GitHub). ``email_is_verified`` is False where the provider's email claim does not
    prove that the user owns the address (Entra's ``email`` is editable by tenant admins:
    the "nOAuth" attack, OA-02).
    """

    label: str
    issuer: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    authorize_url: str | None = None
    token_url: str | None = None
    user_url: str | None = None
    emails_url: str | None = None
    email_is_verified: bool = True


PRESETS: Mapping[str, Preset] = {
    "google": Preset(label="Google", issuer="https://accounts.google.com"),
    "microsoft": Preset(
        label="Microsoft",
        issuer="https://login.microsoftonline.com/{tenant}/v2.0",
        email_is_verified=False,
    ),
    "gitlab": Preset(label="GitLab", issuer="https://gitlab.com"),
    "github": Preset(
        label="GitHub",
        scopes=("read:user", "user:email"),
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",  # noqa: S106 (a URL)
        user_url="https://api.github.com/user",
        emails_url="https://api.github.com/user/emails",
    ),
}


def _scopes(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class OAuthProvider:
    """One provider users may sign in with, declared in ``Settings.oauth_providers``.

    ``name`` is the path segment (``/oauth/{name}/login``). Give either ``preset``
    (``google``, ``microsoft``, ``github``, ``gitlab``) or the ``issuer`` URL of any
    OpenID Connect provider (discovery and JWKS are fetched from it); an ``issuer`` with a
    preset overrides the preset's (a self-hosted GitLab). ``scopes`` default to the
    preset's (``openid email profile`` for OIDC). ``trusted_for_email``: a verified email
    from this provider may join an existing account of that address without its owner
    linking it (OA-02); leave it off unless the provider is authoritative for the
    addresses your users have. ``tenant`` is Entra's (``common``, ``organizations`` or an id).
    ``trust_mfa``: when the ID token says the provider checked a second factor (``amr``
    holds ``mfa``, RFC 8176, or ``acr`` is one of ``mfa_acr_values``), an account with
    its own second factor is not asked for it again; off by default (MF-08).
    """

    name: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    preset: str | None = None
    issuer: str | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scopes)
    trusted_for_email: bool = False
    trust_mfa: bool = False
    mfa_acr_values: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    tenant: str = "common"
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"OAuth provider name {self.name!r}: lower-case letters, digits, - and _"
            )
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigurationError(
                f"OAuth provider {self.name!r}: unknown preset {self.preset!r} "
                f"(one of {', '.join(sorted(PRESETS))})"
            )
        if self.preset is None and not self.issuer:
            raise ConfigurationError(
                f"OAuth provider {self.name!r} needs a preset or the issuer URL of an "
                "OpenID Connect provider"
            )
        if self.issuer is not None and not self.issuer.startswith(("https://", "http://")):
            raise ConfigurationError(f"OAuth provider {self.name!r}: issuer must be a URL")
        if not self.client_id or not self.client_secret:
            raise ConfigurationError(f"OAuth provider {self.name!r} needs client_id and secret")

    @property
    def _preset(self) -> Preset | None:
        return PRESETS[self.preset] if self.preset is not None else None

    @property
    def display_name(self) -> str:
        """The button text: ``label``, the preset's, or the name."""
        preset = self._preset
        return self.label or (preset.label if preset else self.name.capitalize())

    @property
    def oidc_issuer(self) -> str | None:
        """The OpenID Connect issuer to discover, or ``None`` for plain OAuth 2 (GitHub)."""
        if self.issuer:
            return self.issuer.rstrip("/")
        preset = self._preset
        if preset is None or preset.issuer is None:
            return None
        return preset.issuer.replace("{tenant}", self.tenant)

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        """``scopes``, or the preset's defaults."""
        if self.scopes:
            return self.scopes
        preset = self._preset
        return preset.scopes if preset else ("openid", "email", "profile")

    @property
    def email_claim_verifiable(self) -> bool:
        """Whether this provider's ``email_verified`` can mean anything (not Entra)."""
        preset = self._preset
        return preset.email_is_verified if preset else True

    @property
    def fixed_endpoints(self) -> Preset | None:
        """The preset with fixed endpoints (plain OAuth 2), when this provider is one."""
        preset = self._preset
        if self.oidc_issuer is None and preset is not None:
            return preset
        return None


@attrs.frozen(kw_only=True)
class ProviderAccount:
    """Who the provider says the user is: its stable ``subject``, what it says of the email,
    and whether it says it checked a second factor (``multi_factor``, from ``amr``/``acr``)."""

    subject: str
    email: str | None
    email_verified: bool
    multi_factor: bool = False


def account_from_claims(provider: OAuthProvider, claims: Mapping[str, Any]) -> ProviderAccount:
    """The account of verified ID-token claims (``sub``, ``email``, ``email_verified``).

    ``email_verified`` counts only when it is ``true`` (a boolean, or the string some
    providers send) and the provider's claim can be trusted at all (never Entra's, OA-02).
    """
    email = claims.get("email")
    said = claims.get("email_verified")
    verified = said is True or said == "true"  # never 1, "yes"... (1 == True in Python)
    amr = claims.get("amr")
    acr = claims.get("acr")
    multi = (isinstance(amr, list) and "mfa" in amr) or (
        isinstance(acr, str) and acr in provider.mfa_acr_values
    )
    return ProviderAccount(
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) and email else None,
        email_verified=bool(verified and provider.email_claim_verifiable and email),
        multi_factor=multi,
    )


def account_from_github(user: Mapping[str, Any], emails: Sequence[Any]) -> ProviderAccount:
    """The account of GitHub's ``/user`` and ``/user/emails`` answers.

    The subject is the numeric id (logins can be renamed); the email is the primary
    address if GitHub marks it ``verified``, else none.
    """
    primary = next((e for e in emails if isinstance(e, Mapping) and e.get("primary") is True), None)
    verified = primary is not None and primary.get("verified") is True
    email = primary.get("email") if primary is not None else None
    return ProviderAccount(
        subject=str(user["id"]),
        email=email if isinstance(email, str) and verified else None,
        email_verified=bool(verified and isinstance(email, str)),
    )


class Refusal(Exception):
    """The callback cannot sign in; ``message`` is what the page says (``link``: the
    "log in to link" page of OA-02)."""

    def __init__(self, message: str, *, link: bool = False, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.link = link
        self.status = status


class StateCookie:
    """The round trip's ``state``, PKCE verifier, ``nonce`` and ``next``, signed with the
    site's keys (newest signs, all verify) and short-lived: only the browser that went to
    the provider can come back (OA-01)."""

    def __init__(
        self, secret_keys: Sequence[str], now: Callable[[], datetime], max_age: timedelta
    ) -> None:
        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(now().timestamp())

        self._serializer = URLSafeTimedSerializer(
            list(secret_keys), salt="doorward.oauth-state", signer=_ClockSigner
        )
        self._max_age = int(max_age.total_seconds())

    def sign(self, kept: Mapping[str, Any]) -> str:
        """The cookie value keeping ``kept``."""
        return str(self._serializer.dumps(dict(kept)))

    def check(
        self, provider_name: str, query: Mapping[str, str], cookie: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The code and what the cookie kept, when this browser started this round trip
        with this provider and the ``state`` matches; else ``OAuthFailed`` saying why."""
        if "error" in query:
            raise OAuthFailed(f"provider error {query['error'][:64]!r}")
        if not cookie:
            raise OAuthFailed("no state cookie (another browser, or it expired)")
        try:
            kept: dict[str, Any] = self._serializer.loads(cookie, max_age=self._max_age)
        except BadData:
            raise OAuthFailed("state cookie forged or expired") from None
        state = query.get("state", "")
        if kept.get("p") != provider_name or not hmac.compare_digest(
            str(kept.get("s", "")).encode(), state.encode()
        ):
            raise OAuthFailed("state does not match this browser's")
        code = query.get("code")
        if not code:
            raise OAuthFailed("callback without a code")
        return code, kept
