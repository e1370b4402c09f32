"""The account center (``GET /account``) and ``DELETE /me`` on every adapter and store."""

from __future__ import annotations

from tests.http.test_contract import (
    EMAIL,
    JSON_HEADERS,
    PASSWORD,
    PREFIX,
    SESSION,
    csrf_token,
    error_code,
    form_post,
    login,
    post,
)

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def delete_me(client, body=None):
    headers = {"X-CSRF-Token": csrf_token(client), **JSON_HEADERS}
    if body is None:
        return client.request("DELETE", f"{PREFIX}/me", headers=headers)
    return client.request("DELETE", f"{PREFIX}/me", json=body, headers=headers)


def test_account_center_json_gathers_every_part(site):
    """GET /account: the user, password state, sessions (this one marked), tokens, MFA."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    post(site.client, "/tokens", {"name": "ci"})
    answer = site.client.get(f"{PREFIX}/account", headers=JSON_HEADERS)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["user"]["email"] == EMAIL
    assert body["has_password"] is True
    assert body["fresh"] is True
    assert [s["current"] for s in body["sessions"]] == [True]
    assert [t["name"] for t in body["tokens"]] == ["ci"]
    assert "secret_hash" not in str(body)
    if site.extras["auth"].enabled("mfa"):
        assert body["mfa"]["enabled"] is False


def test_account_page_shows_sessions_with_browser_names(site):
    """The page names each session's browser from its User-Agent, with its address and a
    "this device" marker on the current one; it links to every part."""
    site.create_user(EMAIL, PASSWORD)
    phone = site.new_client()
    phone.headers["User-Agent"] = IPHONE
    login(site, phone)
    login(site)
    page = site.client.get(f"{PREFIX}/account")
    assert page.status_code == 200
    html = page.text
    assert "Mobile Safari on iOS" in html
    assert "this device" in html
    for link in ("/change-password", "/change-email", "/sessions", "/tokens", "/me/delete"):
        assert f'href="{PREFIX}{link}"' in html
    assert f'href="{PREFIX}/account"' in site.client.get(f"{PREFIX}/me").text


def test_account_center_needs_a_session(site):
    """Anonymous: 401 JSON, browsers go to log in."""
    assert site.client.get(f"{PREFIX}/account", headers=JSON_HEADERS).status_code == 401
    page = site.client.get(f"{PREFIX}/account")
    assert page.status_code == 303
    assert "/login" in page.headers["location"]


def test_delete_me_with_a_fresh_session(site):
    """DELETE /me with no body from a fresh session: 204, cookies cleared, the account and
    its sessions gone, a notice mailed; the address can register again."""
    site.create_user(EMAIL, PASSWORD)
    other = site.new_client()
    login(site, other)
    login(site)
    answer = delete_me(site.client)
    assert answer.status_code == 204, answer.text
    assert f"{SESSION}=;" in answer.headers.get(
        "set-cookie", ""
    ) or "Max-Age=0" in answer.headers.get("set-cookie", "")
    assert site.get_user(EMAIL) is None
    assert other.get(f"{PREFIX}/me", headers=JSON_HEADERS).status_code == 401
    assert [m.kind for m in site.mails() if m.to == EMAIL][-1] == "account_deleted"
    assert (
        post(site.new_client(), "/register", {"email": EMAIL, "password": PASSWORD}).status_code
        == 202
    )


def test_delete_me_stale_session_needs_the_password(site):
    """A stale session: 401 reauth_required without a password; a wrong password refused
    (counted); the right one deletes."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    site.clock.advance(11 * 60)
    stale = delete_me(site.client)
    assert stale.status_code == 401
    assert error_code(stale) == "reauth_required"
    wrong = delete_me(site.client, {"password": "not the password at all"})
    assert wrong.status_code == 400
    assert site.get_user(EMAIL).failed_logins == 1
    assert delete_me(site.client, {"password": PASSWORD}).status_code == 204
    assert site.get_user(EMAIL) is None


def test_delete_me_refuses_api_tokens(site):
    """A bearer token cannot delete the account: it needs a browser session."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    token = post(site.client, "/tokens", {"name": "ci"}).json()["token"]
    api = site.new_client()
    answer = api.request(
        "DELETE", f"{PREFIX}/me", headers={"Authorization": f"Bearer {token}", **JSON_HEADERS}
    )
    assert answer.status_code == 401
    assert site.get_user(EMAIL) is not None


def test_delete_account_with_the_form(site):
    """The page's form: unticked → the form again with the field error; ticked → deleted,
    303 to the login page with a notice."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    page = site.client.get(f"{PREFIX}/me/delete")
    assert page.status_code == 200
    assert 'name="confirm"' in page.text
    unticked = form_post(site.client, "/me/delete", {}, "/me/delete")
    assert unticked.status_code == 400
    assert 'id="confirm-error"' in unticked.text
    assert site.get_user(EMAIL) is not None
    done = form_post(site.client, "/me/delete", {"confirm": "on"}, "/me/delete")
    assert done.status_code == 303
    assert done.headers["location"].endswith("/login?notice=account_deleted")
    assert site.get_user(EMAIL) is None
    notice = site.client.get(done.headers["location"]).text
    assert "Your account is deleted" in notice
