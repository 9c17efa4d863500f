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


def _postgres_bin() -> Path | None:
    """The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


class PrivateCluster:
    """A PostgreSQL server of one test's own, on a free port, that the test may stop and start.

    Fault tests break this one, never the machine's server. As root, initdb and the server run as
    the `postgres` user (PostgreSQL refuses root).
    """

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        import os
        import subprocess

        as_postgres = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        subprocess.run([str(self.bin_dir / args[0]), *args[1:]], check=True, cwd=self.root, capture_output=True,
                       timeout=60, **as_postgres)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: every open connection is cut, as when a database server goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    import os
    import shutil
    import tempfile

    from tests.servers.smtp import free_port

    bin_dir = _postgres_bin()
    require_server(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="secor-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(bin_dir, root, free_port())
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except Exception:  # already stopped by the test
            pass
        shutil.rmtree(root, ignore_errors=True)
