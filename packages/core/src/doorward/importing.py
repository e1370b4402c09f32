"""Reading users exported from another system, with their old password hashes.

``read_users`` turns JSON lines or CSV into ``ImportedUser`` records, one per row. Each row
is checked whole: it is accepted with every field, or not at all. A bad row raises
``BadRow`` with its line and field, or, given ``on_error``, is reported there and skipped.
Nothing is written anywhere: creating the accounts is the caller's step.

JSON lines hold one object per line (blank lines are skipped)::

    {"email": "ann@example.com", "password_hash": "pbkdf2_sha256$...", "confirmed": true,
     "roles": ["editor"], "display_name": "Ann"}

CSV has a header row naming the fields, then one user per row. ``confirmed`` and ``active``
are ``true``/``false`` (or ``1``/``0``, ``yes``/``no``; empty for the default), ``roles``
are names separated by spaces, and every value of another field is a string.

``email`` is required. A missing or empty ``password_hash`` leaves the account without a
password (its owner sets one with a reset). ``confirmed`` defaults to false, ``active`` to
true. Any other field is the application's own (``extra``): its name must be a Python
identifier and not one of doorward's user fields, which an import never sets.
"""

from __future__ import annotations

import contextlib
import csv
import json
import keyword
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import attrs

from doorward.exceptions import DoorwardError, ValidationFailed
from doorward.policies import normalize_email
from doorward.records import USER_FIELDS

__all__ = ["BadRow", "ImportReport", "ImportedUser", "read_users"]

Format = Literal["jsonl", "csv"]

#: The longest stored hash accepted; real ones are under 200 characters.
MAX_HASH_LENGTH = 1024
_FIELDS = ("email", "password_hash", "confirmed", "active", "roles")
_CSV_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@attrs.frozen(kw_only=True)
class ImportedUser:
    """One user read from an export, checked and ready to be created."""

    #: The line of the source where the row starts.
    line: int
    email: str
    normalized_email: str
    password_hash: str | None
    confirmed: bool = False
    active: bool = True
    roles: tuple[str, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.define
class ImportReport:
    """What an import did: how many accounts it created, the lines whose address was taken."""

    created: int = 0
    taken: list[int] = attrs.field(factory=list)


class BadRow(DoorwardError, ValueError):
    """A row of an import that cannot be accepted: where it is and what is wrong."""

    code = "bad_import_row"

    def __init__(self, line: int, field: str | None, problem: str) -> None:
        self.line = line
        self.field = field
        self.problem = problem
        where = f"line {line}" if field is None else f"line {line}, field {field!r}"
        super().__init__(f"{where}: {problem}")

    @property
    def fields(self) -> Mapping[str, list[str]]:
        """The field and its problem, when the problem is one field's."""
        return {} if self.field is None else {self.field: [self.problem]}


def read_users(
    source: str | os.PathLike[str] | IO[str],
    format: Format = "jsonl",  # noqa: A002 (the name the CLI's --format option gives it)
    *,
    email_max_length: int = 254,
    check_hash: Callable[[str], bool] | None = None,
    on_error: Callable[[BadRow], None] | None = None,
) -> Iterator[ImportedUser]:
    """The users of a JSON-lines or CSV export (a path, or a text file that is open).

    ``check_hash`` refuses rows whose hash no login could verify, for example
    ``LegacyHasher.recognizes``. A second row with the same ``normalized_email`` is a bad
    row. Without ``on_error`` the first bad row raises ``BadRow``; a CSV header that
    cannot be read always does.
    """
    if format not in {"jsonl", "csv"}:
        raise ValueError(f"format is 'jsonl' or 'csv', not {format!r}")
    accepted: dict[str, int] = {}
    with _opened(source, format) as text:
        rows = _json_rows(text) if format == "jsonl" else _csv_rows(text)
        for line, row in rows:
            try:
                user = _user(
                    line,
                    row,
                    accepted=accepted,
                    as_csv=format == "csv",
                    email_max_length=email_max_length,
                    check_hash=check_hash,
                )
            except BadRow as error:
                if on_error is None:
                    raise
                on_error(error)
                continue
            yield user


@contextlib.contextmanager
def _opened(source: str | os.PathLike[str] | IO[str], format: Format) -> Iterator[IO[str]]:  # noqa: A002
    if isinstance(source, str | os.PathLike):
        # utf-8-sig: spreadsheet programs start their CSV with a byte-order mark
        with Path(source).open(encoding="utf-8-sig", newline="" if format == "csv" else None) as f:
            yield f
    else:
        yield source


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _json_rows(text: IO[str]) -> Iterator[tuple[int, Mapping[str, object] | BadRow]]:
    for line, content in enumerate(text, start=1):
        if not content.strip():
            continue
        try:
            value = json.loads(content, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            yield line, BadRow(line, str(exc), "appears twice")
            continue
        except json.JSONDecodeError as exc:
            yield line, BadRow(line, None, f"not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        if not isinstance(value, dict):
            yield line, BadRow(line, None, "expected a JSON object")
            continue
        yield line, value


def _csv_rows(text: IO[str]) -> Iterator[tuple[int, Mapping[str, object] | BadRow]]:
    reader = csv.reader(text, strict=True)
    try:
        first = next(reader, None)
        if first is None:
            return
        header = [name.strip() for name in first]
        if "email" not in header:
            raise BadRow(1, None, "the header row has no 'email' column")
        if len(set(header)) != len(header) or "" in header:
            raise BadRow(1, None, "the header row has an empty or repeated column name")
        end = reader.line_num
        for cells in reader:
            line, end = end + 1, reader.line_num
            if not cells:
                continue
            if len(cells) != len(header):
                problem = f"{len(cells)} cells where the header has {len(header)}"
                yield line, BadRow(line, None, problem)
                continue
            yield line, dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise BadRow(reader.line_num, None, f"not valid CSV ({exc})") from None


def _user(
    line: int,
    row: Mapping[str, object] | BadRow,
    *,
    accepted: dict[str, int],
    as_csv: bool,
    email_max_length: int,
    check_hash: Callable[[str], bool] | None,
) -> ImportedUser:
    """The checked user of one row, or ``BadRow`` (also the one its parser found).

    ``accepted`` maps the normalised email of each row accepted so far to its line.
    """
    if isinstance(row, BadRow):
        raise row
    for name in row:
        if name in _FIELDS:
            continue
        if name in USER_FIELDS:
            raise BadRow(line, name, "is kept by doorward; an import cannot set it")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise BadRow(line, name, "is not a valid field name (letters, digits, _)")
    if _blank(row.get("email")):
        raise BadRow(line, "email", "is required")
    try:
        email, key = normalize_email(row["email"], max_length=email_max_length)
    except ValidationFailed as exc:
        raise BadRow(line, "email", exc.fields["email"][0]) from None
    user = ImportedUser(
        line=line,
        email=email,
        normalized_email=key,
        password_hash=_password_hash(line, row.get("password_hash"), check_hash),
        confirmed=_flag(line, "confirmed", row.get("confirmed"), default=False, as_csv=as_csv),
        active=_flag(line, "active", row.get("active"), default=True, as_csv=as_csv),
        roles=_roles(line, row.get("roles"), as_csv=as_csv),
        extra={name: value for name, value in row.items() if name not in _FIELDS},
    )
    if key in accepted:
        raise BadRow(line, "email", f"the same address as line {accepted[key]}")
    accepted[key] = line
    return user


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value)


def _password_hash(
    line: int, value: object, check_hash: Callable[[str], bool] | None
) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise BadRow(line, "password_hash", "must be a string")
    if len(value) > MAX_HASH_LENGTH or not value.isascii() or not value.isprintable():
        raise BadRow(line, "password_hash", "is not a password hash (printable ASCII)")
    if " " in value:
        raise BadRow(line, "password_hash", "is not a password hash (it has spaces)")
    if check_hash is not None and not check_hash(value):
        raise BadRow(line, "password_hash", "has a format this site cannot verify")
    return value


def _flag(line: int, name: str, value: object, *, default: bool, as_csv: bool) -> bool:
    if value is None or (as_csv and _blank(value)):
        return default
    if as_csv and isinstance(value, str) and value.strip().lower() in _CSV_BOOLEANS:
        return _CSV_BOOLEANS[value.strip().lower()]
    if not as_csv and isinstance(value, bool):
        return value
    raise BadRow(line, name, "must be true or false")


def _roles(line: int, value: object, *, as_csv: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if as_csv and isinstance(value, str):
        names: list[object] = list(value.split())
    elif not as_csv and isinstance(value, list):
        names = value
    else:
        raise BadRow(line, "roles", "must be a list of role names")
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise BadRow(line, "roles", "must be a list of role names")
    return tuple(dict.fromkeys(str(name) for name in names))
