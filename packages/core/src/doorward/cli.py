"""``doorward``: manage users, roles and tokens of any app from the shell.

    doorward --app myapp.main:doorward users create ann@example.com --confirmed
    doorward --app myapp.main:auth roles create admin --permission users:edit
    doorward --app myapp.main:create_app users import export.jsonl --format csv
    doorward --app myapp.main:auth mail list --dead       # the outbox (doorward.outbox)
    doorward --app myapp.main:auth mail-worker            # deliver it from this process

``--app`` names an ``Auth`` or ``AsyncAuth``, or anything with an ``auth`` attribute that
is one (a Starlette ``Doorward``, a Flask extension), or a function returning either; the
default is ``$DOORWARD_APP``. The same commands as ``flask doorward``, for Starlette and
FastAPI apps (async flows run on a fresh event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import inspect
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from doorward._async.outbox import AsyncOutboxMailer
from doorward._async.service import AsyncAuth
from doorward._sync.outbox import OutboxMailer
from doorward._sync.service import Auth
from doorward.exceptions import DoorwardError
from doorward.importing import BadRow, read_users
from doorward.records import OutboxMessage, Role

__all__ = ["main"]


def load_auth(path: str) -> Auth | AsyncAuth:
    """The flows named by ``module:attribute`` (see the module docstring)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"--app wants module:attribute, not {path!r}")
    found: Any = getattr(importlib.import_module(module_name), attribute)
    if callable(found) and not isinstance(found, Auth | AsyncAuth) and not hasattr(found, "auth"):
        found = found()
    for candidate in (found, getattr(found, "auth", None)):
        if isinstance(candidate, Auth | AsyncAuth):
            return candidate
    extensions = getattr(found, "extensions", {})
    state = extensions.get("doorward") if isinstance(extensions, dict) else None
    flask_auth = getattr(state, "auth", None)
    if isinstance(flask_auth, Auth):
        return flask_auth
    raise SystemExit(f"{path} is not a doorward Auth, AsyncAuth or app that has one")


def _call(auth: Auth | AsyncAuth, name: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(auth, name)(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_awaited(result))
    return result


async def _awaited(result: Any) -> Any:
    return await result


def _password(given: str | None) -> str:
    if given is not None:
        return given
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise SystemExit("the passwords differ")
    return first


def _user(auth: Auth | AsyncAuth, email: str) -> Any:
    user = _call(auth, "get_user_by_email", email)
    if user is None:
        raise SystemExit(f"no user with the address {email}")
    return user


def _commands() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doorward", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default=os.environ.get("DOORWARD_APP"), help="module:attribute")
    groups = parser.add_subparsers(dest="group", required=True)
    users = groups.add_parser("users").add_subparsers(dest="command", required=True)
    create = users.add_parser("create", help="create a user")
    create.add_argument("email")
    create.add_argument("--password")
    create.add_argument("--confirmed", action="store_true")
    create.add_argument("--role", action="append", default=[])
    for name in ("activate", "deactivate", "delete"):
        users.add_parser(name).add_argument("email")
    users.add_parser(
        "reset-mfa", help="remove every second factor of a user (a notice is mailed)"
    ).add_argument("email")
    password = users.add_parser("set-password")
    password.add_argument("email")
    password.add_argument("--password")
    imported = users.add_parser("import", help="create users from an export with old hashes")
    imported.add_argument("path")
    imported.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    roles = groups.add_parser("roles").add_subparsers(dest="command", required=True)
    role = roles.add_parser("create")
    role.add_argument("name")
    role.add_argument("--description", default="")
    role.add_argument("--permission", action="append", default=[])
    for name in ("add", "remove"):
        change = roles.add_parser(name)
        change.add_argument("email")
        change.add_argument("name")
    roles.add_parser("list")
    roles.add_parser("delete").add_argument("name")
    tokens = groups.add_parser("tokens").add_subparsers(dest="command", required=True)
    revoke = tokens.add_parser("revoke")
    revoke.add_argument("email")
    revoke.add_argument("token_id")
    mail = groups.add_parser("mail", help="the outbox").add_subparsers(
        dest="command", required=True
    )
    listed = mail.add_parser("list", help="list messages, oldest first")
    listed.add_argument("--dead", action="store_true", help="only dead messages")
    listed.add_argument("--state", choices=["pending", "sent", "dead"])
    listed.add_argument("--limit", type=int, default=100)
    retry = mail.add_parser("retry", help="send dead messages again")
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead message")
    purge = mail.add_parser("purge", help="delete messages sent long ago")
    purge.add_argument("--days", type=float, default=7.0, help="older than this (default 7)")
    worker = groups.add_parser("mail-worker", help="deliver the outbox until stopped")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    return parser


def _import(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    bad: list[BadRow] = []
    rows = list(
        read_users(
            args.path,
            "csv" if args.format == "csv" else "jsonl",
            email_max_length=auth.settings.email_max_length,
            check_hash=getattr(auth.hasher, "recognizes", None),
            on_error=bad.append,
        )
    )
    if bad:
        for row in bad:
            print(row, file=sys.stderr)
        raise SystemExit(f"{len(bad)} bad rows; nothing was imported")
    report = _call(auth, "import_users", rows)
    return f"imported {report.created} users; {len(report.taken)} addresses already taken"


def _users(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    if args.command == "create":
        password = _password(args.password)
        _call(auth, "create_user", args.email, password, confirmed=args.confirmed, roles=args.role)
        return f"created {args.email}"
    if args.command == "import":
        return _import(auth, args)
    user = _user(auth, args.email)
    if args.command in {"activate", "deactivate"}:
        _call(auth, "set_active", user, args.command == "activate")
    elif args.command == "delete":
        _call(auth, "delete_user", user)
    elif args.command == "reset-mfa":
        removed = _call(auth, "reset_mfa", user)
        return f"removed {removed} second factors of {args.email}"
    else:
        _call(auth, "set_password", user, _password(args.password))
        return f"password set for {args.email}"
    return f"{args.command}d {args.email}"


def _roles(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    if args.command == "create":
        permissions = frozenset(args.permission)
        role = Role(name=args.name, description=args.description, permissions=permissions)
        _call(auth, "save_role", role)
        return f"saved role {args.name}"
    if args.command == "list":
        return "\n".join(
            f"{r.name}\t{' '.join(sorted(r.permissions))}\t{r.description}"
            for r in _call(auth, "list_roles")
        )
    if args.command == "delete":
        found = _call(auth, "delete_role", args.name)
        return f"deleted role {args.name}" if found else f"no role named {args.name}"
    user = _user(auth, args.email)
    if args.command == "add":
        _call(auth, "add_role", user, args.name)
        return f"{args.email} has role {args.name}"
    _call(auth, "remove_role", user, args.name)
    return f"{args.email} no longer has role {args.name}"


def _outbox_mailer(auth: Auth | AsyncAuth) -> Any:
    mailer = auth.mailer
    if not isinstance(mailer, OutboxMailer | AsyncOutboxMailer):
        raise SystemExit(
            f"the app's mailer ({type(mailer).__name__}) keeps no outbox: "
            "give it a doorward.outbox.OutboxMailer / AsyncOutboxMailer"
        )
    return mailer


def _done(result: Any) -> Any:
    return asyncio.run(_awaited(result)) if inspect.isawaitable(result) else result


def mail_lines(messages: Iterable[OutboxMessage]) -> str:
    """One tab-separated line per message (decoys left out): id, state, kind, attempts,
    next attempt, last error, recipient. Never the body: it carries the links' tokens."""
    return "\n".join(
        f"{m.id}\t{m.state}\t{m.kind or '-'}\t{m.attempts}\t"
        f"{m.next_attempt_at:%Y-%m-%d %H:%M:%S}\t{m.last_error or '-'}\t{m.to}"
        for m in messages
        if not m.decoy
    )


def _mail(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    mailer = _outbox_mailer(auth)
    if args.command == "list":
        state = "dead" if args.dead else args.state
        return mail_lines(_done(mailer.list_mail(state, args.limit)))
    if args.command == "retry":
        if not args.ids and not args.all:
            raise SystemExit("name the messages to retry, or --all")
        count = _done(mailer.retry_mail(None if args.all else args.ids))
        return f"{count} messages will be sent again"
    count = _done(mailer.purge_sent(timedelta(days=args.days)))
    return f"purged {count} sent messages"


def _mail_worker(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    worker = _outbox_mailer(auth).worker
    if args.once:
        claimed = _done(worker.drain())
    else:

        def stop(_signal: int, _frame: object) -> None:
            worker.background.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"doorward mail worker {worker.name}: delivering (Ctrl-C stops)", flush=True)
        _done(worker.run())
        claimed = worker.delivered + worker.failed + worker.discarded
    return (
        f"claimed {claimed}: delivered {worker.delivered}, failed {worker.failed} "
        f"(dead {worker.dead}), decoys dropped {worker.discarded}"
    )


def _run(auth: Auth | AsyncAuth, args: argparse.Namespace) -> str:
    if args.group == "mail":
        return _mail(auth, args)
    if args.group == "mail-worker":
        return _mail_worker(auth, args)
    if args.group == "users":
        return _users(auth, args)
    if args.group == "roles":
        return _roles(auth, args)
    _call(auth, "revoke_api_token", _user(auth, args.email), args.token_id)
    return f"revoked {args.token_id}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; doorward's refusals are printed, with exit status 1."""
    args = _commands().parse_args(argv)
    if not args.app:
        raise SystemExit("name the app: doorward --app module:attribute ... (or $DOORWARD_APP)")
    sys.path.insert(0, str(Path.cwd()))
    auth = load_auth(args.app)
    try:
        print(_run(auth, args))
    except DoorwardError as exc:
        detail = "; ".join(m for msgs in exc.fields.values() for m in msgs)
        print(f"{exc.message} {detail}".strip(), file=sys.stderr)
        return 1
    return 0
