"""Languages end to end on both adapters (issue 18: "A German browser gets German pages and
German mails"): the Accept-Language header, the app's hook over it, ``lang`` on pages and
mails, dates for the locale, English for anything else."""

from __future__ import annotations

import importlib.util
import re

import pytest

from tests.http.test_contract import EMAIL, PASSWORD, PREFIX, form_post, login, post
from tests.http.test_pages import title

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def german(site):
    site.client.headers.update(GERMAN)
    return site


def test_german_browser_gets_german_login_page(site):
    page = german(site).client.get(f"{PREFIX}/login")
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert title(page.text) == "Anmelden · auth.example.com"
    assert "<h1>Anmelden</h1>" in page.text
    assert "Passwort vergessen?" in page.text
    assert "Forgot your password?" not in page.text


def test_german_register_errors_are_rerendered_in_german(site):
    page = form_post(
        german(site).client, "/register", {"email": "nope", "password": "short"}, "/register"
    )
    assert page.status_code == 400
    assert '<html lang="de">' in page.text
    assert "<h1>Konto erstellen</h1>" in page.text
    assert "Einige Felder sind ungültig." in page.text  # the alert
    assert "Verwenden Sie mindestens 15 Zeichen (dieses hat 5)." in page.text
    assert "Some fields are not valid." not in page.text


def test_german_json_errors_keep_their_code_and_translate_messages(site):
    response = post(german(site).client, "/register", {"email": "nope", "password": "short"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "Einige Felder sind ungültig."
    assert error["fields"]["password"] == ["Verwenden Sie mindestens 15 Zeichen (dieses hat 5)."]
    assert error["fields"]["email"] == ["Eine E-Mail-Adresse braucht ein @-Zeichen."]


@pytest.mark.parametrize(
    ("address", "german_message"),
    [
        ("ada@localhost", "Nach dem @ folgt ein Domainname mit einem Punkt, etwa example.com."),
        ("ada..lovelace@example.com", "Das ist keine gültige E-Mail-Adresse."),
    ],
)
def test_german_address_errors_are_german(site, address, german_message):
    """The email validator's refusals are doorward's own translated messages, not its
    English text."""
    response = post(german(site).client, "/register", {"email": address, "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["email"] == [german_message]


def test_german_neutral_answer_is_german_and_still_neutral(site):
    """The 202 of a reset request reads the same, in German, for a known or unknown address."""
    site.create_user(EMAIL, PASSWORD)
    german(site)
    known = post(site.client, "/reset", {"email": EMAIL})
    unknown = post(site.client, "/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.json()["message"].startswith("Falls zu dieser Adresse ein Konto gehört")


def test_german_register_sends_a_german_confirmation_mail(site):
    page = form_post(
        german(site).client, "/register", {"email": EMAIL, "password": PASSWORD}, "/register"
    )
    assert page.status_code == 202
    assert title(page.text) == "Sehen Sie in Ihrem Posteingang nach · auth.example.com"
    assert "Danke! Falls diese Adresse verwendet werden kann" in page.text
    (mail,) = [m for m in site.mails() if m.kind == "confirm"]
    assert mail.subject == "Bestätigen Sie Ihre E-Mail-Adresse für auth.example.com"
    assert mail.text.startswith("Hallo,\n\nbitte bestätigen Sie Ihre E-Mail-Adresse")
    assert "https://auth.example.com/auth/confirm/" in mail.text
    assert mail.html.startswith('<div lang="de">')
    assert "Meine Adresse bestätigen</a>" in mail.html
    # the link in the German mail works, and the page after it is German too
    path = re.search(r"https://auth\.example\.com(\S+)", mail.text).group(1)
    confirmed = form_post(site.client, path.removeprefix(PREFIX), {}, path.removeprefix(PREFIX))
    assert confirmed.status_code == 303
    notice = site.client.get(confirmed.headers["location"])
    assert "Ihre E-Mail-Adresse ist bestätigt." in notice.text


def test_english_stays_the_default(site):
    page = site.client.get(f"{PREFIX}/login")
    assert '<html lang="en">' in page.text
    assert "<h1>Log in</h1>" in page.text
    post(site.client, "/register", {"email": EMAIL, "password": PASSWORD})
    (mail,) = site.mails()
    assert mail.subject == "Confirm your email address for auth.example.com"
    assert mail.html.startswith('<div lang="en">')


@pytest.mark.parametrize("header", ["it-IT,nl;q=0.5", "x" * 3000, ";;q=abc,*", "de;q=0"])
def test_unknown_or_malformed_language_falls_back_to_english(site, header):
    page = site.client.get(f"{PREFIX}/login", headers={"Accept-Language": header})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "<h1>Log in</h1>" in page.text


def test_the_app_hook_wins_over_the_header(site_factory):
    site = site_factory(locale_selector=lambda request: "de")
    page = site.client.get(f"{PREFIX}/login", headers={"Accept-Language": "en"})
    assert '<html lang="de">' in page.text
    assert "<h1>Anmelden</h1>" in page.text
    refused = post(site.client, "/login", {"email": EMAIL, "password": "wrong"})
    assert refused.json()["error"]["message"] == "E-Mail-Adresse oder Passwort ist nicht korrekt."


def test_a_hook_answering_none_lets_the_header_decide(site_factory):
    seen = []

    def selector(request):
        seen.append(request.path)

    site = site_factory(locale_selector=selector)
    page = german(site).client.get(f"{PREFIX}/login")
    assert "<h1>Anmelden</h1>" in page.text
    assert seen == [f"{PREFIX}/login"]


def test_sessions_page_dates_and_devices_in_german(site):
    site.create_user(EMAIL, PASSWORD)
    german(site).client.headers["User-Agent"] = (
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
    )
    login(site)
    page = site.client.get(f"{PREFIX}/sessions")
    assert "<h1>Ihre Sitzungen</h1>" in page.text
    assert "Firefox unter Linux" in page.text
    assert "01.01.2030, 00:00 UTC" in page.text
    assert "(dieses Gerät)" in page.text
    assert "1 Jan 2030" not in page.text


@pytest.mark.skipif(
    importlib.util.find_spec("flask_babel") is None, reason="Flask-Babel is not installed"
)
def test_flask_babel_locale_is_followed(adapter):
    """On Flask, an app that set Flask-Babel up with a locale selector gets its locale."""
    if not adapter.startswith("flask-memory"):
        pytest.skip("Flask-Babel is Flask's; checked once on the memory store")
    from flask import Flask
    from flask_babel import Babel

    from doorward import MemoryStore
    from doorward_flask import Doorward
    from tests.http.conftest import contract_settings

    app = Flask(__name__)
    Babel(app, locale_selector=lambda: "de")
    Doorward(app, settings=contract_settings(), store=MemoryStore())
    page = app.test_client().get(f"{PREFIX}/login", headers={"Accept-Language": "en"})
    assert '<html lang="de">' in page.text
    assert "<h1>Anmelden</h1>" in page.text
    # Flask-Babel set up with neither selector nor default locale says nothing: the header decides
    plain = Flask(__name__)
    Babel(plain)
    Doorward(plain, settings=contract_settings(), store=MemoryStore())
    page = plain.test_client().get(f"{PREFIX}/login", headers={"Accept-Language": "de"})
    assert "<h1>Anmelden</h1>" in page.text
    page = plain.test_client().get(f"{PREFIX}/login")
    assert "<h1>Log in</h1>" in page.text
