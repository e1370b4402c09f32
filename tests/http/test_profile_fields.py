"""The app's own sign-up fields over HTTP on both adapters: JSON registration takes them,
the register page renders and re-renders them with errors and values kept, every error is
reported at once, GET /me shows them, PATCH /me changes the editable ones only."""

from __future__ import annotations

import pytest

from doorward.fields import Field

FIELDS = (
    Field("display_name", max_length=20, editable=True),
    Field("team", choices=("red", "blue"), required=True),
    Field("newsletter", kind=bool, editable=True),
)
JSON = {"Accept": "application/json"}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(site_factory, adapter):
    if not adapter.endswith("memory"):
        pytest.skip("the default SQLAlchemy and Mongo test models have no such columns")
    return site_factory(signup_fields=FIELDS)


def csrf(client):
    return client.get("/auth/csrf", headers=JSON).json()["csrf_token"]


def test_signup_fields_in_json_registration_and_me(site):
    """Declared fields are stored at sign-up and shown in /me; unknown ones are not stored."""
    token = csrf(site.client)
    answer = site.client.post(
        "/auth/register",
        json={
            "email": "ada@example.com",
            "password": PASSWORD,
            "team": "red",
            "display_name": "Ada",
            "is_admin": True,
        },
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 202, answer.text
    user = site.get_user("ada@example.com")
    assert user.extra == {"team": "red", "display_name": "Ada", "newsletter": False}


def test_register_reports_every_error_at_once(site):
    """A bad email, a short password and a bad field are reported together (400)."""
    answer = site.client.post(
        "/auth/register",
        json={"email": "not an address", "password": "short", "team": "green"},
        headers={"X-CSRF-Token": csrf(site.client)},
    )
    assert answer.status_code == 400
    assert {"email", "password", "team"} <= set(answer.json()["error"]["fields"])


def test_register_page_renders_fields_and_keeps_values(site):
    """The page shows each field with its label; a refused form keeps the values and shows
    the error next to the field."""
    page = site.client.get("/auth/register")
    assert 'name="team"' in page.text
    assert "Display name" in page.text
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    refused = site.client.post(
        "/auth/register",
        data={
            "csrf_token": token,
            "email": "ada@example.com",
            "password": PASSWORD,
            "team": "green",
            "display_name": "Ada",
        },
    )
    assert refused.status_code == 400
    assert 'id="team-error"' in refused.text
    assert 'value="Ada"' in refused.text


def test_patch_me_changes_editable_fields_only(site):
    """PATCH /me writes editable fields, refuses others (IV-03) and unknown ones, 401 when anonymous."""
    site.create_user("ada@example.com", PASSWORD)
    assert site.client.patch("/auth/me", json={"display_name": "A"}, headers=JSON).status_code in {
        401,
        403,
    }
    token = csrf(site.client)
    site.client.post(
        "/auth/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    token = csrf(site.client)
    changed = site.client.patch(
        "/auth/me",
        json={"display_name": "Ada L.", "newsletter": True},
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["user"]["display_name"] == "Ada L."
    assert changed.json()["user"]["newsletter"] is True
    for body in (
        {"team": "blue"},
        {"active": False},
        {"email": "eve@example.com"},
        {"display_name": "x" * 21},
    ):
        refused = site.client.patch("/auth/me", json=body, headers={"X-CSRF-Token": token})
        assert refused.status_code == 400, body
    me = site.client.get("/auth/me", headers=JSON).json()["user"]
    assert (me["email"], me["active"], me["display_name"]) == ("ada@example.com", True, "Ada L.")
