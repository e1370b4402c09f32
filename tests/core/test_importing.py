"""read_users: JSON lines and CSV exports become checked users; a bad row is refused whole, with its line and field."""

import io
import json

import pytest

from doorward.hashing import Argon2Hasher
from doorward.importing import BadRow, ImportedUser, read_users
from doorward.legacy import DjangoVerifier, LegacyHasher
from doorward.settings import Argon2Params

DJANGO_HASH = "pbkdf2_sha256$1000000$salt$" + "A" * 43 + "="


def jsonl(*rows):
    return io.StringIO("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def refused(source, kind="jsonl", **options):
    with pytest.raises(BadRow) as caught:
        list(read_users(source, kind, **options))
    return caught.value


def test_json_lines_become_imported_users_with_their_extra_fields():
    """Every documented field is read, other fields go to extra, and blank lines are skipped."""
    source = jsonl(
        {
            "email": "Ann@Example.COM",
            "password_hash": DJANGO_HASH,
            "confirmed": True,
            "roles": ["editor", "admin", "editor"],
            "display_name": "Ann",
            "age": 42,
        },
        "",
        {"email": "bob@example.com"},
    )
    ann, bob = read_users(source)
    assert ann == ImportedUser(
        line=1,
        email="Ann@example.com",
        normalized_email="ann@example.com",
        password_hash=DJANGO_HASH,
        confirmed=True,
        active=True,
        roles=("editor", "admin"),
        extra={"display_name": "Ann", "age": 42},
    )
    assert (bob.line, bob.password_hash, bob.confirmed, bob.active, bob.roles) == (
        3,
        None,
        False,
        True,
        (),
    )


def test_csv_rows_become_imported_users_with_string_extra_fields(tmp_path):
    """A CSV file with a byte-order mark is read by path; flags, space-separated roles and empty hashes convert."""
    path = tmp_path / "users.csv"
    path.write_text(
        "\ufeffemail,password_hash,confirmed,active,roles,display_name\r\n"
        f'ann@example.com,{DJANGO_HASH},yes,,editor admin,"Ann, the first"\r\n'
        "bob@example.com,,0,false,,\r\n",
        encoding="utf-8",
    )
    ann, bob = read_users(path, "csv")
    assert (ann.line, ann.password_hash, ann.confirmed, ann.active, ann.roles) == (
        2,
        DJANGO_HASH,
        True,
        True,
        ("editor", "admin"),
    )
    assert ann.extra == {"display_name": "Ann, the first"}
    assert (bob.line, bob.password_hash, bob.confirmed, bob.active, bob.roles) == (
        3,
        None,
        False,
        False,
        (),
    )
    assert bob.extra == {"display_name": ""}


def test_csv_line_numbers_count_lines_inside_quoted_cells():
    """A row after a cell that spans two lines is reported at the line where it starts."""
    source = io.StringIO('email,note\na@example.com,"two\nlines"\nnot-an-address,x\n')
    error = refused(source, "csv")
    assert (error.line, error.field) == (4, "email")


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({"password_hash": DJANGO_HASH}, "email", "is required"),
        ({"email": "not an address"}, "email", "single email address"),
        ({"email": 42}, "email", "Enter an email address"),
        ({"email": ["a@example.com"]}, "email", "Enter an email address"),
        ({"email": "a@example.com", "confirmed": "yes"}, "confirmed", "true or false"),
        ({"email": "a@example.com", "active": 1}, "active", "true or false"),
        ({"email": "a@example.com", "roles": "admin"}, "roles", "list of role names"),
        ({"email": "a@example.com", "roles": ["admin", ""]}, "roles", "list of role names"),
        ({"email": "a@example.com", "password_hash": 12}, "password_hash", "must be a string"),
        (
            {"email": "a@example.com", "password_hash": {"h": 1}},
            "password_hash",
            "must be a string",
        ),
        ({"email": "a@example.com", "confirmed": []}, "confirmed", "true or false"),
        (
            {"email": "a@example.com", "password_hash": "has spaces in it"},
            "password_hash",
            "spaces",
        ),
        (
            {"email": "a@example.com", "password_hash": "x" * 1025},
            "password_hash",
            "not a password hash",
        ),
        ({"email": "a@example.com", "security_stamp": "x"}, "security_stamp", "kept by doorward"),
        (
            {"email": "a@example.com", "confirmed_at": "2020-01-01"},
            "confirmed_at",
            "kept by doorward",
        ),
        ({"email": "a@example.com", "first name": "A"}, "first name", "not a valid field name"),
        ({"email": "a@example.com", "class": "A"}, "class", "not a valid field name"),
    ],
)
def test_a_bad_field_refuses_the_row_naming_its_line_and_field(row, field, problem):
    """A row with one bad field raises BadRow with the row's line, the field and the problem."""
    error = refused(jsonl({"email": "first@example.com"}, row))
    assert (error.line, error.field) == (2, field)
    assert problem in error.problem
    assert error.fields == {field: [error.problem]}
    assert str(error).startswith(f"line 2, field {field!r}: ")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"email": "a@example.com", "email": "b@example.com"}', "appears twice"),
    ],
)
def test_a_line_that_is_no_json_object_is_refused(content, problem):
    """Invalid JSON, a non-object and a repeated key each refuse their line."""
    error = refused(io.StringIO('{"email": "first@example.com"}\n' + content + "\n"))
    assert error.line == 2
    assert problem in error.problem


def test_the_same_address_twice_is_refused_at_the_second_row():
    """Two rows whose addresses share a normalised email: the second is refused naming the first."""
    error = refused(
        jsonl(
            {"email": "ann@example.com"}, {"email": "bob@example.com"}, {"email": "ANN@example.com"}
        )
    )
    assert (error.line, error.field) == (3, "email")
    assert "line 1" in error.problem


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("name,password_hash\nann,\n", "no 'email' column"),
        ("email,email\na@example.com,b\n", "repeated column"),
        ("email,,x\na@example.com,b,c\n", "empty or repeated"),
    ],
)
def test_a_csv_header_that_cannot_be_read_is_refused_even_with_on_error(content, problem):
    """A bad header makes every row unreadable, so it raises even when rows are being collected."""
    collected = []
    error = refused(io.StringIO(content), "csv", on_error=collected.append)
    assert (error.line, error.field) == (1, None)
    assert problem in error.problem


def test_a_csv_row_with_too_many_or_too_few_cells_is_refused():
    """A row whose cell count differs from the header's is refused, not padded or cut."""
    error = refused(io.StringIO("email,roles\na@example.com,admin,extra\n"), "csv")
    assert (error.line, error.field) == (2, None)
    assert "3 cells" in error.problem
    error = refused(io.StringIO("email,roles\na@example.com\n"), "csv")
    assert "1 cells" in error.problem


def test_csv_flags_accept_only_the_documented_words():
    """A CSV flag other than true/false, 1/0, yes/no or empty is refused."""
    error = refused(io.StringIO("email,confirmed\na@example.com,maybe\n"), "csv")
    assert (error.line, error.field) == (2, "confirmed")


def test_on_error_collects_every_bad_row_and_only_whole_rows_are_yielded():
    """With on_error, bad rows are reported and skipped whole, and a refused row's address stays free."""
    collected = []
    users = list(
        read_users(
            jsonl(
                {"email": "ann@example.com", "roles": ["editor"]},
                {"email": "bob@example.com", "roles": "editor"},
                "{oops",
                {"email": "ann@example.com"},
                {"email": "cy@example.com"},
                {"email": "bob@example.com"},
            ),
            on_error=collected.append,
        )
    )
    assert [u.email for u in users] == ["ann@example.com", "cy@example.com", "bob@example.com"]
    assert [(e.line, e.field) for e in collected] == [(2, "roles"), (3, None), (4, "email")]


def test_check_hash_refuses_hashes_no_login_could_verify():
    """With LegacyHasher.recognizes as check_hash, a hash of an unconfigured format is refused."""
    hasher = LegacyHasher(Argon2Hasher(Argon2Params.insecure_for_tests()), [DjangoVerifier()])
    source = jsonl(
        {"email": "ann@example.com", "password_hash": DJANGO_HASH},
        {"email": "bob@example.com", "password_hash": "$1$saltsalt$e7fYkyvpYBBzRtA3cQFdM0"},
    )
    collected = []
    users = list(read_users(source, check_hash=hasher.recognizes, on_error=collected.append))
    assert [u.email for u in users] == ["ann@example.com"]
    assert [(e.line, e.field) for e in collected] == [(2, "password_hash")]


def test_an_unknown_format_name_is_refused():
    """Only 'jsonl' and 'csv' are formats."""
    with pytest.raises(ValueError, match="jsonl"):
        list(read_users(io.StringIO(""), "xml"))


def test_an_empty_source_has_no_users():
    """An empty JSON-lines file and an empty CSV file both yield nothing."""
    assert list(read_users(io.StringIO(""))) == []
    assert list(read_users(io.StringIO(""), "csv")) == []
