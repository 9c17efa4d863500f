"""PostgreSQL for the tests: a fresh, uniquely named database per test on 127.0.0.1:5432.

Connects (trust auth, user postgres, else root) to the `test` database to CREATE DATABASE and DROP
it afterwards. `db_url` runs a test twice: on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

from tests.servers import require_server

HOST = "127.0.0.1"
PORT = 5432
ADMIN_DATABASE = "test"
USERS = ("postgres", "root")


@lru_cache(maxsize=1)
def postgres_user() -> str | None:
    """The first user that can log in to the admin database, or None when PostgreSQL is not there."""
    import psycopg

    for user in USERS:
        try:
            with psycopg.connect(host=HOST, port=PORT, user=user, dbname=ADMIN_DATABASE, connect_timeout=5):
                return user
        except psycopg.Error:
            continue
    return None


def _admin(user: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(host=HOST, port=PORT, user=user, dbname=ADMIN_DATABASE, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL (psycopg 3) of a new empty database, dropped after the test."""
    user = postgres_user()
    require_server(user is not None, "PostgreSQL")
    assert user is not None
    name = f"secor_test_{uuid.uuid4().hex[:12]}"
    _admin(user, f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://{user}@{HOST}:{PORT}/{name}"
    _admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'secor-intake.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db_sessions(db_url: str) -> Iterator["sessionmaker[Session]"]:
    """A session factory on a migrated database, on SQLite and on PostgreSQL (via `db_url`)."""
    from intake.db import make_engine, session_factory, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
