"""Mail rendering from bundled and overridden templates."""

import pytest

from doorward.exceptions import ConfigurationError
from doorward.mail import KINDS, MailTemplates, render_mail

CONTEXT = {
    "link": "https://auth.example.com/auth/reset/TOKEN",
    "email": "a@x.org",
    "site_name": "Shop",
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_text_and_html_with_the_link(kind):
    """Each kind has a one-line subject, a text part and an HTML part carrying the caller's link."""
    mail = render_mail(kind, to="a@x.org", context=CONTEXT, templates=MailTemplates())
    assert mail.to == "a@x.org"
    assert kind == mail.kind
    assert "\n" not in mail.subject
    assert CONTEXT["link"] in mail.text
    assert f'href="{CONTEXT["link"]}"' in mail.html


def test_html_part_escapes_values():
    """A value with markup is escaped in the HTML part and left as text in the text part."""
    context = {**CONTEXT, "site_name": "<script>alert(1)</script>"}
    mail = render_mail("confirm", to="a@x.org", context=context, templates=MailTemplates())
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html


def test_subject_cannot_carry_header_injection():
    """Line breaks in a value become spaces in the subject."""
    context = {**CONTEXT, "site_name": "Shop\r\nBcc: victim@x.org"}
    mail = render_mail("reset", to="a@x.org", context=context, templates=MailTemplates())
    assert "\r" not in mail.subject
    assert "\n" not in mail.subject


def test_overrides_by_directory_and_mapping(tmp_path):
    """A directory's file replaces the default; a mapping entry wins over both."""
    (tmp_path / "reset.txt").write_text("Directory says: $link")
    (tmp_path / "reset.subject").write_text("Dir subject")
    templates = MailTemplates([tmp_path], overrides={"reset.subject": "Mapped $site_name"})
    mail = render_mail("reset", to="a@x.org", context=CONTEXT, templates=templates)
    assert mail.text == "Directory says: https://auth.example.com/auth/reset/TOKEN"
    assert mail.subject == "Mapped Shop"


@pytest.mark.parametrize(
    "override",
    [{"reset.txt": "Hi $password"}, {"reset.txt": "Bad $"}, {"confirm.subject": "two\nlines"}],
)
def test_bad_templates_stop_startup(override):
    """Unknown or malformed placeholders and multi-line subjects raise when templates load."""
    with pytest.raises(ConfigurationError):
        MailTemplates(overrides=override)
