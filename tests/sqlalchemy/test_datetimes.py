"""``UTCDateTime`` reads back what it wrote, aware and in UTC, on every path SQLite text takes."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine.processors import str_to_datetime

from doorward_sqlalchemy.models import UTCDateTime

#: what SQLite may hold in a DATETIME column: SQLAlchemy's own format with and without
#: microseconds, and text another writer left (an offset, a ``T``, a date alone, ``Z``)
TEXTS = [
    "2026-12-06 15:39:18.123456",
    "2026-12-06 15:39:18",
    "2026-12-06T15:39:18.5",
    "2026-12-06 15:39",
    "2026-12-06",
    "2026-12-06 15:39:18+01:00",
    "2026-12-06T15:39:18.123456-05:30",
    "2026-12-06 15:39:18Z",
    "2026-12-06 15:39:18.123+01",
]


def _reference(text: str) -> datetime:
    """What SQLAlchemy's conversion followed by ``process_result_value`` gives."""
    value = str_to_datetime(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.mark.parametrize("text", TEXTS)
def test_sqlite_text_reads_as_sqlalchemys_conversion_then_utc(text):
    process = UTCDateTime().dialect_impl(sqlite.dialect()).result_processor(
        sqlite.dialect(), None
    )
    found = process(text)
    assert found == _reference(text)
    assert found.tzinfo is UTC
    assert process(None) is None


def test_unparseable_sqlite_text_is_refused_as_sqlalchemy_refuses_it():
    process = UTCDateTime().dialect_impl(sqlite.dialect()).result_processor(
        sqlite.dialect(), None
    )
    with pytest.raises(ValueError):
        process("not a date")


@pytest.mark.parametrize("dialect", [postgresql.dialect(), mysql.dialect()])
def test_driver_datetimes_read_as_utc(dialect):
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    naive = datetime(2026, 12, 6, 15, 39, 18, 123456, tzinfo=UTC).replace(tzinfo=None)
    assert process(naive) == naive.replace(tzinfo=UTC)
    assert process(naive).tzinfo is UTC
    folded = naive.replace(fold=1)
    assert process(folded) == folded.replace(tzinfo=UTC)
    assert process(folded).fold == 1
    offset = datetime(2026, 12, 6, 16, 39, tzinfo=timezone(timedelta(hours=1)))
    assert process(offset) == offset
    assert process(offset).tzinfo is UTC
    assert process(None) is None


def test_a_sqlite_round_trip_keeps_the_instant(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/t.sqlite3")
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime()))
    table.metadata.create_all(engine)
    when = datetime(2026, 12, 6, 15, 39, 18, 123456, tzinfo=timezone(timedelta(hours=-3)))
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"at": when}, {"at": when.replace(microsecond=0)}])
        found = connection.execute(sa.select(table.c.at)).scalars().all()
    assert found == [when, when.replace(microsecond=0)]
    assert all(value.tzinfo is UTC for value in found)
    engine.dispose()
