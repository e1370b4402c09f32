"""Mail messages and their rendering from overridable templates.

Each kind of mail has three templates: ``<kind>.subject``, ``<kind>.txt`` and
``<kind>.html``, written with ``string.Template`` placeholders (``$link``, ``$email``,
``$site_name``). The defaults ship in ``doorward/templates/mail/``; an application
overrides any of them with directories searched first, or with a mapping of file names
to text. Templates are checked when ``MailTemplates`` is built: a placeholder that is not
known stops start-up (a ``ConfigurationError``), never a send.

Mails are written in the language of the request that sent them: the paragraphs of the
bundled templates are msgids of doorward's catalogs (``doorward.i18n.translate_mail``).
An application's own template (a directory or an override) is used as it is, in every
language. The HTML part is wrapped in ``<div lang="...">`` naming its language.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs

from doorward import i18n
from doorward.exceptions import ConfigurationError

__all__ = ["KINDS", "PLACEHOLDERS", "Mail", "MailTemplates", "render_mail"]

#: Every kind of mail the flows send.
KINDS = (
    "confirm",
    "existing_account",
    "reset",
    "password_changed",
    "change_email",
    "email_changed",
    "account_locked",
)
#: The placeholders a template may use.
PLACEHOLDERS = frozenset({"link", "email", "site_name"})
#: Further placeholders of some bundled kinds (the lock notice's unlock link: RL-07).
KIND_PLACEHOLDERS: dict[str, frozenset[str]] = {"account_locked": frozenset({"unlock_link"})}
_PARTS = ("subject", "txt", "html")


@attrs.frozen(kw_only=True)
class Mail:
    """One rendered message. ``kind`` names the template (``confirm``, ``reset`` ...)."""

    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str = ""
    #: A decoy, never to be delivered: the neutral flows render and hand one to mailers
    #: that declare ``accepts_decoys = True`` when the address has no account, so both
    #: paths do the same work (LE-07). Such a mailer drops it where it would deliver.
    decoy: bool = False


class MailTemplates:
    """The templates of every kind, from overrides first and the bundled defaults last."""

    def __init__(
        self,
        directories: Sequence[str | Path] = (),
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._directories = tuple(directories)
        self._overrides = dict(overrides or {})
        self._templates: dict[str, string.Template] = {}
        self._placeholders: dict[str, frozenset[str]] = {}
        #: The bundled texts (translated per language), by template name.
        self._bundled: dict[str, str] = {}
        self._localized: dict[tuple[str, str], string.Template] = {}
        bundled = resources.files("doorward").joinpath("templates/mail")
        for kind in KINDS:
            self.add_kind(kind, bundled, KIND_PLACEHOLDERS.get(kind, PLACEHOLDERS))

    def add_kind(
        self,
        kind: str,
        folder: Traversable,
        placeholders: frozenset[str] = PLACEHOLDERS,
    ) -> None:
        """Load the three templates of a feature's mail kind: the app's first, then ``folder``.

        ``placeholders`` are the names its templates may use (checked now: a template with
        another stops start-up). Adding a kind twice keeps the first.
        """
        if kind in self._placeholders:
            return
        known = PLACEHOLDERS | placeholders
        for part in _PARTS:
            name = f"{kind}.{part}"
            text = self._find(name, self._directories, self._overrides)
            if text is None:
                text = folder.joinpath(name).read_text("utf-8")
                self._bundled[name] = text
            self._templates[name] = _checked(name, text, known)
        self._placeholders[kind] = known

    def placeholders(self, kind: str) -> frozenset[str]:
        """The names the templates of ``kind`` may use."""
        return self._placeholders.get(kind, PLACEHOLDERS)

    @staticmethod
    def _find(
        name: str, directories: Sequence[str | Path], overrides: Mapping[str, str]
    ) -> str | None:
        if name in overrides:
            return overrides[name]
        for directory in directories:
            path = Path(directory) / name
            if path.is_file():
                return path.read_text("utf-8")
        return None

    def render(
        self,
        kind: str,
        part: str,
        values: Mapping[str, str],
        language: i18n.Language | None = None,
    ) -> str:
        """One part of one kind with ``values`` substituted (already escaped as needed),
        in ``language`` when the template is a bundled one."""
        return self._template(f"{kind}.{part}", language).substitute(values)

    def _template(self, name: str, language: i18n.Language | None) -> string.Template:
        english = self._templates[name]
        if language is None or language.code == i18n.DEFAULT_LOCALE or name not in self._bundled:
            return english
        key = (name, language.code)
        if key not in self._localized:
            text = i18n.translate_mail(name, self._bundled[name], language)
            try:
                kind = name.rpartition(".")[0]
                self._localized[key] = _checked(name, text, self.placeholders(kind))
            except ConfigurationError:
                self._localized[key] = english  # a broken translation: the English text
        return self._localized[key]


def _checked(name: str, text: str, known: frozenset[str] = PLACEHOLDERS) -> string.Template:
    template = string.Template(text)
    if not template.is_valid():
        raise ConfigurationError(f"mail template {name} has a malformed placeholder")
    unknown = set(template.get_identifiers()) - known
    if unknown:
        raise ConfigurationError(
            f"mail template {name} uses unknown placeholders {sorted(unknown)}; "
            f"known: {sorted(known)}"
        )
    if name.endswith(".subject") and ("\n" in text.strip() or "\r" in text):
        raise ConfigurationError(f"mail template {name} must be one line")
    return template


def render_mail(
    kind: str,
    *,
    to: str,
    context: Mapping[str, str],
    templates: MailTemplates,
    language: i18n.Language | None = None,
) -> Mail:
    """Render one mail in ``language`` (English by default). Values are HTML-escaped in the
    HTML part; the subject stays one line."""
    lang = language or i18n.language()
    raw = {key: lang.localize(context.get(key, "")) for key in templates.placeholders(kind)}
    values = {key: str(value) for key, value in raw.items()}
    subject = " ".join(templates.render(kind, "subject", values, lang).split())
    text = templates.render(kind, "txt", values, lang)
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    body = templates.render(kind, "html", escaped, lang)
    body = f'<div lang="{lang.tag}">\n{body}</div>\n'
    return Mail(to=to, subject=subject, text=text, html=body, kind=kind)
