"""The pages a person meets, on both adapters (issue 18's findings in a real browser): notice
and error pages with real titles, a way on after a dead link, focus on the first refused
field, who is logged in, readable dates and devices."""

from __future__ import annotations

import re

from tests.http.test_contract import EMAIL, PASSWORD, PREFIX, form_post, link_path, login

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1).strip()


def test_notice_page_has_a_title_and_heading(site):
    """After registering, the page is titled and headed "Check your inbox", not the host twice."""
    page = form_post(site.client, "/register", {"email": EMAIL, "password": PASSWORD}, "/register")
    assert page.status_code == 202
    assert title(page.text) == "Check your inbox · auth.example.com"
    assert "<h1>Check your inbox</h1>" in page.text


def test_dead_reset_link_offers_a_new_one(site):
    """A bad reset link's page says so, offers a new link, and its title has no stray dot."""
    page = site.client.get(f"{PREFIX}/reset/not-a-token")
    assert page.status_code == 400
    assert f'href="{PREFIX}/reset">Send me a new reset link' in page.text
    assert title(page.text) == "Something went wrong · auth.example.com"


def test_used_confirmation_link_offers_a_way_on(site):
    """A confirmation link used twice shows no Confirm button the second time, but a new link."""
    form_post(site.client, "/register", {"email": EMAIL, "password": PASSWORD}, "/register")
    path = link_path(site, EMAIL, "confirm").removeprefix(PREFIX)
    assert form_post(site.client, path, {}, path).status_code == 303
    again = form_post(site.client, path, {}, "/confirm")  # a tab still showing the button
    assert again.status_code == 400
    assert "Send me a new confirmation link" in again.text
    assert "Confirm my address" not in again.text
    revisited = site.client.get(f"{PREFIX}{path}")
    assert revisited.status_code == 400
    assert "Send me a new confirmation link" in revisited.text
    assert "Confirm my address" not in revisited.text


def test_refused_form_focuses_the_first_field_in_error(site):
    """The first refused field gets autofocus (and only that one)."""
    page = form_post(site.client, "/register", {"email": "nope", "password": "short"}, "/register")
    assert page.status_code == 400
    assert page.text.count("autofocus") == 1
    assert re.search(r'id="email"[^>]*autofocus', page.text, re.DOTALL)


def test_login_page_and_me_for_someone_logged_in(site):
    """The login page says who is logged in; /me speaks of the previous login, not "never"."""
    site.create_user(EMAIL, PASSWORD)
    login(site)
    assert f"You are logged in as {EMAIL}" in site.client.get(f"{PREFIX}/login").text
    me = site.client.get(f"{PREFIX}/me")
    assert "Previous login" in me.text
    assert "none before this one" in me.text
    assert "never" not in me.text


def test_sessions_page_shows_devices_and_dates_for_people(site):
    """The sessions page names the browser and shows the time as people read it."""
    site.create_user(EMAIL, PASSWORD)
    site.client.headers["User-Agent"] = FIREFOX
    login(site)
    page = site.client.get(f"{PREFIX}/sessions")
    assert "Firefox on Linux" in page.text
    assert "1 Jan 2030, 00:00 UTC" in page.text
    assert "T00:00:00" not in page.text


def test_navigation_knows_who_is_logged_in(site):
    """The default layout's navigation offers "Log in" to a visitor and "Your account" to
    someone logged in (it showed only "Home" to both)."""
    nav = re.compile(r"<nav[^>]*>(.*?)</nav>", re.DOTALL)
    visitor = nav.search(site.client.get(f"{PREFIX}/register").text).group(1)
    assert f'href="{PREFIX}/login"' in visitor
    assert f'href="{PREFIX}/account"' not in visitor
    site.create_user(EMAIL, PASSWORD)
    login(site)
    member = nav.search(site.client.get(f"{PREFIX}/sessions").text).group(1)
    assert f'<a href="{PREFIX}/account">Your account</a>' in member


def test_navigation_after_a_form(site):
    """A page answering a form names the viewer too (the new token's page)."""
    nav = re.compile(r"<nav[^>]*>(.*?)</nav>", re.DOTALL)
    site.create_user(EMAIL, PASSWORD)
    login(site)
    created = form_post(site.client, "/tokens", {"name": "ci"}, "/tokens")
    assert created.status_code == 201, created.status_code
    assert "Your account</a>" in nav.search(created.text).group(1)
