"""``flask doorward ...``: manage users, roles, tokens and the mail outbox from the shell."""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import Any

import click
from flask.cli import with_appcontext

from doorward import Role
from doorward.cli import mail_lines
from doorward.exceptions import DoorwardError
from doorward.importing import BadRow, read_users
from doorward.outbox import OutboxMailer
from doorward.records import OutboxState
from doorward_flask._state import state

__all__ = ["doorward_cli"]


@click.group("doorward")
def doorward_cli() -> None:
    """Manage doorward users, roles and API tokens."""


def _user(email: str) -> Any:
    user = state().auth.get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with the address {email}")
    return user


def _run(action: Any) -> None:
    try:
        action()
    except DoorwardError as exc:
        detail = "; ".join(m for msgs in exc.fields.values() for m in msgs)
        raise click.ClickException(f"{exc.message} {detail}".strip()) from None


@doorward_cli.group("users")
def users() -> None:
    """Create, activate, deactivate, delete users; set passwords."""


@users.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--confirmed/--unconfirmed", default=True, help="Mark the address confirmed.")
@click.option("--role", "roles", multiple=True, help="A role to give (repeatable).")
@with_appcontext
def create_user(email: str, password: str, confirmed: bool, roles: tuple[str, ...]) -> None:
    """Create a user."""
    _run(lambda: state().auth.create_user(email, password, confirmed=confirmed, roles=roles))
    click.echo(f"created {email}")


@users.command("activate")
@click.argument("email")
@with_appcontext
def activate(email: str) -> None:
    """Let a user log in again."""
    _run(lambda: state().auth.set_active(_user(email), active=True))
    click.echo(f"activated {email}")


@users.command("deactivate")
@click.argument("email")
@with_appcontext
def deactivate(email: str) -> None:
    """Stop a user from logging in and end their sessions and tokens now."""
    _run(lambda: state().auth.set_active(_user(email), active=False))
    click.echo(f"deactivated {email}")


@users.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def set_password(email: str, password: str) -> None:
    """Set a user's password (their sessions end)."""
    _run(lambda: state().auth.set_password(_user(email), password))
    click.echo(f"password set for {email}")


@users.command("delete")
@click.argument("email")
@click.confirmation_option(prompt="Delete this user for good?")
@with_appcontext
def delete(email: str) -> None:
    """Delete a user with their roles and credentials."""
    _run(lambda: state().auth.delete_user(_user(email)))
    click.echo(f"deleted {email}")


@users.command("reset-mfa")
@click.argument("email")
@with_appcontext
def reset_mfa(email: str) -> None:
    """Remove every second factor of a user (a lost phone); a notice is mailed."""
    removed: list[int] = []
    _run(lambda: removed.append(state().auth.reset_mfa(_user(email))))
    click.echo(f"removed {removed[0] if removed else 0} second factors of {email}")


@users.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "form", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@with_appcontext
def import_users(path: str, form: str) -> None:
    """Create users from an export with their old password hashes (JSON lines or CSV).

    Every row is checked before anything is written; an address that already has an
    account is skipped. Old hashes need a doorward.legacy.LegacyHasher to log in.
    """
    auth = state().auth
    bad: list[BadRow] = []
    rows = list(
        read_users(
            path,
            "csv" if form == "csv" else "jsonl",
            email_max_length=auth.settings.email_max_length,
            check_hash=getattr(auth.hasher, "recognizes", None),
            on_error=bad.append,
        )
    )
    if bad:
        for row in bad:
            click.echo(str(row), err=True)
        raise click.ClickException(f"{len(bad)} bad rows; nothing was imported")
    report = auth.import_users(rows)
    click.echo(f"imported {report.created} users; {len(report.taken)} addresses already taken")
    for line in report.taken:
        click.echo(f"line {line}: the address already has an account", err=True)


@doorward_cli.group("roles")
def roles() -> None:
    """Create roles, give and take them, list them."""


@roles.command("create")
@click.argument("name")
@click.option("--description", default="")
@click.option("--permission", "permissions", multiple=True, help="A permission (repeatable).")
@with_appcontext
def create_role(name: str, description: str, permissions: tuple[str, ...]) -> None:
    """Create a role (or replace its description and permissions)."""
    role = Role(name=name, description=description, permissions=frozenset(permissions))
    _run(lambda: state().auth.save_role(role))
    click.echo(f"saved role {name}")


@roles.command("add")
@click.argument("email")
@click.argument("name")
@with_appcontext
def add_role(email: str, name: str) -> None:
    """Give a user a role."""
    _run(lambda: state().auth.add_role(_user(email), name))
    click.echo(f"{email} has role {name}")


@roles.command("remove")
@click.argument("email")
@click.argument("name")
@with_appcontext
def remove_role(email: str, name: str) -> None:
    """Take a role from a user."""
    _run(lambda: state().auth.remove_role(_user(email), name))
    click.echo(f"{email} no longer has role {name}")


@roles.command("list")
@with_appcontext
def list_roles() -> None:
    """List the roles and their permissions."""
    for role in state().auth.list_roles():
        click.echo(f"{role.name}\t{' '.join(sorted(role.permissions))}\t{role.description}")


@roles.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Delete this role and take it from everyone?")
@with_appcontext
def delete_role(name: str) -> None:
    """Delete a role; everyone who had it loses it."""
    if not state().auth.delete_role(name):
        raise click.ClickException(f"no role named {name}")
    click.echo(f"deleted role {name}")


@doorward_cli.group("tokens")
def tokens() -> None:
    """Revoke API tokens."""


@tokens.command("revoke")
@click.argument("email")
@click.argument("token_id")
@with_appcontext
def revoke(email: str, token_id: str) -> None:
    """Revoke one API token of a user."""
    _run(lambda: state().auth.revoke_api_token(_user(email), token_id))
    click.echo(f"revoked {token_id}")


def _outbox_mailer() -> OutboxMailer:
    mailer = state().auth.mailer
    if not isinstance(mailer, OutboxMailer):
        raise click.ClickException(
            f"the app's mailer ({type(mailer).__name__}) keeps no outbox: "
            "give Doorward a doorward.outbox.OutboxMailer"
        )
    return mailer


@doorward_cli.group("mail")
def mail() -> None:
    """List, retry and purge the mail outbox."""


@mail.command("list")
@click.option("--dead", is_flag=True, help="Only dead messages.")
@click.option("--state", "wanted", type=click.Choice(["pending", "sent", "dead"]))
@click.option("--limit", type=int, default=100)
@with_appcontext
def list_mail(dead: bool, wanted: OutboxState | None, limit: int) -> None:
    """List messages, oldest first: id, state, kind, attempts, next attempt, error, recipient."""
    messages = _outbox_mailer().list_mail("dead" if dead else wanted, limit)
    text = mail_lines(messages)
    if text:
        click.echo(text)


@mail.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead message.")
@with_appcontext
def retry_mail(ids: tuple[str, ...], every: bool) -> None:
    """Send dead messages again (these IDs, or --all)."""
    if not ids and not every:
        raise click.ClickException("name the messages to retry, or --all")
    count = _outbox_mailer().retry_mail(None if every else ids)
    click.echo(f"{count} messages will be sent again")


@mail.command("purge")
@click.option("--days", type=float, default=7.0, help="Sent more than this many days ago.")
@with_appcontext
def purge_mail(days: float) -> None:
    """Delete messages sent long ago."""
    count = _outbox_mailer().purge_sent(timedelta(days=days))
    click.echo(f"purged {count} sent messages")


@doorward_cli.command("mail-worker")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@with_appcontext
def mail_worker(once: bool) -> None:
    """Deliver the outbox from this process until stopped (Ctrl-C, SIGTERM)."""
    worker = _outbox_mailer().worker
    if once:
        claimed = worker.drain()
    else:

        def stop(_signal: int, _frame: object) -> None:
            worker.background.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"doorward mail worker {worker.name}: delivering (Ctrl-C stops)")
        worker.run()
        claimed = worker.delivered + worker.failed + worker.discarded
    click.echo(
        f"claimed {claimed}: delivered {worker.delivered}, failed {worker.failed} "
        f"(dead {worker.dead}), decoys dropped {worker.discarded}"
    )
