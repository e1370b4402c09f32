"""Fixtures shared by the SQLAlchemy store's tests."""

import pytest
import sqlalchemy as sa

from doorward_sqlalchemy import sqlite_engine
from doorward_sqlalchemy.models import Base


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def engine(request, tmp_path):
    """An engine on each database, its default tables made anew (a module may define its
    own ``engine``)."""
    if request.param == "sqlite":
        made = sqlite_engine(f"sqlite:///{tmp_path}/store.sqlite3")
    else:
        made = sa.create_engine(request.getfixturevalue(f"{request.param}_database"))
        Base.metadata.drop_all(made)
    Base.metadata.create_all(made)
    yield made
    made.dispose()
