"""The HTTP contract of docs/http-api.md, run against every adapter (Flask and Starlette).

Each test drives the app through an httpx client only: JSON and form requests, cookies,
CSRF, redirects and the mails in the outbox, so both adapters must answer the same.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from doorward import Auth, MemoryStore, Views
from doorward.settings import RateLimit
from tests.http.conftest import contract_settings

PREFIX = "/auth"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an entirely new passphrase"
EMAIL = "alice@example.com"
SESSION = "__Host-doorward"
REMEMBER = "__Host-doorward-remember"
CSRF = "__Host-doorward-csrf"
JSON_HEADERS = {"Accept": "application/json"}


def csrf_token(client: httpx.Client) -> str:
    response = client.get(f"{PREFIX}/csrf", headers=JSON_HEADERS)
    assert response.status_code == 200
    return response.json()["csrf_token"]


def post(client: httpx.Client, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
    """A JSON POST with the CSRF header, as a JavaScript client would send it."""
    headers = {"X-CSRF-Token": csrf_token(client), **JSON_HEADERS, **kwargs.pop("headers", {})}
    return client.post(f"{PREFIX}{path}", json=body or {}, headers=headers, **kwargs)


def form_post(client: httpx.Client, path: str, data: dict, page: str) -> httpx.Response:
    """A browser form POST: fetch the page, take its csrf_token field, submit the form."""
    html = client.get(f"{PREFIX}{page}").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return client.post(f"{PREFIX}{path}", data={**data, "csrf_token": match.group(1)})


def links(site, to: str, kind: str) -> list[str]:
    return [m for m in site.mails() if m.to == to and m.kind == kind]


def link_path(site, to: str, kind: str) -> str:
    mails = links(site, to, kind)
    assert mails, f"no {kind} mail to {to}"
    url = re.search(r"https?://\S+", mails[-1].text).group(0)
    return urlsplit(url).path


def login(site, client=None, email=EMAIL, password=PASSWORD, remember=False) -> httpx.Response:
    client = client or site.client
    response = post(client, "/login", {"email": email, "password": password, "remember": remember})
    assert response.status_code == 200, response.text
    return response


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# -- registration and confirmation ---------------------------------------------------------------


def test_register_confirm_login_me_json(site):
    """The JSON round trip: register, confirm by the mailed link, log in, /me shows the user."""
    response = post(site.client, "/register", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 202
    assert "message" in response.json()
    path = link_path(site, EMAIL, "confirm")
    assert path.startswith(f"{PREFIX}/confirm/")
    get = site.client.get(path, headers=JSON_HEADERS)
    assert get.status_code == 200
    assert site.get_user(EMAIL).confirmed_at is None
    confirmed = post(site.client, path.removeprefix(PREFIX))
    assert confirmed.status_code == 200
    assert confirmed.json()["user"]["confirmed"] is True
    login(site)
    me = site.client.get(f"{PREFIX}/me", headers=JSON_HEADERS)
    assert me.status_code == 200
    body = me.json()["user"]
    assert body["email"] == EMAIL
    assert not {"password_hash", "security_stamp", "failed_logins"} & set(body)


def test_register_and_login_with_forms(site):
    """The HTML round trip: forms with CSRF fields, a neutral page, redirects to next."""
    response = form_post(
        site.client, "/register", {"email": EMAIL, "password": PASSWORD}, "/register"
    )
    assert response.status_code == 202
    assert "text/html" in response.headers["content-type"]
    path = link_path(site, EMAIL, "confirm")
    page = site.client.get(path)
    assert page.status_code == 200
    confirmed = form_post(site.client, path.removeprefix(PREFIX), {}, path.removeprefix(PREFIX))
    assert confirmed.status_code == 303
    response = form_post(
        site.client, "/login", {"email": EMAIL, "password": PASSWORD, "next": "/account"}, "/login"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


def test_form_errors_rerender_the_form(site):
    """A refused form comes back as the same page with the message and the email kept."""
    response = form_post(
        site.client, "/register", {"email": "bad", "password": PASSWORD}, "/register"
    )
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert 'value="bad"' in response.text
    assert PASSWORD not in response.text
    assert 'name="csrf_token"' in response.text


def test_le04_register_existing_email_same_response(site):
    """Registering a taken address answers exactly like a new one; the owner gets a notice."""
    site.create_user(EMAIL, PASSWORD)
    first = post(site.client, "/register", {"email": EMAIL, "password": PASSWORD})
    second = post(site.client, "/register", {"email": "new@example.com", "password": PASSWORD})
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    assert links(site, EMAIL, "existing_account")


def test_le03_forgot_and_resend_neutral(site):
    """Forgot-password and resend-confirmation answer the same for known and unknown addresses."""
    site.create_user(EMAIL, PASSWORD)
    site.create_user("pending@example.com", PASSWORD, confirmed=False)
    for path, known in (("/reset", EMAIL), ("/confirm", "pending@example.com")):
        a = post(site.client, path, {"email": known})
        b = post(site.client, path, {"email": "nobody@example.com"})
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        assert a.status_code == 202


# -- login ---------------------------------------------------------------------------------------


def test_le01_login_failures_identical(site):
    """Wrong password, unknown, unconfirmed and inactive accounts get byte-identical answers."""
    site.create_user(EMAIL, PASSWORD)
    site.create_user("pending@example.com", PASSWORD, confirmed=False)
    site.create_user("off@example.com", PASSWORD, active=False)
    answers = set()
    for email, password in (
        (EMAIL, "wrong password, sorry"),
        ("nobody@example.com", PASSWORD),
        ("pending@example.com", PASSWORD),
        ("off@example.com", PASSWORD),
    ):
        client = site.new_client()
        response = post(client, "/login", {"email": email, "password": password})
        headers = sorted(
            (k, v)
            for k, v in response.headers.items()
            if k not in {"date", "set-cookie", "content-length"}
        )
        answers.add((response.status_code, response.content, tuple(headers)))
    assert len(answers) == 1
    status, body, _ = answers.pop()
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_credentials"


def test_le05_new_session_id_at_login(site):
    """Login issues a new session cookie; a cookie from before is not accepted after."""
    site.create_user(EMAIL, PASSWORD)
    first = login(site).cookies.get(SESSION)
    post(site.client, "/logout")
    second = login(site).cookies.get(SESSION)
    assert first
    assert second
    assert first != second
    attacker = site.new_client()
    attacker.cookies.set(SESSION, first)
    assert attacker.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401


def test_ss01_cookie_attributes(site):
    """Session and remember cookies are __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain."""
    site.create_user(EMAIL, PASSWORD)
    response = login(site, remember=True)
    cookies = response.headers.get_list("set-cookie")
    for name in (SESSION, REMEMBER):
        (header,) = [c for c in cookies if c.startswith(name + "=")]
        attrs = [a.strip().lower() for a in header.split(";")[1:]]
        assert "secure" in attrs
        assert "httponly" in attrs
        assert "samesite=lax" in attrs
        assert "path=/" in attrs
        assert not any(a.startswith("domain") for a in attrs)
        value = header.split(";")[0].split("=", 1)[1]
        assert EMAIL not in value
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]+", value), value


def test_rl_login_rate_limited_with_retry_after(site_factory):
    """Too many logins from one address get 429 with Retry-After."""
    site = site_factory(rate_limits={"login": RateLimit(2, timedelta(minutes=5))})
    try:
        for _ in range(2):
            post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
        response = post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert error_code(response) == "rate_limited"
    finally:
        site.client.close()


def lock_by_guessing(site) -> None:
    """Ten wrong passwords a minute apart: the account locks (the default threshold)."""
    for attempt in range(10):
        if attempt:
            site.clock.advance(timedelta(minutes=1))
        response = post(site.client, "/login", {"email": EMAIL, "password": "a wrong guess"})
        assert error_code(response) == "invalid_credentials"


def unlock_path(site) -> str:
    mails = links(site, EMAIL, "account_locked")
    assert mails, "no lock notice"
    found = re.findall(r"https://\S+/unlock/\S+", mails[-1].text)
    assert found, mails[-1].text
    return urlsplit(found[-1]).path


def test_rl07_guesses_during_a_lock_never_extend_it(site):
    """An attacker's guess every minute during the lock is refused, yet the owner logs in
    lockout_duration (30 min) after the lock began."""
    site.create_user(EMAIL, PASSWORD)
    lock_by_guessing(site)
    owner = site.new_client()
    for minute in range(1, 41):
        site.clock.advance(timedelta(minutes=1))
        if minute == 29:
            refused = post(owner, "/login", {"email": EMAIL, "password": PASSWORD})
            assert error_code(refused) == "invalid_credentials"  # still locked
        if minute == 30:
            login(site, owner)
            me = owner.get(f"{PREFIX}/me", headers=JSON_HEADERS)
            assert me.status_code == 200
        response = post(site.client, "/login", {"email": EMAIL, "password": "a wrong guess"})
        assert error_code(response) == "invalid_credentials"
    assert len(links(site, EMAIL, "account_locked")) == 2  # a fresh threshold locked again


def test_rl07_unlock_link_works_once(site):
    """The lock notice's unlock link: GET shows a button and changes nothing, POST unlocks
    once, and the owner logs in at once."""
    site.create_user(EMAIL, PASSWORD)
    lock_by_guessing(site)
    path = unlock_path(site)
    assert path.startswith(f"{PREFIX}/unlock/")
    page = site.client.get(path)
    assert page.status_code == 200
    assert "Unlock" in page.text
    assert site.get_user(EMAIL).failed_logins == 10
    refused = post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
    assert error_code(refused) == "invalid_credentials"
    unlocked = form_post(site.client, path.removeprefix(PREFIX), {}, path.removeprefix(PREFIX))
    assert unlocked.status_code == 303
    assert unlocked.headers["location"] == f"{PREFIX}/login?notice=unlocked"
    assert site.get_user(EMAIL).failed_logins == 0
    again = post(site.client, path.removeprefix(PREFIX))
    assert again.status_code == 400
    assert error_code(again) == "invalid_token"
    login(site)


def test_rl06_forwarded_for_ignored_without_trusted_proxies(site_factory):
    """A spoofed X-Forwarded-For does not give a fresh rate-limit bucket."""
    site = site_factory(rate_limits={"login": RateLimit(1, timedelta(minutes=5))})
    try:
        post(site.client, "/login", {"email": EMAIL, "password": PASSWORD})
        response = post(
            site.client,
            "/login",
            {"email": EMAIL, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert response.status_code == 429
    finally:
        site.client.close()


# -- sessions ------------------------------------------------------------------------------------


def test_ss04_logout_kills_the_session_server_side(site):
    """After logout, replaying the old session cookie is anonymous."""
    site.create_user(EMAIL, PASSWORD)
    cookie = login(site).cookies.get(SESSION)
    assert post(site.client, "/logout").status_code == 204
    replay = site.new_client()
    replay.cookies.set(SESSION, cookie)
    assert replay.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401


def test_ss05_password_change_ends_other_sessions(site):
    """Changing the password on A ends B's session; A stays logged in with a new cookie."""
    site.create_user(EMAIL, PASSWORD)
    other = site.new_client()
    login(site)
    login(site, other)
    response = post(
        site.client,
        "/change-password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert other.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401
    assert site.client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 200


def test_ss06_deactivated_user_is_logged_out(site):
    """Deactivating a user ends their session at once."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    site.extras["deactivate"](EMAIL)
    assert site.client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401


def test_ss07_email_change_needs_fresh_reauth(site):
    """A stale session must re-enter the password before changing email."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    site.clock.advance(timedelta(minutes=11))
    body = {"password": "wrong password here", "new_email": "new@example.com"}
    assert post(site.client, "/change-email", body).status_code == 400
    assert post(site.client, "/reauth", {"password": PASSWORD}).status_code == 200
    body["password"] = PASSWORD
    assert post(site.client, "/change-email", body).status_code == 202
    path = link_path(site, "new@example.com", "change_email")
    assert post(site.client, path.removeprefix(PREFIX)).status_code == 200
    assert site.get_user("new@example.com") is not None


def test_remember_me_restores_session(site):
    """With only the remember-me cookie, a request is authenticated and gets new cookies."""
    site.create_user(EMAIL, PASSWORD)
    response = login(site, remember=True)
    device = site.new_client()
    device.cookies.set(REMEMBER, response.cookies.get(REMEMBER))
    me = device.get(f"{PREFIX}/me", headers=JSON_HEADERS)
    assert me.status_code == 200
    assert me.cookies.get(SESSION)
    assert me.cookies.get(REMEMBER) != response.cookies.get(REMEMBER)


def test_logout_everywhere(site):
    """Logging out everywhere ends the other client's session too."""
    site.create_user(EMAIL, PASSWORD)
    other = site.new_client()
    login(site)
    login(site, other)
    assert post(site.client, "/logout-everywhere").status_code == 204
    assert other.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401
    assert site.client.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401


def test_sessions_list_and_revoke(site):
    """A user lists sessions and ends another device's one (SS-08)."""
    site.create_user(EMAIL, PASSWORD)
    other = site.new_client()
    login(site)
    login(site, other)
    sessions = site.client.get(f"{PREFIX}/sessions", headers=JSON_HEADERS).json()["sessions"]
    assert len(sessions) == 2
    (theirs,) = [s for s in sessions if not s["current"]]
    response = site.client.delete(
        f"{PREFIX}/sessions/{theirs['id']}",
        headers={"X-CSRF-Token": csrf_token(site.client), **JSON_HEADERS},
    )
    assert response.status_code == 204
    assert other.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401


# -- reset ---------------------------------------------------------------------------------------


def test_reset_password_flow(site):
    """Forgot → link → new password; the link works once."""
    site.create_user(EMAIL, PASSWORD)
    assert post(site.client, "/reset", {"email": EMAIL}).status_code == 202
    path = link_path(site, EMAIL, "reset").removeprefix(PREFIX)
    assert site.client.get(PREFIX + path, headers=JSON_HEADERS).status_code == 200
    assert post(site.client, path, {"password": NEW_PASSWORD}).status_code == 200
    again = post(site.client, path, {"password": "and yet another passphrase"})
    assert again.status_code == 400
    assert error_code(again) == "invalid_token"
    login(site, password=NEW_PASSWORD)


def test_password_policy_errors_have_fields(site):
    """A short password is refused with 400 and a message on the password field."""
    response = post(site.client, "/register", {"email": EMAIL, "password": "short"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["password"]


# -- API tokens ----------------------------------------------------------------------------------


def test_tk09_api_token_header_only_and_revocable(site):
    """A token works as a Bearer header, never as ?token=, and stops when revoked."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    issued = post(site.client, "/tokens", {"name": "ci"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    api = site.new_client()
    auth = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
    assert api.get(f"{PREFIX}/me", headers=auth).status_code == 200
    assert api.get(f"{PREFIX}/me?token={token}", headers=JSON_HEADERS).status_code == 401
    listed = site.client.get(f"{PREFIX}/tokens", headers=JSON_HEADERS).json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"]
    assert token not in json.dumps(listed)
    revoke = site.client.delete(
        f"{PREFIX}/tokens/{issued.json()['id']}",
        headers={"X-CSRF-Token": csrf_token(site.client), **JSON_HEADERS},
    )
    assert revoke.status_code == 204
    assert api.get(f"{PREFIX}/me", headers=auth).status_code == 401


def test_bearer_requests_need_no_csrf(site):
    """A bearer-authenticated unsafe request needs no CSRF token."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    token = post(site.client, "/tokens", {"name": "ci"}).json()["token"]
    api = httpx.Client(transport=site.client._transport, base_url=str(site.client.base_url))
    response = api.post(
        f"{PREFIX}/logout-everywhere", headers={"Authorization": f"Bearer {token}", **JSON_HEADERS}
    )
    assert response.status_code == 204


# -- CSRF and redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/login", "/logout", "/register", "/change-password", "/reset", "/tokens", "/confirm"],
)
def test_cr01_unsafe_requests_need_csrf(site, path):
    """Without a CSRF token, or with a wrong one, every unsafe auth route answers 403."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    body = {"email": EMAIL, "password": PASSWORD}
    missing = site.client.post(f"{PREFIX}{path}", json=body, headers=JSON_HEADERS)
    wrong = site.client.post(
        f"{PREFIX}{path}", json=body, headers={"X-CSRF-Token": "x" * 64, **JSON_HEADERS}
    )
    for response in (missing, wrong):
        assert response.status_code == 403
        assert error_code(response) == "csrf_failed"


@pytest.mark.parametrize(
    "path", ["/login", "/register", "/reset", "/confirm", "/me", "/csrf", "/logout", "/tokens"]
)
def test_cr02_get_changes_nothing(site, path):
    """GET on auth routes sets no session cookie and reveals no token."""
    site.create_user(EMAIL, PASSWORD)
    response = site.client.get(f"{PREFIX}{path}")
    assert response.status_code in {200, 303, 401, 404, 405}
    assert SESSION not in response.cookies
    assert "dw_" not in response.text


def test_cr03_json_endpoints_refuse_other_content_types(site):
    """A JSON body sent as text/plain (no CORS preflight) is refused with 415."""
    token = csrf_token(site.client)
    response = site.client.post(
        f"{PREFIX}/login",
        content=json.dumps({"email": EMAIL, "password": PASSWORD}),
        headers={"Content-Type": "text/plain", "X-CSRF-Token": token, **JSON_HEADERS},
    )
    assert response.status_code == 415


CR04_TARGETS = [
    "//evil.com",
    "\\\\evil.com",
    "/\\evil.com",
    "\\/evil.com",
    " //evil.com",
    "\t//evil.com",
    "http:\\\\evil.com",
    "https://good@evil.com",
    "https://evil.com\\.good.com",
    "javascript:alert(1)",
    "%2F%2Fevil.com",
    "http://2130706433",
    "https://evil.com",
]


@pytest.mark.parametrize("target", CR04_TARGETS)
def test_cr04_open_redirects_refused(site, target):
    """After a form login, `next` pointing off-site is replaced by the default."""
    site.create_user(EMAIL, PASSWORD)
    response = form_post(
        site.client, "/login", {"email": EMAIL, "password": PASSWORD, "next": target}, "/login"
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))
    assert "evil" not in location


def test_cr05_never_redirect_to_referer(site):
    """Logout with an evil Referer redirects to the configured page."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    html = site.client.get(f"{PREFIX}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = site.client.post(
        f"{PREFIX}/logout", data={"csrf_token": token}, headers={"Referer": "https://evil.com/x"}
    )
    assert response.status_code == 303
    assert "evil" not in response.headers["location"]


def test_cr06_links_use_configured_base_url(site):
    """A Host header of evil.com does not change the host of the emailed link."""
    site.create_user(EMAIL, PASSWORD)
    token = csrf_token(site.client)
    site.client.post(
        f"{PREFIX}/reset",
        json={"email": EMAIL},
        headers={
            "Host": "evil.com",
            "X-Forwarded-Host": "evil.com",
            "X-CSRF-Token": token,
            **JSON_HEADERS,
        },
    )
    (mail,) = links(site, EMAIL, "reset")
    url = re.search(r"https?://\S+", mail.text).group(0)
    assert urlsplit(url).hostname == "auth.example.com"


# -- input validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"email": {"$gt": ""}, "password": PASSWORD},
        {"email": EMAIL, "password": {"$ne": None}},
        {"email": ["a@x.com"], "password": PASSWORD},
        {"email": 12, "password": 34},
        {"email": EMAIL, "password": PASSWORD, "remember": "maybe-not-a-bool"},
    ],
)
def test_iv02_strict_types(site, body):
    """Operator objects, lists and numbers are refused with 400 and a field message."""
    site.create_user(EMAIL, PASSWORD)
    response = post(site.client, "/login", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"validation_failed", "invalid_credentials"}


def test_iv03_mass_assignment_ignored(site):
    """Extra fields in a registration (roles, active, confirmed_at) are ignored."""
    post(
        site.client,
        "/register",
        {
            "email": EMAIL,
            "password": PASSWORD,
            "roles": ["admin"],
            "active": False,
            "confirmed_at": "2020-01-01",
        },
    )
    user = site.get_user(EMAIL)
    assert user.confirmed_at is None
    assert user.active is True


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'"just a string"', "application/json"),
        (b"email=%ff%fe&password=x", "application/x-www-form-urlencoded"),
    ],
)
def test_iv04_malformed_bodies_are_400_without_traces(site, content, ctype):
    """Broken bodies get a 400 error object with no stack trace."""
    token = csrf_token(site.client)
    response = site.client.post(
        f"{PREFIX}/login", content=content, headers={"Content-Type": ctype, "X-CSRF-Token": token}
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_body_too_large_is_413(site):
    """A body over the configured size is refused with 413."""
    token = csrf_token(site.client)
    response = site.client.post(
        f"{PREFIX}/login",
        content=b'{"email": "' + b"a" * 70_000 + b'"}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert response.status_code == 413


def test_pw08_huge_password_refused_quickly(site):
    """A 1 MB password is refused before any lookup or hashing (as an oversized body here)."""
    token = csrf_token(site.client)
    response = site.client.post(
        f"{PREFIX}/login",
        json={"email": EMAIL, "password": "x" * 1_000_000},
        headers={"X-CSRF-Token": token, **JSON_HEADERS},
    )
    assert response.status_code in {400, 413}


def test_unauthenticated_html_redirects_to_login(site):
    """A browser asking for an account page while logged out is sent to the login page."""
    response = site.client.get(f"{PREFIX}/change-password")
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{PREFIX}/login?next=")
    api = site.client.get(f"{PREFIX}/change-password", headers=JSON_HEADERS)
    assert api.status_code == 401


# -- security headers (HD-01..HD-03) --------------------------------------------------------------

#: Every route of the contract with all features on, as the adapters register them.
ROUTES = [
    (route.endpoint.method, route.path)
    for route in Views(Auth(contract_settings(), MemoryStore())).routes
]


def concrete(path: str) -> str:
    """A route's path with its parameters filled in (tokens and ids that do not exist)."""
    return re.sub(r"\{[a-z_]+\}", "cNotARealOne", path)


def assert_secured(response: httpx.Response, *, token_in_url: bool) -> None:
    """The headers every answer of doorward carries, on this response."""
    headers = response.headers
    assert headers.get("cache-control") == "no-store", response.request.url
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("content-security-policy") == "frame-ancestors 'none'"
    assert headers.get("referrer-policy") == ("no-referrer" if token_in_url else None)


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_hd01_hd02_hd03_headers_on_every_route(site, method, path, as_json):
    """Every route's answer, page or JSON, is no-store, nosniff and unframeable, and routes
    with a token in the URL send no referrer."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    url = f"{PREFIX}{concrete(path)}"
    accept = JSON_HEADERS if as_json else {"Accept": "text/html"}
    if method == "GET":
        response = site.client.get(url, headers=accept)
    else:
        token = csrf_token(site.client)
        if as_json:
            response = site.client.request(
                method, url, json={}, headers={"X-CSRF-Token": token, **accept}
            )
        else:
            response = site.client.request(method, url, data={"csrf_token": token}, headers=accept)
    assert response.status_code < 500, response.text
    assert_secured(response, token_in_url="{token}" in path)


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_hd01_headers_on_refusals(site, as_json):
    """Anonymous, CSRF-less and oversized requests are refused with the same headers."""
    accept = JSON_HEADERS if as_json else {"Accept": "text/html"}
    anonymous = site.client.get(f"{PREFIX}/me", headers=accept)
    assert anonymous.status_code == (401 if as_json else 303)
    no_csrf = site.client.post(f"{PREFIX}/reset/cNotARealOne", json={}, headers=accept)
    assert no_csrf.status_code == 403
    too_large = site.client.post(
        f"{PREFIX}/login",
        content=b'{"email": "' + b"a" * 70_000 + b'"}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf_token(site.client)},
    )
    assert too_large.status_code == 413
    for response, token_in_url in ((anonymous, False), (no_csrf, True), (too_large, False)):
        assert_secured(response, token_in_url=token_in_url)


def test_hd03_token_pages_send_no_referrer(site):
    """The pages of real mailed links (confirm, reset, unlock) send no referrer."""
    post(site.client, "/register", {"email": EMAIL, "password": PASSWORD})
    post(site.client, "/reset", {"email": EMAIL})
    site.create_user("locked@example.com", PASSWORD)
    for attempt in range(10):
        if attempt:
            site.clock.advance(timedelta(minutes=1))
        post(site.client, "/login", {"email": "locked@example.com", "password": "a wrong guess"})
    paths = [link_path(site, EMAIL, "confirm")]
    locked = links(site, "locked@example.com", "account_locked")[-1].text
    paths.append(urlsplit(re.findall(r"https://\S+/unlock/\S+", locked)[-1]).path)
    for path in paths:
        page = site.client.get(path)
        assert page.status_code == 200
        assert_secured(page, token_in_url=True)


def test_hd02_frame_ancestors_is_configurable(site_factory):
    """frame_ancestors="'self'" allows same-origin framing: CSP 'self' and SAMEORIGIN."""
    site = site_factory(frame_ancestors="'self'")
    page = site.client.get(f"{PREFIX}/login")
    assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    other = site_factory(frame_ancestors="'self' https://app.example.com")
    page = other.client.get(f"{PREFIX}/login", headers=JSON_HEADERS)
    assert (
        page.headers["content-security-policy"] == "frame-ancestors 'self' https://app.example.com"
    )
    assert "x-frame-options" not in page.headers
