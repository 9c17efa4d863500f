"""Alembic environment for secor-intake, run programmatically by `intake.db.upgrade`.

The caller passes an open connection in `config.attributes["connection"]`; without one (alembic's
own command line, for writing a new revision) `sqlalchemy.url` from the Alembic config is used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from intake.db import Base, make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no connection and no sqlalchemy.url to migrate")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("secor-intake migrations run online only: use `secor-intake db upgrade`")
run_migrations_online()
