# Generated from packages/core/src/doorward/_async/oauth_client.py by scripts/unasync.py. Do not edit: edit the source.
"""Talking to one OAuth 2.0 / OpenID Connect provider, on Authlib and joserfc.

Discovery, the authorization URL (``state``, PKCE S256, ``nonce``), the code exchange with
the verifier, and the ID token checks of OA-01 (signature against the provider's JWKS,
``iss``, ``aud``, ``exp``, ``nonce``); for GitHub, its user and emails APIs. Authlib and
httpx are imported when the first provider is configured, with an error naming the extra.
Provider tokens live only in this call: nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from doorward.exceptions import ConfigurationError, OAuthFailed
from doorward.oauth import (
    OAuthProvider,
    ProviderAccount,
    account_from_claims,
    account_from_github,
)

__all__ = ["ProviderClient", "require_oauth_libraries"]

#: Asymmetric algorithms only: never ``none`` nor an HMAC keyed with the client secret.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
LEEWAY_SECONDS = 60
TIMEOUT_SECONDS = 10.0


def require_oauth_libraries() -> None:
    """Fail at start-up, naming the extra, when Authlib or httpx is missing."""
    try:
        import authlib.integrations.httpx_client  # noqa: F401, PLC0415
        import httpx  # noqa: F401, PLC0415
        import joserfc  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            "signing in with OAuth providers needs Authlib and httpx: pip install 'doorward[oauth]'"
        ) from exc


def _client(provider: OAuthProvider, redirect_uri: str) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client  # noqa: PLC0415

    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=" ".join(provider.effective_scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
    )


class ProviderClient:
    """One configured provider; the discovery document is fetched once and kept."""

    def __init__(self, provider: OAuthProvider, redirect_uri: str, now: Callable[[], int]) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self._now = now
        self._metadata: dict[str, Any] | None = None

    def _get_json(self, client: Any, url: str, **headers: str) -> Any:
        response = client.request("GET", url, headers=headers, withhold_token=True)
        if response.status_code != 200:
            raise OAuthFailed(f"{url} answered {response.status_code}")
        return response.json()

    def metadata(self, client: Any) -> dict[str, Any]:
        """The endpoints: OIDC discovery (its ``issuer`` must be the configured one)."""
        if self._metadata is not None:
            return self._metadata
        fixed = self.provider.fixed_endpoints
        if fixed is not None:
            self._metadata = {
                "authorization_endpoint": fixed.authorize_url,
                "token_endpoint": fixed.token_url,
            }
            return self._metadata
        issuer = self.provider.oidc_issuer
        found = self._get_json(client, f"{issuer}/.well-known/openid-configuration")
        if not isinstance(found, dict):
            raise OAuthFailed("discovery document is not an object")
        declared = str(found.get("issuer", "")).rstrip("/")
        if declared != issuer and declared.replace("{tenantid}", "") == declared:
            raise OAuthFailed(f"discovery issuer {declared!r} is not {issuer!r}")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                raise OAuthFailed(f"discovery document lacks {name}")
        found["issuer"] = declared
        self._metadata = found
        return found

    def authorization_url(self, *, state: str, verifier: str, nonce: str) -> str:
        """Where to send the browser: code flow with ``state``, PKCE S256 and ``nonce``."""
        with _client(self.provider, self.redirect_uri) as client:
            meta = self.metadata(client)
            extra = {"nonce": nonce} if self.provider.fixed_endpoints is None else {}
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, code_verifier=verifier, **extra
            )
        return str(url)

    def account(self, *, code: str, verifier: str, nonce: str) -> ProviderAccount:
        """Exchange the code (with the PKCE verifier) and say who signed in (OA-01)."""
        from authlib.integrations.base_client import OAuthError  # noqa: PLC0415

        with _client(self.provider, self.redirect_uri) as client:
            meta = self.metadata(client)
            try:
                token = client.fetch_token(
                    meta["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
            except OAuthError as exc:
                raise OAuthFailed(f"token endpoint refused the code: {exc.error}") from None
            if self.provider.fixed_endpoints is not None:
                return self._github_account(client, str(token.get("access_token", "")))
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise OAuthFailed("token response without an id_token")
            jwks = self._get_json(client, meta["jwks_uri"])
        claims = self.verify_id_token(id_token, jwks, issuer=meta["issuer"], nonce=nonce)
        return account_from_claims(self.provider, claims)

    def verify_id_token(
        self, id_token: str, jwks: Any, *, issuer: str, nonce: str
    ) -> dict[str, Any]:
        """The claims of an ID token whose signature, iss, aud, exp and nonce are right."""
        from joserfc import jwt  # noqa: PLC0415
        from joserfc.errors import JoseError  # noqa: PLC0415
        from joserfc.jwk import KeySet  # noqa: PLC0415

        try:
            keys = KeySet.import_key_set(jwks)
            decoded = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
            claims: dict[str, Any] = dict(decoded.claims)
            expected = issuer.replace("{tenantid}", str(claims.get("tid", "")))
            jwt.JWTClaimsRegistry(
                now=self._now,
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": expected},
                aud={"essential": True, "value": self.provider.client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OAuthFailed(f"ID token refused: {type(exc).__name__}: {exc}") from None
        azp = claims.get("azp")
        if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 and azp is None:
            raise OAuthFailed("ID token for several audiences without azp")
        if azp is not None and azp != self.provider.client_id:
            raise OAuthFailed("ID token azp is another client")
        return claims

    def _github_account(self, client: Any, access_token: str) -> ProviderAccount:
        fixed = self.provider.fixed_endpoints
        if fixed is None or fixed.user_url is None or fixed.emails_url is None:
            raise OAuthFailed("no user API for this provider")
        auth = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        user = self._get_json(client, fixed.user_url, **auth)
        emails = self._get_json(client, fixed.emails_url, **auth)
        if not isinstance(user, dict) or "id" not in user or not isinstance(emails, list):
            raise OAuthFailed("unexpected user API answer")
        return account_from_github(user, emails)
