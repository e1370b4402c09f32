"""The OAuth provider records and presets, the claims rules of OA-02, and the ID token
checks of OA-01 on tokens signed with real keys (joserfc), without a network."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from doorward import Settings
from doorward._async.oauth_client import AsyncProviderClient
from doorward.exceptions import ConfigurationError, OAuthFailed
from doorward.oauth import OAuthProvider, account_from_claims, account_from_github

ISSUER = "https://idp.example"


def provider(**overrides):
    values = {"name": "idp", "client_id": "app", "client_secret": "secret", "issuer": ISSUER}
    values.update(overrides)
    return OAuthProvider(**values)


# -- records and presets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad Name"}, "lower-case"),
        ({"preset": "myspace"}, "unknown preset"),
        ({"issuer": None}, "preset or the issuer"),
        ({"issuer": "idp.example"}, "must be a URL"),
        ({"client_secret": ""}, "client_id and secret"),
    ],
)
def test_provider_records_are_checked_at_start_up(overrides, message):
    """A provider record with a bad name, preset, issuer or credentials is refused when built."""
    with pytest.raises(ConfigurationError, match=message):
        provider(**overrides)


def test_provider_names_are_unique_in_settings():
    """Two providers of one name are refused by Settings."""
    with pytest.raises(ConfigurationError, match="unique name"):
        Settings(
            secret_keys="s" * 40,
            base_url="https://app.example",
            oauth_providers=(provider(), provider()),
        )


def test_secret_is_not_in_the_repr():
    """The client secret never shows in logs of the settings."""
    assert "hunter2" not in repr(provider(client_secret="hunter2-very-secret"))


def test_presets_give_issuers_scopes_and_labels():
    """Google, Entra (with its tenant), GitLab are OIDC issuers; GitHub is plain OAuth 2."""
    google = provider(preset="google", issuer=None)
    assert google.oidc_issuer == "https://accounts.google.com"
    assert google.effective_scopes == ("openid", "email", "profile")
    assert google.display_name == "Google"
    entra = provider(name="work", preset="microsoft", issuer=None, tenant="organizations")
    assert entra.oidc_issuer == "https://login.microsoftonline.com/organizations/v2.0"
    gitlab = provider(preset="gitlab", issuer="https://gitlab.example.org/")
    assert gitlab.oidc_issuer == "https://gitlab.example.org"
    github = provider(preset="github", issuer=None)
    assert github.oidc_issuer is None
    assert github.fixed_endpoints is not None
    assert github.effective_scopes == ("read:user", "user:email")


# -- OA-02: what counts as a verified email --------------------------------------------------


def test_oa02_entra_email_claim_is_never_proof_of_ownership():
    """Entra's email claim with email_verified=true still counts as unverified ("nOAuth")."""
    entra = provider(preset="microsoft", issuer=None)
    account = account_from_claims(
        entra, {"sub": "s", "email": "ceo@victim.example", "email_verified": True}
    )
    assert account.email_verified is False


@pytest.mark.parametrize(
    ("claims", "verified"),
    [
        ({"email_verified": True}, True),
        ({"email_verified": "true"}, True),
        ({"email_verified": False}, False),
        ({"email_verified": "false"}, False),
        ({"email_verified": 1}, False),
        ({}, False),
    ],
)
def test_oa02_only_a_true_email_verified_counts(claims, verified):
    """email_verified counts only as the boolean true (or the string "true")."""
    account = account_from_claims(provider(), {"sub": "s", "email": "a@example.com", **claims})
    assert account.email_verified is verified


def test_oa02_github_takes_only_the_verified_primary_email():
    """GitHub: the primary address if marked verified, else no email at all."""
    user = {"id": 42, "login": "octo"}
    verified = [
        {"email": "other@example.com", "primary": False, "verified": True},
        {"email": "octo@example.com", "primary": True, "verified": True},
    ]
    account = account_from_github(user, verified)
    assert (account.subject, account.email, account.email_verified) == (
        "42",
        "octo@example.com",
        True,
    )
    unverified = [{"email": "victim@example.com", "primary": True, "verified": False}]
    account = account_from_github(user, unverified)
    assert (account.email, account.email_verified) == (None, False)


# -- OA-01: ID token checks on real signatures -----------------------------------------------


@pytest.fixture
def keys():
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def sign(key, header=None, **claims):
    now = int(time.time())
    values = {"iss": ISSUER, "aud": "app", "sub": "s", "exp": now + 300, "iat": now, "nonce": "n"}
    values.update(claims)
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, values, key)


def verify(token, key, nonce="n"):
    client = AsyncProviderClient(provider(), "https://app.example/cb", lambda: int(time.time()))
    jwks = KeySet([key]).as_dict(private=False)
    return client.verify_id_token(token, jwks, issuer=ISSUER, nonce=nonce)


def test_oa01_a_right_id_token_passes(keys):
    """A token signed by the provider's key with the right iss, aud, exp and nonce passes."""
    assert verify(sign(keys), keys)["sub"] == "s"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example"},
        {"aud": "another-app"},
        {"aud": ["app", "another-app"]},
        {"azp": "another-app"},
        {"exp": int(time.time()) - 3600},
        {"nonce": "replayed"},
        {"nonce": None},
        {"sub": None},
    ],
)
def test_oa01_wrong_claims_are_refused(keys, claims):
    """Another issuer, audience or azp, an expired token, a wrong or missing nonce: refused."""
    token = sign(keys, **{k: v for k, v in claims.items() if v is not None})
    if None in claims.values():
        token = sign_without(keys, *claims)
    with pytest.raises(OAuthFailed):
        verify(token, keys)


def sign_without(key, *names):
    now = int(time.time())
    values = {"iss": ISSUER, "aud": "app", "sub": "s", "exp": now + 300, "nonce": "n"}
    for name in names:
        values.pop(name)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, values, key)


def test_oa01_another_key_and_symmetric_algorithms_are_refused(keys):
    """A token signed by another key, or with HS256 keyed by the client secret, is refused."""
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(OAuthFailed):
        verify(sign(stranger), keys)
    secret = OctKey.import_key("secret" * 6)
    with pytest.raises(OAuthFailed):
        verify(sign(secret, header={"alg": "HS256"}), keys)


def test_oa01_unsigned_token_is_refused(keys):
    """alg=none is never accepted."""
    import base64
    import json

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "app", "sub": "s", "exp": now + 300, "nonce": "n"}
    with pytest.raises(OAuthFailed):
        verify(f"{part({'alg': 'none'})}.{part(claims)}.", keys)


# -- the extra --------------------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("authlib", "joserfc"):
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    from doorward import Auth, MemoryStore, Settings
    from doorward.exceptions import ConfigurationError
    from doorward.oauth import OAuthProvider

    values = {"secret_keys": "s" * 40, "base_url": "https://x.example"}
    assert not Auth(Settings(**values), MemoryStore()).enabled("oauth")
    provider = OAuthProvider(name="idp", client_id="c", client_secret="s", issuer="https://i.example")
    try:
        Auth(Settings(**values, oauth_providers=(provider,)), MemoryStore())
    except ConfigurationError as exc:
        assert "doorward[oauth]" in str(exc), exc
        print("extra-named")
    """
)


def test_without_the_extra_the_core_runs_and_providers_name_it():
    """Without Authlib the core starts (no providers); configuring one names doorward[oauth]."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False, timeout=60
    )
    assert "extra-named" in result.stdout, result.stderr
