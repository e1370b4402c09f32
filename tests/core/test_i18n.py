"""The shipped catalogs and the choice of language (doorward.i18n)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from doorward import i18n
from doorward.exceptions import InvalidCredentials
from doorward.i18n import N_, Message

CORE = Path(i18n.__file__).resolve().parents[2]
SOURCE = CORE / "src" / "doorward"
POT = i18n.LOCALE_DIR / "doorward.pot"
#: The placeholders translations must keep: %(name)s (Python), $name (mails), and the
#: markup of mail paragraphs (<a href="$link">).
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\$\{?\w+\}?|<[^>]+>")


def _extracted() -> set[str]:
    with (CORE / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(
        str(SOURCE),
        method_map,
        options_map,
        keywords=keywords,
        directory_filter=lambda d: Path(d).name not in {"_sync", "__pycache__"},
    )
    return {msgid if isinstance(msgid, str) else msgid[0] for _, _, msgid, _, _ in found}


def _ids(catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_the_seven_languages_are_shipped():
    assert set(i18n.LOCALES) == {"en", "de", "fr", "es", "pt_BR", "ja", "zh_Hans"}


def test_the_template_is_current_with_the_marked_strings():
    """doorward.pot holds exactly the strings marked in the code, pages and mails
    (run ``scripts/i18n update`` after changing one)."""
    with POT.open("rb") as source:
        template = read_po(source)
    assert _ids(template) == _extracted()


@pytest.mark.parametrize("code", i18n.LOCALES)
def test_every_shipped_catalog_is_complete_with_matching_placeholders(code):
    """Each catalog has every message of the template, none fuzzy or empty (English may
    leave msgstr empty: the msgid is the text), none obsolete or extra, and every
    translation keeps exactly the placeholders and markup of its msgid."""
    with POT.open("rb") as source:
        template = read_po(source)
    path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / "doorward.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=code)
    assert _ids(catalog) == _ids(template), "run scripts/i18n update"
    assert not catalog.obsolete
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if code == i18n.DEFAULT_LOCALE and not any(strings):
            continue
        if not all(strings):
            problems.append(f"empty: {message.id!r}")
            continue
        want = _placeholders(ids[-1])
        for text in strings:
            if _placeholders(text) != want:
                problems.append(f"placeholders of {ids[0]!r}: {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("code", i18n.LOCALES)
def test_every_catalog_compiles_and_formats(code):
    """Every message of every catalog formats with its msgid's parameters."""
    lang = i18n.language(code)
    assert lang.code == code
    with POT.open("rb") as source:
        template = read_po(source)
    for message in template:
        if not message.id or isinstance(message.id, tuple):
            continue
        names = re.findall(r"%\((\w+)\)s", message.id)
        if names:
            assert lang.message(Message(message.id, dict.fromkeys(names, "x")))


def test_a_marked_message_is_its_english_text():
    """N_ keeps English code and tests working: the value is the English text."""
    message = N_("Use at least %(min)s characters (this has %(size)s).", min=15, size=3)
    assert message == "Use at least 15 characters (this has 3)."
    assert isinstance(message, str)
    assert pickle.loads(pickle.dumps(message)).params == {"min": 15, "size": 3}
    assert InvalidCredentials().message == "The email or password is not correct."
    german = i18n.language("de")
    assert german.localize({"m": [message]}) == {
        "m": ["Verwenden Sie mindestens 15 Zeichen (dieses hat 3)."]
    }
    assert german(InvalidCredentials().message) == "E-Mail-Adresse oder Passwort ist nicht korrekt."


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "de"),
        ("de-AT,en;q=0.5", "de"),
        ("en;q=0.4, fr-CH;q=0.9", "fr"),
        ("pt", "pt_BR"),
        ("pt-BR", "pt_BR"),
        ("zh-CN", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-TW, ja;q=0.1", "ja"),
        ("ES", "es"),
        ("it, nl", "en"),
        ("", "en"),
    ],
)
def test_accept_language_is_matched_to_the_shipped_locales(header, expected):
    assert i18n.select_locale({"accept-language": header}) == expected


@pytest.mark.parametrize(
    "header",
    [
        ";;;",
        "de;q=abc",
        "de;q=2",
        "*",
        "x" * 5000,
        "de;q=0.5," * 500,
        "\u00e9\u00e9, \x00",
        "en-" + "a" * 100,
        "q=1;de",
    ],
)
def test_a_malformed_accept_language_never_errors(header):
    assert i18n.select_locale({"accept-language": header}) in i18n.LOCALES


def test_the_first_choice_that_names_a_shipped_locale_wins():
    header = {"accept-language": "fr"}
    assert i18n.select_locale(header, lambda: "de-CH") == "de"
    assert i18n.select_locale(header, lambda: None, lambda: "de") == "de"
    assert i18n.select_locale({"accept-language": "de"}, lambda: "tlh") == "de"


def test_dates_are_formatted_for_the_locale():
    when = "2030-01-01T14:05:00+00:00"
    assert i18n.language("en").when(when) == "1 Jan 2030, 14:05 UTC"
    assert i18n.language("de").when(when) == "01.01.2030, 14:05 UTC"
    assert i18n.language("ja").when(when) == "2030/01/01 14:05 UTC"
    assert i18n.language("zh_Hans").when(when) == "2030年1月1日 14:05 UTC"
    assert i18n.language("de").number(12345) == "12.345"


def test_mail_paragraphs_are_the_msgids():
    text = "Hello,\n\nplease confirm your email address for $site_name by opening this\nlink:\n\n$link\n"
    found = [msgid for _, msgid in i18n.mail_messages("x.txt", text)]
    assert found == [
        "Hello,",
        "please confirm your email address for $site_name by opening this link:",
    ]
    german = i18n.translate_mail("x.txt", text, i18n.language("de"))
    assert german.startswith("Hallo,\n\nbitte bestätigen Sie Ihre E-Mail-Adresse für $site_name")
    assert german.endswith("\n\n$link\n")
