"""Sign in with OpenID Connect against a real provider (oidc-provider-mock on loopback),
through both adapters: sign-up, sign-in, linking and unlinking, and the OA-01..OA-04 rows."""

from __future__ import annotations

import contextlib
import functools
from urllib.parse import urlsplit

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from flask import Flask
from starlette.applications import Starlette

from doorward import Argon2Params, AsyncAuth, AsyncMemoryStore, Auth, MemoryStore, Settings
from doorward._async.mailers import AsyncOutbox
from doorward._sync.mailers import Outbox
from doorward.oauth import OAuthProvider
from doorward.testing._sync._concurrency import run_concurrently
from doorward.threaded import AsyncThreadedStore
from doorward_sqlalchemy import SQLAlchemyStore, default_models, sqlite_engine
from doorward_sqlalchemy.models import Base
from tests.http.site_starlette import PortalTransport
from tests.oauth.provider import ProviderServer, query_of, running_provider, with_query

PASSWORD = "correct horse battery staple"
JSON = {"Accept": "application/json"}
BASE = "http://localhost"
CALLBACK = f"{BASE}/auth/oauth/mock/callback"


@pytest.fixture(scope="module")
def provider():
    with running_provider() as server:
        yield server


@pytest.fixture(autouse=True)
def _untampered(provider: ProviderServer):
    yield
    provider.tamper = None


def settings(issuer: str | None, **overrides):
    providers = (
        ()
        if issuer is None
        else (
            OAuthProvider(
                name="mock",
                client_id="doorward-app",
                client_secret="doorward-secret",
                issuer=issuer,
                trusted_for_email=overrides.pop("trusted", False),
                trust_mfa=overrides.pop("trust_mfa", False),
            ),
        )
    )
    return Settings(
        secret_keys="oauth-feature-secret-key-0123456789abcdef",
        base_url=BASE,
        insecure_development=True,
        argon2=Argon2Params.insecure_for_tests(),
        oauth_providers=providers,
        **overrides,
    )


class FlaskSite:
    """A Flask app on the memory store (or another sync store), through the WSGI transport."""

    def __init__(self, issuer, store=None, **overrides):
        from doorward_flask import Doorward

        self.store = store or MemoryStore()
        self.outbox = Outbox()
        self.auth = Auth(settings(issuer, **overrides), self.store, mailer=self.outbox)
        app = Flask(__name__)
        Doorward(app, auth=self.auth)
        self.app = app

    def client(self):
        return httpx.Client(transport=httpx.WSGITransport(app=self.app), base_url=BASE)

    def create_user(self, email):
        return self.auth.create_user(email, PASSWORD, confirmed=True)

    def identities(self, user_id):
        return self.store.list_social_identities(user_id)

    def close(self):
        pass


class StarletteSite:
    """A Starlette app on the async memory store (or a sync store in threads), through the
    ASGI transport."""

    def __init__(self, issuer, store=None, **overrides):
        from doorward_starlette import Doorward

        self.stack = contextlib.ExitStack()
        self.portal = self.stack.enter_context(start_blocking_portal())
        self.store = AsyncThreadedStore(store) if store is not None else AsyncMemoryStore()
        self.outbox = AsyncOutbox()
        self.auth = AsyncAuth(settings(issuer, **overrides), self.store, mailer=self.outbox)
        doorward = Doorward(auth=self.auth)
        self.app = Starlette(routes=[doorward.mount()], middleware=[doorward.middleware()])

    def client(self):
        return httpx.Client(transport=PortalTransport(self.app, self.portal), base_url=BASE)

    def create_user(self, email):
        return self.portal.call(
            functools.partial(self.auth.create_user, email, PASSWORD, confirmed=True)
        )

    def identities(self, user_id):
        return self.portal.call(self.store.list_social_identities, user_id)

    def close(self):
        self.stack.close()


@pytest.fixture(params=["flask", "starlette"])
def make_site(request, provider, tmp_path):
    made = []

    def make(issuer=provider.url, store=None, **overrides):
        kind = FlaskSite if request.param == "flask" else StarletteSite
        if store == "sqlite":
            engine = sqlite_engine(f"sqlite:///{tmp_path}/oauth{len(made)}.sqlite3")
            Base.metadata.create_all(engine)
            store = SQLAlchemyStore(engine, default_models())
        site = kind(issuer, store, **overrides)
        made.append(site)
        return site

    yield make
    for site in made:
        site.close()


def start(client, next_url=None):
    """GET /oauth/mock/login: the provider's authorization URL."""
    answer = client.get("/auth/oauth/mock/login", params={"next": next_url} if next_url else None)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def me(client):
    """GET /me as JSON: the user, or None when anonymous."""
    answer = client.get("/auth/me", headers=JSON)
    return answer.json()["user"] if answer.status_code == 200 else None


def sign_in(provider, client, sub, next_url=None):
    """The whole round trip as ``sub``: the callback's answer."""
    callback = provider.authorize(start(client, next_url), sub)
    return client.get(callback)


def csrf(client):
    return client.get("/auth/csrf", headers=JSON).json()["csrf_token"]


def log_in(client, email):
    answer = client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf(client), **JSON},
    )
    assert answer.status_code == 200, answer.text


# -- the round trip -------------------------------------------------------------------------


def test_login_redirects_to_the_provider_with_state_pkce_and_nonce(make_site, provider):
    """GET /oauth/{provider}/login is a 303 to the provider's authorization endpoint with
    state, an S256 code challenge, a nonce and the callback below base_url (CR-06)."""
    site = make_site()
    with site.client() as client:
        answer = client.get("/auth/oauth/mock/login", headers={"Host": "evil.example"})
        assert answer.status_code == 303
        url = answer.headers["location"]
        assert url.startswith(f"{provider.url}/oauth2/authorize?")
        query = query_of(url)
        assert query["client_id"] == "doorward-app"
        assert query["redirect_uri"] == CALLBACK
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 32
        assert len(query["nonce"]) >= 32
        assert set(query["scope"].split()) == {"openid", "email", "profile"}
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("doorward-oauth=")
        assert "HttpOnly" in cookie
        # plain http on loopback for the local provider; an https site's cookie is Secure
        assert ("Secure" in cookie) == site.auth.settings.cookie_secure
        assert "SameSite=Lax" in cookie


def test_first_sign_in_with_a_verified_email_makes_a_confirmed_account(make_site, provider):
    """A verified email nobody has: a confirmed account without a password, signed in."""
    site = make_site()
    provider.set_user("sub-new", email="newcomer@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-new")
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"
        user = me(client)
        assert user["email"] == "newcomer@example.com"
        assert user["confirmed"] is True or user.get("confirmed_at") is not None
        [identity] = site.identities(user["id"])
        assert (identity.provider, identity.subject) == ("mock", "sub-new")


def test_later_sign_in_of_a_linked_account_is_the_same_user(make_site, provider):
    """A second round trip of one provider account signs in the account made the first time."""
    site = make_site()
    provider.set_user("sub-again", email="again@example.com", email_verified=True)
    with site.client() as first:
        assert sign_in(provider, first, "sub-again").status_code == 303
        user_id = me(first)["id"]
    with site.client() as second:
        assert me(second) is None
        assert sign_in(provider, second, "sub-again").status_code == 303
        assert me(second)["id"] == user_id
    assert len(site.identities(user_id)) == 1


def test_sign_in_replaces_the_session_cookie_and_rotates_csrf(make_site, provider):
    """The callback sets a session cookie, clears the state cookie and sets a new CSRF cookie."""
    site = make_site()
    provider.set_user("sub-cookies", email="cookies@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-cookies")
        names = {c.split("=", 1)[0]: c for c in answer.headers.get_list("set-cookie")}
        assert "doorward" in names
        assert "doorward-csrf" in names
        assert (
            "Max-Age=0" in names["doorward-oauth"] or "expires" in names["doorward-oauth"].lower()
        )


def test_sign_up_and_sign_in_on_sqlalchemy(make_site, provider):
    """The same round trips on the SQLAlchemy store (SQLite): one account, one link."""
    site = make_site(store="sqlite")
    provider.set_user("sub-sql", email="sql@example.com", email_verified=True)
    with site.client() as first:
        assert sign_in(provider, first, "sub-sql").status_code == 303
        user_id = me(first)["id"]
    with site.client() as second:
        assert sign_in(provider, second, "sub-sql").status_code == 303
        assert me(second)["id"] == user_id
    assert [i.subject for i in site.identities(user_id)] == ["sub-sql"]


def test_parallel_first_sign_ins_make_one_account(make_site, provider):
    """Several browsers finishing a first sign-in of one provider account at once: one
    account with one link; every browser is signed in to it or asked to try linking."""
    site = make_site(store="sqlite")
    provider.set_user("sub-race", email="race@example.com", email_verified=True)
    clients = [site.client() for _ in range(4)]
    callbacks = [provider.authorize(start(client), "sub-race") for client in clients]
    answers = run_concurrently(lambda i: clients[i].get(callbacks[i]), len(clients))
    assert all(not isinstance(a, BaseException) for a in answers), answers
    assert {a.status_code for a in answers} <= {303, 409}
    ids = {
        me(client)["id"] for client, a in zip(clients, answers, strict=True) if a.status_code == 303
    }
    assert len(ids) == 1
    [user_id] = ids
    assert [i.subject for i in site.identities(user_id)] == ["sub-race"]
    for client in clients:
        client.close()


def test_invite_only_sites_make_no_accounts_by_provider(make_site, provider):
    """With registration switched off, a new provider account makes no account; linked
    ones still sign in."""
    site = make_site(disabled_features=["registration"])
    provider.set_user("sub-invite", email="invitee@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-invite")
        assert answer.status_code == 400
        assert "invitation" in answer.text
        assert me(client) is None


# -- OA-01 ----------------------------------------------------------------------------------


def test_oa01_tampered_state_is_refused(make_site, provider, caplog):
    """A callback whose state is not this browser's signs nobody in (neutral 400 page)."""
    site = make_site()
    provider.set_user("sub-state", email="state@example.com", email_verified=True)
    with site.client() as client:
        callback = provider.authorize(start(client), "sub-state")
        answer = client.get(with_query(callback, state="x" * 43))
        assert answer.status_code == 400
        assert "did not work" in answer.text
        assert me(client) is None
    assert "state does not match" in caplog.text


def test_oa01_callback_from_another_browser_is_refused(make_site, provider):
    """A callback without the state cookie of the browser that started it is refused."""
    site = make_site()
    provider.set_user("sub-csrf", email="csrf@example.com", email_verified=True)
    with site.client() as victim, site.client() as attacker:
        callback = provider.authorize(start(attacker), "sub-csrf")
        answer = victim.get(callback)
        assert answer.status_code == 400
        assert me(victim) is None


def test_oa01_replayed_code_is_refused(make_site, provider, caplog):
    """The same callback (code and state cookie) a second time signs nobody in."""
    site = make_site()
    provider.set_user("sub-replay", email="replay@example.com", email_verified=True)
    with site.client() as client:
        callback = provider.authorize(start(client), "sub-replay")
        state_cookie = client.cookies.get("doorward-oauth")
        assert client.get(callback).status_code == 303
    with site.client() as replayer:
        replayer.headers["Cookie"] = f"doorward-oauth={state_cookie}"
        answer = replayer.get(callback)
        assert answer.status_code == 400
        assert me(replayer) is None
    assert "refused the code: invalid_grant" in caplog.text


def test_oa01_wrong_nonce_is_refused(make_site, provider, caplog):
    """An ID token carrying another nonce than this round trip's is refused."""
    site = make_site()
    provider.set_user("sub-nonce", email="nonce@example.com", email_verified=True)
    with site.client() as client:
        url = with_query(start(client), nonce="another-nonce-" + "n" * 30)
        answer = client.get(provider.authorize(url, "sub-nonce"))
        assert answer.status_code == 400
        assert me(client) is None
    assert "Invalid claim: 'nonce'" in caplog.text


def test_oa01_id_token_for_another_audience_is_refused(make_site, provider, caplog):
    """A genuine ID token of the provider minted for another client (right nonce) is refused."""
    site = make_site()
    provider.set_user("sub-aud", email="aud@example.com", email_verified=True)
    with site.client() as client:
        url = start(client)
        foreign = provider.id_token_for(
            "other-client", "sub-aud", nonce=query_of(url)["nonce"], redirect_uri=CALLBACK
        )
        provider.tamper = lambda body: {**body, "id_token": foreign}
        answer = client.get(provider.authorize(url, "sub-aud"))
        assert answer.status_code == 400
        assert me(client) is None
    assert "Invalid claim: 'aud'" in caplog.text


def test_oa01_provider_error_is_neutral(make_site, provider):
    """error=access_denied from the provider: the neutral page, nothing about the cause."""
    site = make_site()
    with site.client() as client:
        url = start(client)
        state = query_of(url)["state"]
        answer = client.get(
            "/auth/oauth/mock/callback",
            params={"error": "access_denied", "error_description": "secret detail", "state": state},
        )
        assert answer.status_code == 400
        assert "secret detail" not in answer.text
        assert "access_denied" not in answer.text


# -- OA-02 ----------------------------------------------------------------------------------


def test_oa02_unverified_email_of_a_victim_gives_no_access(make_site, provider):
    """email_verified=false for a victim's address: no session, nothing linked to the victim."""
    site = make_site(trusted=True)
    victim = site.create_user("victim@example.com")
    provider.set_user("sub-attacker", email="victim@example.com", email_verified=False)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-attacker")
        assert answer.status_code == 400
        assert me(client) is None
    assert site.identities(str(victim.id)) == []


def test_oa02_verified_email_of_an_existing_account_asks_to_log_in_and_link(make_site, provider):
    """A provider not trusted for email never joins an existing account: the link page."""
    site = make_site()
    owner = site.create_user("owner@example.com")
    provider.set_user("sub-owner", email="owner@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-owner")
        assert answer.status_code == 409
        assert "Log in to link" in answer.text
        assert me(client) is None
    assert site.identities(str(owner.id)) == []


def test_oa02_trusted_provider_joins_the_account_of_its_verified_email(make_site, provider):
    """A provider configured as trusted for email may join the account of a verified address."""
    site = make_site(trusted=True)
    owner = site.create_user("trusting@example.com")
    provider.set_user("sub-trusted", email="trusting@example.com", email_verified=True)
    with site.client() as client:
        assert sign_in(provider, client, "sub-trusted").status_code == 303
        assert me(client)["id"] == str(owner.id)
    assert [i.subject for i in site.identities(str(owner.id))] == ["sub-trusted"]


def test_oa02_owner_links_after_logging_in(make_site, provider):
    """Signed in with a fresh session, the owner links the provider account; a notice is mailed."""
    site = make_site()
    owner = site.create_user("linker@example.com")
    provider.set_user("sub-linker", email="other-address@example.com", email_verified=False)
    with site.client() as client:
        log_in(client, "linker@example.com")
        answer = client.post("/auth/oauth/mock/link", headers={"X-CSRF-Token": csrf(client)})
        assert answer.status_code == 303
        back = client.get(provider.authorize(answer.headers["location"], "sub-linker"))
        assert back.status_code == 303
        assert back.headers["location"] == "/auth/oauth/accounts?notice=oauth_linked"
        listed = client.get("/auth/oauth/accounts", headers=JSON).json()
        assert [a["provider"] for a in listed["accounts"]] == ["mock"]
        assert "linked" in client.get(back.headers["location"]).text
    with site.client() as later:
        assert sign_in(provider, later, "sub-linker").status_code == 303
        assert me(later)["id"] == str(owner.id)
    assert any(
        m.kind == "oauth_linked" and m.to == "linker@example.com" for m in site.outbox.messages
    )


def test_oa02_link_needs_a_session_and_csrf(make_site, provider):
    """POST /oauth/{provider}/link: anonymous is refused, a missing CSRF token is 403."""
    site = make_site()
    site.create_user("guarded@example.com")
    with site.client() as client:
        assert client.post("/auth/oauth/mock/link", headers=JSON).status_code in {401, 403}
        log_in(client, "guarded@example.com")
        assert client.post("/auth/oauth/mock/link", headers=JSON).status_code == 403


# -- OA-03 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example"])
def test_oa03_next_to_another_site_stays_on_site(make_site, provider, target):
    """next=//evil.example through the round trip lands on the site's own page."""
    site = make_site()
    provider.set_user("sub-next", email="next@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-next", next_url=target)
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert location == "/"
        assert not urlsplit(location).netloc


def test_oa03_safe_next_survives_the_round_trip(make_site, provider):
    """A relative next comes back after the provider."""
    site = make_site()
    provider.set_user("sub-next-ok", email="nextok@example.com", email_verified=True)
    with site.client() as client:
        answer = sign_in(provider, client, "sub-next-ok", next_url="/dashboard?tab=1")
        assert answer.headers["location"] == "/dashboard?tab=1"


# -- OA-04 ----------------------------------------------------------------------------------


def test_oa04_unlinking_the_last_way_in_is_refused(make_site, provider):
    """An account made by the provider (no password, no other link) cannot unlink it: 400."""
    site = make_site()
    provider.set_user("sub-only", email="only@example.com", email_verified=True)
    with site.client() as client:
        assert sign_in(provider, client, "sub-only").status_code == 303
        [account] = client.get("/auth/oauth/accounts", headers=JSON).json()["accounts"]
        answer = client.delete(
            f"/auth/oauth/accounts/{account['id']}", headers={"X-CSRF-Token": csrf(client), **JSON}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "last_sign_in_method"
        assert len(client.get("/auth/oauth/accounts", headers=JSON).json()["accounts"]) == 1


def test_oa04_unlink_with_a_password_left_works_and_mails(make_site, provider):
    """With a password the owner unlinks (fresh session): 204 and a notice mail."""
    site = make_site(trusted=True)
    owner = site.create_user("unlinker@example.com")
    provider.set_user("sub-unlink", email="unlinker@example.com", email_verified=True)
    with site.client() as client:
        assert sign_in(provider, client, "sub-unlink").status_code == 303
        [account] = client.get("/auth/oauth/accounts", headers=JSON).json()["accounts"]
        answer = client.delete(
            f"/auth/oauth/accounts/{account['id']}", headers={"X-CSRF-Token": csrf(client), **JSON}
        )
        assert answer.status_code == 204
    assert site.identities(str(owner.id)) == []
    assert any(m.kind == "oauth_unlinked" for m in site.outbox.messages)


# -- pages and switching off ----------------------------------------------------------------


def test_login_and_register_pages_show_the_provider_buttons(make_site):
    """With providers, the login and register pages link to /oauth/{provider}/login."""
    site = make_site()
    with site.client() as client:
        for page in ("/auth/login", "/auth/register"):
            assert "/auth/oauth/mock/login" in client.get(page).text


def test_accounts_page_lists_and_offers_unlink(make_site, provider):
    """GET /oauth/accounts (HTML) lists the linked account with an unlink form."""
    site = make_site()
    provider.set_user("sub-page", email="page@example.com", email_verified=True)
    with site.client() as client:
        sign_in(provider, client, "sub-page")
        page = client.get("/auth/oauth/accounts")
        assert page.status_code == 200
        assert "page@example.com" in page.text
        assert "/unlink" in page.text


def test_without_providers_the_feature_is_off(make_site):
    """No providers configured: the /oauth routes do not exist, no buttons are shown."""
    site = make_site(issuer=None)
    with site.client() as client:
        assert client.get("/auth/oauth/mock/login").status_code == 404
        assert client.get("/auth/oauth/accounts").status_code in {303, 404}
        assert "/oauth/" not in client.get("/auth/login").text
    assert not site.auth.enabled("oauth")


def test_oa04_parallel_unlinks_keep_one_way_in():
    """Two unlinks at once of the two links of an account without a password: at least one
    link stays, and every refused unlink is last_sign_in_method (the store's reads are
    slowed so both unlinks see two links before either deletes)."""
    import time
    from datetime import UTC, datetime

    from doorward._sync.oauth import OAuth
    from doorward.exceptions import LastSignInMethod
    from doorward.records import SocialIdentity

    class SlowReads(MemoryStore):
        def list_social_identities(self, user_id):
            found = super().list_social_identities(user_id)
            time.sleep(0.01)
            return found

    for _ in range(3):
        store = SlowReads()
        auth = Auth(settings("https://idp.example"), store)
        user = auth.create_user("twice@example.com", confirmed=True)
        links = [
            SocialIdentity(
                id=f"o{i}",
                provider="mock",
                subject=f"s{i}",
                user_id=str(user.id),
                email=None,
                email_verified=False,
                linked_at=datetime(2030, 1, 1, i, tzinfo=UTC),
            )
            for i in range(2)
        ]
        for link in links:
            store.add_social_identity(link)
        oauth = auth.feature(OAuth)
        unlink = functools.partial(
            lambda i, oauth, user: oauth.unlink(user, f"o{i}"), oauth=oauth, user=user
        )
        results = run_concurrently(unlink, 2)
        assert all(r is None or isinstance(r, LastSignInMethod) for r in results), results
        assert len(store.list_social_identities(str(user.id))) >= 1


def test_mf08_provider_sign_in_still_asks_the_second_factor(make_site, provider):
    """An account with TOTP signing in through a linked provider gets the second step, no
    session (MF-05, MF-08); the code then signs it in."""
    import pyotp

    site = make_site()
    owner = site.create_user("guarded@example.com")
    provider.set_user("sub-guarded", email="elsewhere@example.com", email_verified=False)
    with site.client() as client:
        log_in(client, "guarded@example.com")
        started = client.post("/auth/mfa/totp", headers={"X-CSRF-Token": csrf(client), **JSON})
        assert started.status_code == 200, started.text
        secret = started.json()["secret"]
        confirmed = client.post(
            "/auth/mfa/totp/confirm",
            json={"code": pyotp.TOTP(secret).now()},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert confirmed.status_code == 200, confirmed.text
        linking = client.post("/auth/oauth/mock/link", headers={"X-CSRF-Token": csrf(client)})
        assert (
            client.get(provider.authorize(linking.headers["location"], "sub-guarded")).status_code
            == 303
        )
    with site.client() as later:
        answer = sign_in(provider, later, "sub-guarded", next_url="/reports")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/auth/login/mfa?")
        assert me(later) is None
        recovery = confirmed.json()["recovery_codes"][0]
        done = later.post(
            "/auth/login/mfa", json={"code": recovery}, headers={"X-CSRF-Token": csrf(later)}
        )
        assert done.status_code == 200, done.text
        assert me(later)["id"] == str(owner.id)


def _enrol_and_link(site, provider, sub):
    """An account with TOTP, linked to the provider account ``sub``."""
    import pyotp

    site.create_user("guarded@example.com")
    with site.client() as client:
        log_in(client, "guarded@example.com")
        started = client.post("/auth/mfa/totp", headers={"X-CSRF-Token": csrf(client), **JSON})
        secret = started.json()["secret"]
        confirmed = client.post(
            "/auth/mfa/totp/confirm",
            json={"code": pyotp.TOTP(secret).now()},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert confirmed.status_code == 200, confirmed.text
        linking = client.post("/auth/oauth/mock/link", headers={"X-CSRF-Token": csrf(client)})
        assert client.get(provider.authorize(linking.headers["location"], sub)).status_code == 303


@pytest.mark.parametrize("trust_mfa", [False, True])
def test_mf08_provider_mfa_is_trusted_only_when_the_app_says_so(make_site, provider, trust_mfa):
    """The provider's ID token says it checked a second factor (amr: mfa): the account's
    own second factor is skipped only with the provider's trust_mfa (off by default)."""
    site = make_site(trust_mfa=trust_mfa)
    provider.set_user(
        "sub-mfa", email="elsewhere@example.com", email_verified=False, amr=["pwd", "mfa"]
    )
    _enrol_and_link(site, provider, "sub-mfa")
    with site.client() as later:
        answer = sign_in(provider, later, "sub-mfa", next_url="/reports")
        assert answer.status_code == 303
        if trust_mfa:
            assert answer.headers["location"] == "/reports"
            assert me(later)["email"] == "guarded@example.com"
        else:
            assert answer.headers["location"].startswith("/auth/login/mfa?")
            assert me(later) is None


def test_mf08_trust_mfa_needs_the_claim(make_site, provider):
    """With trust_mfa, an ID token without amr mfa still leads to the second step."""
    site = make_site(trust_mfa=True)
    provider.set_user("sub-pwd", email="elsewhere@example.com", email_verified=False, amr=["pwd"])
    _enrol_and_link(site, provider, "sub-pwd")
    with site.client() as later:
        answer = sign_in(provider, later, "sub-pwd")
        assert answer.headers["location"].startswith("/auth/login/mfa?")
        assert me(later) is None


def test_plain_http_issuer_only_on_loopback_in_development():
    """An http issuer is refused unless the site is in local development and the issuer is on
    loopback (the test provider); https issuers are always fine."""
    from doorward.exceptions import ConfigurationError

    for issuer, development in (("http://idp.example", True), ("http://127.0.0.1:9", False)):
        with pytest.raises(ConfigurationError, match="plain-http issuer"):
            Settings(
                secret_keys="oauth-feature-secret-key-0123456789abcdef",
                base_url="http://localhost" if development else "https://app.example.com",
                insecure_development=development,
                oauth_providers=(
                    OAuthProvider(name="x", client_id="a", client_secret="b", issuer=issuer),
                ),
            )
    assert settings("https://idp.example").oauth_providers[0].issuer == "https://idp.example"


def test_multi_factor_claims_are_read_strictly():
    """amr must be a list holding "mfa"; acr counts only when the app names its values."""
    from doorward.oauth import account_from_claims

    plain = OAuthProvider(name="p", client_id="i", client_secret="s", issuer="https://idp.example")
    named = OAuthProvider(
        name="p",
        client_id="i",
        client_secret="s",
        issuer="https://idp.example",
        mfa_acr_values=["urn:example:mfa"],
    )
    for claims, provider, expected in (
        ({"amr": ["pwd", "mfa"]}, plain, True),
        ({"amr": "mfa"}, plain, False),
        ({"amr": ["pwd"]}, plain, False),
        ({"acr": "urn:example:mfa"}, plain, False),
        ({"acr": "urn:example:mfa"}, named, True),
        ({"acr": "urn:example:pwd"}, named, False),
    ):
        assert account_from_claims(provider, {"sub": "x", **claims}).multi_factor is expected
