"""The tracking database: migrations equal the models, aware UTC datetimes, constraints, SQLite set-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from intake.db import (
    Base,
    Case,
    FindingRow,
    FolderProgress,
    InboxMessage,
    Reply,
    Version,
    alembic_config,
    head_revision,
    make_engine,
    record_version,
    session_factory,
    upgrade,
)
from tests.concurrency import run_together
from triage.findings import finding
from triage.report import DocumentInfo, Report, Source

MOUNTAIN = timezone(timedelta(hours=-7))


def _message(uid: str = "1", **overrides: object) -> InboxMessage:
    values: dict[str, object] = dict(account="maildir:/srv/cor", folder="INBOX", uidvalidity="1700000000", uid=uid,
                                     message_id=f"<m{uid}@acme-roofing.ca>", size=1234,
                                     received_at=datetime(2026, 11, 24, 9, 15, 42, tzinfo=MOUNTAIN),
                                     sender="jane.doe@acme-roofing.ca", subject="SECOR submission 2026")
    values.update(overrides)
    return InboxMessage(**values)


def _report() -> Report:
    return Report(
        source=Source(kind="attachment", name="Acme SECOR 2026.zip"),
        findings=[finding("structure.missing_element", "No folder for element 6, Emergency Response."),
                  finding("label.unclear_name", "scan0001.pdf says nothing about what it is.", "Element 2/scan0001.pdf")],
        summary={"files": 2},
        documents=[DocumentInfo("Element 2/scan0001.pdf", 10, "ab" * 32, "application/pdf", "2"),
                   DocumentInfo("SECOR Evaluation 2026.pdf", 20, "cd" * 32, "application/pdf", None)],
    )


def test_migrated_schema_equals_models_and_upgrade_twice_is_a_no_op(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            tables_once = sorted(inspect(connection).get_table_names())
        upgrade(db_url)  # again, by URL this time
        with engine.connect() as connection:
            assert sorted(inspect(connection).get_table_names()) == tables_once
            assert set(Base.metadata.tables) | {"alembic_version"} == set(tables_once)
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_head_revision_is_alembics_head_and_each_file_is_named_after_its_revision() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    for script in scripts.walk_revisions():
        assert script.path is not None and script.path.rpartition("/")[2].startswith(f"{script.revision}_")


def test_a_database_at_an_older_revision_is_migrated_to_the_newest(db_url: str) -> None:
    """`upgrade` leaves a database at the newest revision alone without Alembic; an older one it migrates."""
    from alembic import command

    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0003")
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []  # 0004 applied
    finally:
        engine.dispose()


def test_datetimes_come_back_aware_in_utc(db_sessions) -> None:
    with db_sessions.begin() as session:
        session.add(_message())
    with db_sessions() as session:
        loaded = session.scalars(select(InboxMessage)).one()
        assert loaded.received_at.utcoffset() == timedelta(0)
        assert loaded.received_at == datetime(2026, 11, 24, 16, 15, 42, tzinfo=timezone.utc)
        assert loaded.created_at.tzinfo is not None and loaded.updated_at.tzinfo is not None
        # comparisons in SQL use the same instant whatever zone the parameter is in
        found = session.scalar(select(InboxMessage.id).where(
            InboxMessage.received_at == datetime(2026, 11, 24, 16, 15, 42, tzinfo=timezone.utc)))
        assert found == loaded.id


def test_naive_datetimes_are_refused(db_sessions) -> None:
    with db_sessions() as session:
        session.add(_message(received_at=datetime(2026, 11, 24, 9, 15)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


def test_message_claim_is_unique_per_mailbox_uid(db_sessions) -> None:
    with db_sessions.begin() as session:
        session.add(_message("7"))
    with db_sessions() as session:
        session.add(_message("7", message_id="<other@acme-roofing.ca>"))
        with pytest.raises(IntegrityError):
            session.flush()
    with db_sessions.begin() as session:
        session.add(_message("7", uidvalidity="1800000000"))  # a recreated folder starts over


def test_record_version_numbers_versions_and_keeps_documents_and_findings(db_sessions) -> None:
    with db_sessions.begin() as session:
        first, second = _message("1"), _message("2")
        case = Case(tracking_number="SECOR-2026-000001", submitter="jane.doe@acme-roofing.ca",
                    submitter_name="Jane Doe", subject="SECOR submission 2026", received_at=first.received_at)
        session.add_all([first, second, case])
        v1 = record_version(session, case, first, _report(), storage_path="var/submissions/SECOR-2026-000001/1")
        v2 = record_version(session, case, second, Report(source=Source(kind="link", url="https://x/y"), findings=[]))
    with db_sessions() as session:
        case = session.scalars(select(Case)).one()
        assert [v.number for v in case.versions] == [1, 2]
        assert case.verdict == "accepted"  # the latest version's
        one = case.versions[0]
        assert one.verdict == "needs_review" and one.source_name == "Acme SECOR 2026.zip"
        assert one.report["findings"][1]["path"] == "Element 2/scan0001.pdf"
        assert [d.path for d in one.documents] == ["Element 2/scan0001.pdf", "SECOR Evaluation 2026.pdf"]
        assert [(f.code, f.severity) for f in one.findings] == [("structure.missing_element", "warn"),
                                                                ("label.unclear_name", "warn")]
        message = session.get(InboxMessage, one.message_id)
        assert message.uid == "1" and message.version_id == v1.id and message.submission_id == case.id
        assert session.get(InboxMessage, v2.message_id).version_id == v2.id
    with db_sessions() as session:
        case = session.scalars(select(Case)).one()
        session.add(Version(submission_id=case.id, number=2, message_id=v1.message_id, verdict="accepted",
                            source_kind="attachment"))
        with pytest.raises(IntegrityError):  # unique(submission_id, number)
            session.flush()


def test_one_reply_per_version_is_a_database_rule(db_sessions) -> None:
    with db_sessions.begin() as session:
        message = _message()
        case = Case(tracking_number="SECOR-2026-000001", submitter="a@b.ca", received_at=message.received_at)
        session.add_all([message, case])
        version = record_version(session, case, message, _report())
        session.flush()
        version_id, case_id = version.id, case.id

    def reply(n: int) -> Reply:
        return Reply(submission_id=case_id, version_id=version_id, recipient="a@b.ca", subject="Re: x",
                     message_id=f"<r{n}@youracsa.ca>", raw=b"x")

    with db_sessions.begin() as session:
        session.add(reply(1))
    with db_sessions() as session:
        session.add(reply(2))
        with pytest.raises(IntegrityError):
            session.flush()


def test_check_constraints_reject_unknown_states(db_sessions) -> None:
    with db_sessions() as session:
        session.add(_message(state="lost"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_folder_state_is_unique_per_account_and_folder(db_sessions) -> None:
    with db_sessions.begin() as session:
        session.add(FolderProgress(account="imap://cor@mail:993", folder="INBOX", uidvalidity="5", last_uid="42"))
    with db_sessions() as session:
        state = session.scalars(select(FolderProgress)).one()
        assert state.last_uid == "42" and state.first_seen_at.tzinfo is not None
        session.add(FolderProgress(account="imap://cor@mail:993", folder="INBOX", uidvalidity="6"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite3'}")  # the folder is created
    try:
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
        with session_factory(engine)() as session:
            session.add(FindingRow(version_id=999, code="x", severity="warn", message="m"))
            with pytest.raises(IntegrityError):  # no such version: foreign keys are enforced
                session.flush()
    finally:
        engine.dispose()


def test_savepoints_work_on_sqlite(tmp_path) -> None:
    """The pysqlite workaround in make_engine: a rolled-back SAVEPOINT keeps the outer work."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            session.add(_message("1"))
            with pytest.raises(IntegrityError):
                with session.begin_nested():
                    session.add(_message("1"))
        with sessions() as session:
            assert session.scalars(select(InboxMessage.uid)).all() == ["1"]
    finally:
        engine.dispose()


def test_a_new_sqlite_file_another_connection_is_writing_is_switched_to_wal_once_it_is_free(tmp_path) -> None:
    """SQLite refuses the switch to WAL at once ("database is locked", no busy wait) while another
    connection writes a new file, as when the daemon and the workbench start together on one: the
    switch is retried until the writer is done (the CI run that found it: two upgrades at once)."""
    import sqlite3
    import threading

    path = tmp_path / "new.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE started (x)")
    done = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    done.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        done.join()
        writer.close()
        engine.dispose()


def test_two_daemons_upgrading_at_once_both_succeed(db_url: str) -> None:
    """PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE. The second finds the work done."""
    run_together(lambda: upgrade(db_url))
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    finally:
        engine.dispose()


def test_the_qa_check_constraints_built_from_the_enums_are_the_ones_migration_0002_created():
    """QAState and QADecision generate the models' CHECK constraints; a value added, renamed or
    reordered there without a migration fails here."""
    from pathlib import Path

    from sqlalchemy import CheckConstraint

    import intake
    from intake.db import Case, Decision

    migration = (Path(intake.__file__).parent / "migrations" / "versions" / "0002_workbench.py").read_text()
    checks = {c.name: str(c.sqltext) for table in (Case.__table__, Decision.__table__)
              for c in table.constraints if isinstance(c, CheckConstraint)}
    states = checks["ck_submission_qa_state"].removeprefix("qa_state IN (").removesuffix(")")
    assert f'QA_STATES = "{states}"' in migration
    assert f'"{checks["ck_decision_decision"]}"' in migration
