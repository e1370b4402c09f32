"""Languages: the gettext catalogs shipped in ``doorward/locale``, the request's locale,
and translation at render time.

Strings are written in English and *marked* where they are defined with ``N_`` (module
constants, error messages, field messages, notices, page titles). ``N_`` returns a
``Message``: a ``str`` whose value is the English text, which also remembers its msgid and
its parameters, so code and tests that compare or print it keep working. The views
translate every ``Message`` of an answer once, at the end, with the request's
``Language`` (``Language.localize``): in JSON error bodies (the ``code`` stays English),
in the 202 neutral messages and in page contexts. Templates get ``_``, ``ngettext``,
``when``, ``number`` and ``lang`` in their context and call ``{{ _("Log in") }}``: no Jinja
extension is needed, so every adapter renders translated pages unchanged.

The locale of a request, in this order: ``Settings.locale_selector(request)``, the
framework's own locale (``AsyncViews.framework_locale``, which the Flask adapter sets to
Flask-Babel's when Flask-Babel is initialised with a locale selector), the
``Accept-Language`` header, then English. Each is matched against the shipped locales
(``de_AT`` → ``de``, ``zh-CN`` → ``zh_Hans``, ``pt`` → ``pt_BR``).

Catalogs are the ``.po`` files themselves: they are compiled in memory with Babel the
first time a language is used (no ``.mo`` file can be stale). Mails: the paragraphs of
doorward's bundled mail templates are msgids too (``mail_messages`` finds them for the
extractor, ``translate_mail`` swaps them); an application's own template is never
translated.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Self

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "Language",
    "Message",
    "Moment",
    "N_",
    "current_language",
    "language",
    "select_locale",
]

#: The directory of the catalogs: ``<locale>/LC_MESSAGES/doorward.po``.
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "doorward"
DEFAULT_LOCALE = "en"
#: The shipped locales, English first.
LOCALES: tuple[str, ...] = (
    DEFAULT_LOCALE,
    *sorted(
        p.name
        for p in LOCALE_DIR.iterdir()
        if p.name != DEFAULT_LOCALE and (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
    ),
)
#: Tags that name a shipped locale only through a neighbour (lower case, ``_`` separated).
_ALIASES = {
    "pt": "pt_BR",
    "zh": "zh_Hans",
    "zh_cn": "zh_Hans",
    "zh_sg": "zh_Hans",
    "zh_hans_cn": "zh_Hans",
    "zh_hans_sg": "zh_Hans",
}
_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_MAX_LANGUAGES = 16


class Message(str):
    """A marked English text: its value is the English, ``msgid`` and ``params`` translate it.

    ``params`` fill the ``%(name)s`` placeholders of the msgid (the English value is
    ``msgid % params``); integers are written with the locale's digits grouping.
    """

    __slots__ = ("msgid", "params")
    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, params: Mapping[str, object] | None = None) -> Self:
        self = super().__new__(cls, msgid % dict(params) if params else msgid)
        self.msgid = msgid
        self.params = dict(params or {})
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.params))


def N_(msgid: str, **params: object) -> Message:  # noqa: N802 (the gettext convention)
    """Mark ``msgid`` for translation at render time; ``params`` fill its placeholders."""
    return Message(msgid, params)


class Moment(str):
    """A time shown to people: English by default, the request's format once localized."""

    __slots__ = ("moment",)
    moment: datetime

    def __new__(cls, moment: datetime) -> Self:
        moment = moment.astimezone(UTC)
        self = super().__new__(cls, f"{moment.day} {moment:%b %Y, %H:%M} UTC")
        self.moment = moment
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Moment, (self.moment,))


#: Types ``Language.localize`` keeps as they are: neither a ``Message`` nor a container.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class Language:
    """One locale's translations and formats: what a page or a mail is rendered with."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        self.code = code
        self.locale = Locale.parse(code)
        #: The BCP 47 tag for ``lang=""``: ``de``, ``pt-BR``, ``zh-Hans``.
        self.tag = code.replace("_", "-")
        self.translations = translations

    def __repr__(self) -> str:
        return f"Language({self.code!r})"

    def gettext(self, text: str) -> str:
        """The translation of ``text`` (itself when the catalog has none)."""
        return self.translations.gettext(text)

    def __call__(self, text: str, **params: object) -> str:
        """``_`` of templates: translate ``text`` (a msgid or a ``Message``), fill ``params``."""
        if isinstance(text, Message):
            return self.message(text)
        translated = self.gettext(text)
        return translated % self._params(params) if params else translated

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        """The form of ``singular``/``plural`` for ``n``; ``%(num)s`` is ``n``."""
        translated = self.translations.ngettext(singular, plural, n)
        return translated % self._params({"num": n, **params})

    def message(self, message: Message) -> str:
        """A ``Message`` in this language."""
        translated = self.gettext(message.msgid)
        return translated % self._params(message.params) if message.params else translated

    def _params(self, params: Mapping[str, object]) -> dict[str, object]:
        return {
            key: self.number(value) if type(value) is int else self.localize(value)
            for key, value in params.items()
        }

    def number(self, value: float) -> str:
        """A number written the locale's way."""
        return str(format_decimal(value, locale=self.locale))

    def when(self, value: datetime | str | None) -> str:
        """A time as people of this locale read it (UTC): "1 Jan 2030, 14:05 UTC"."""
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            moment = moment.astimezone(UTC)
        except (TypeError, ValueError, AttributeError):
            return str(value)  # not a time: shown as it is
        if self.code == DEFAULT_LOCALE:
            return str(Moment(moment))
        day = format_date(moment, "medium", locale=self.locale)
        hour = format_time(moment, "short", tzinfo=UTC, locale=self.locale)
        joined = str(self.locale.datetime_formats["medium"]).replace("'", "")
        return joined.replace("{1}", day).replace("{0}", hour) + " UTC"

    def localize(self, value: Any) -> Any:
        """``value`` with every ``Message`` and ``Moment`` in it (dicts, lists) translated."""
        if isinstance(value, Message):
            return self.message(value)
        if isinstance(value, Moment):
            return self.when(value.moment)
        # an item of exactly a _PLAIN type is kept without a call
        if isinstance(value, dict):
            return {
                key: item if type(item) in _PLAIN else self.localize(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [item if type(item) in _PLAIN else self.localize(item) for item in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(item if type(item) in _PLAIN else self.localize(item) for item in value)
        return value

    def context(self) -> dict[str, Any]:
        """What every page's template gets to translate and format with."""
        return {
            "_": self,
            "gettext": self,
            "ngettext": self.ngettext,
            "when": self.when,
            "number": self.number,
            "lang": self.tag,
            "language": self,
        }


def _compiled(code: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def language(code: str = DEFAULT_LOCALE) -> Language:
    """The ``Language`` of a shipped locale (``de_AT`` → ``de``; English for any other)."""
    return _language(code if code in LOCALES else match_locale(code) or DEFAULT_LOCALE)


@functools.cache
def _language(code: str) -> Language:
    return Language(code, _compiled(code))


def match_locale(wanted: object) -> str | None:
    """The shipped locale for a tag or ``babel.Locale`` (``de-AT`` → ``de``), else ``None``."""
    text = "" if wanted is None else str(wanted).strip()
    if not _TAG.fullmatch(text):
        return None
    tag = text.replace("-", "_")
    shipped = {code.lower(): code for code in LOCALES}
    lowered = tag.lower()
    primary = lowered.split("_", 1)[0]
    if lowered in shipped or lowered in _ALIASES:
        return shipped.get(lowered) or _ALIASES[lowered]
    found = negotiate_locale([tag], list(LOCALES), sep="_", aliases={})
    if found is not None and found.lower() in shipped:
        return shipped[found.lower()]
    if primary == "zh":  # Traditional Chinese (zh-TW, zh-Hant) is not shipped
        return (
            "zh_Hans" if "hant" not in lowered and lowered[3:5] not in {"tw", "hk", "mo"} else None
        )
    return _ALIASES.get(primary)


def accepted_languages(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, preferred first; junk is skipped."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1024].split(",")[:_MAX_LANGUAGES]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not _TAG.fullmatch(tag):
            continue
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
            if not 0 < quality <= 1:
                continue
        ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def select_locale(
    headers: Mapping[str, str],
    *choices: Callable[[], object],
) -> str:
    """The shipped locale of a request: the first of ``choices`` that names one, else the
    best of ``Accept-Language``, else English. A choice that names no shipped locale
    (or ``None``) is passed over."""
    for choice in choices:
        found = match_locale(choice())
        if found is not None:
            return found
    # only the first 1024 characters count (``accepted_languages``): a bounded cache key
    return _header_locale(headers.get("accept-language", "")[:1024])


@functools.lru_cache(maxsize=256)
def _header_locale(header: str) -> str:
    """The best shipped locale of an ``Accept-Language`` value, else English; a browser
    sends the same value with every request, so the answer is remembered."""
    for tag in accepted_languages(header):
        found = match_locale(tag)
        if found is not None:
            return found
    return DEFAULT_LOCALE


#: The language of the request being answered (mails sent while answering it use it).
_CURRENT: contextvars.ContextVar[Language | None] = contextvars.ContextVar(
    "doorward_language", default=None
)


def current_language() -> Language:
    """The language of the request being answered, English outside one."""
    return _CURRENT.get() or language()


def set_current(lang: Language) -> contextvars.Token[Language | None]:
    """Make ``lang`` the current request's language; ``reset_current`` undoes it."""
    return _CURRENT.set(lang)


def reset_current(token: contextvars.Token[Language | None]) -> None:
    """Undo ``set_current``."""
    _CURRENT.reset(token)


# -- mails -------------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HTML_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$(?:\w+|\{\w+\})")


def _spans(name: str, text: str) -> list[tuple[int, int]]:
    """Where the translatable paragraphs of a mail template are (start, end)."""
    if name.endswith(".html"):
        found = [m.span(1) for m in _HTML_PARAGRAPH.finditer(text)]
    elif name.endswith(".subject"):
        found = [(0, len(text))]
    else:
        found, start = [], 0
        for brk in _PARAGRAPH_BREAK.finditer(text):
            found.append((start, brk.start()))
            start = brk.end()
        found.append((start, len(text)))
    spans = []
    for start, end in found:
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk.rstrip())
        if any(ch.isalpha() for ch in _PLACEHOLDER.sub("", chunk)):
            spans.append((start + lead, start + trail))
    return spans


def _msgid(chunk: str) -> str:
    return " ".join(chunk.split())


def mail_messages(name: str, text: str) -> Iterator[tuple[int, str]]:
    """The (line, msgid) of each translatable paragraph of a mail template."""
    for start, end in _spans(name, text):
        yield text.count("\n", 0, start) + 1, _msgid(text[start:end])


def translate_mail(name: str, text: str, lang: Language) -> str:
    """A bundled mail template with its paragraphs in ``lang`` (English ones unchanged)."""
    pieces, last = [], 0
    for start, end in _spans(name, text):
        msgid = _msgid(text[start:end])
        translated = lang.gettext(msgid)
        pieces += [text[last:start], text[start:end] if translated == msgid else translated]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def extract_mail(
    fileobj: IO[bytes],
    keywords: object,  # noqa: ARG001 (Babel's extractor signature)
    comment_tags: object,  # noqa: ARG001 (Babel's extractor signature)
    options: object,  # noqa: ARG001 (Babel's extractor signature)
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method for mail templates (``doorward.i18n:extract_mail``)."""
    name = getattr(fileobj, "name", "")
    text = fileobj.read().decode("utf-8")
    for line, msgid in mail_messages(str(name), text):
        yield line, "", msgid, []
