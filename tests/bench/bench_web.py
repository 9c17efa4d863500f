"""Target 6: the QA workbench's pages stay fast on big data, on SQLite (the default) and PostgreSQL.

Measured: the server time of one request (in process, through the ASGI app with Starlette's test
client, signed in; median of 20 after 2 warm-ups): the queue's first page with 20,000 cases
(`--quick` 2,000), the case page of a case whose two versions hold 5,000 files each (`--quick`
1,000; the page shows the first page of files and compares the versions), and a queue search by file name.
Goal: median under 200 ms each for the queue and the search; the 5,000-file case page under 300 ms and
its HTML under 1 MB (the file list is paged: the Filter files box and the page links reach the rest). The rows are written straight into a migrated database (bulk
inserts): what is measured is reading them, not making them. Each database in turn: SQLite, then
PostgreSQL when one runs on 127.0.0.1:5432 (`common.database`), analysed after the bulk load as
autovacuum would have done over the months those rows took to arrive.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta

from sqlalchemy import insert

from intake import users
from intake.config import Config, DatabaseConfig, StorageConfig
from intake.db import (
    Case,
    FindingRow,
    InboxMessage,
    StoredDocument,
    Version,
    make_engine,
    session_factory,
    upgrade,
    utcnow,
)
from intake.entry import freeze_startup_objects
from intake.web.app import create_app
from tests.bench.common import SCRATCH, Result, database, median
from tests.web_helpers import PASSWORD, sign_in

GOAL_MS = 200.0
CASE_PAGE_GOAL_MS = 300.0
CASE_PAGE_GOAL_BYTES = 1_000_000
ROUNDS = 20


def _fill(url: str, cases: int, files: int) -> str:
    """`cases` one-version cases, plus one case with two versions of `files` files; returns its number."""
    engine = make_engine(url)
    upgrade(engine)
    now, rng = utcnow(), random.Random(6)
    with engine.begin() as connection:
        connection.execute(insert(InboxMessage), [dict(
            id=i, account="bench", folder="INBOX", uidvalidity="1", uid=str(i), message_id=f"<m{i}@bench>", size=1000,
            received_at=now - timedelta(minutes=i), sender=f"office{i}@company{i}.example", subject=f"SECOR {i}",
            state="done", outcome="processed", created_at=now, updated_at=now) for i in range(1, cases + 3)])
        connection.execute(insert(Case), [dict(
            id=i, tracking_number=f"SECOR-2026-{i:06d}", submitter=f"office{i}@company{i}.example",
            submitter_name=f"Company {i} Ltd.", subject=f"SECOR {i}", received_at=now - timedelta(minutes=i),
            verdict=rng.choice(("accepted", "needs_review", "returned")), status="open", created_at=now,
            updated_at=now, qa_state="new") for i in range(1, cases + 1)])
        connection.execute(insert(Version), [dict(
            id=i, submission_id=i, number=1, message_id=i, verdict="needs_review", source_kind="attachment",
            source_name="s.zip", report={"summary": {"elements": {str(e): f"Element {e}" for e in range(1, 9)}}},
            created_at=now) for i in range(1, cases + 1)] + [dict(
            id=cases + 1, submission_id=1, number=2, message_id=cases + 1, verdict="needs_review",
            source_kind="attachment", source_name="s2.zip",
            report={"summary": {"elements": {str(e): f"Element {e}" for e in range(1, 9)}}}, created_at=now)])
        for version_id in (1, cases + 1):
            connection.execute(insert(StoredDocument), [dict(
                version_id=version_id, path=f"Element {n % 8 + 1}/Record {n:05d}.pdf", size=12_000 + n,
                sha256=hashlib.sha256(f"{n}-{version_id if n % 10 == 0 else 0}".encode()).hexdigest(),
                mime="application/pdf", element=str(n % 8 + 1)) for n in range(files)])
            connection.execute(insert(FindingRow), [dict(
                version_id=version_id, code="label.unclear_name", severity="warn", path=f"Element 1/Record {n:05d}.pdf",
                message="The name says nothing.") for n in range(0, files, 100)])
    with session_factory(engine).begin() as session:
        users.add_user(session, "bench", "analyst", PASSWORD)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return "SECOR-2026-000001"


def _time(client, path: str) -> tuple[float, int]:
    """The median server time of `path` in ms, and its body's size in bytes."""
    for _ in range(2):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return median(times), len(response.content)


def run(quick: bool = False) -> list[Result]:
    cases, files = (2_000, 1_000) if quick else (20_000, 5_000)
    folder = SCRATCH / "web"
    folder.mkdir(parents=True, exist_ok=True)
    sqlite_file = folder / f"workbench-{cases}.sqlite3"
    for leftover in folder.glob(f"{sqlite_file.name}*"):
        leftover.unlink()
    results = _measure(f"sqlite:///{sqlite_file}", "SQLite", cases, files, folder)
    with database("web") as url:
        if url.startswith("postgresql"):
            results += _measure(url, "PostgreSQL", cases, files, folder)
    return results


def _measure(url: str, backend: str, cases: int, files: int, folder) -> list[Result]:
    from starlette.testclient import TestClient

    started = time.perf_counter()
    big = _fill(url, cases, files)
    filled = time.perf_counter() - started
    config = Config(base_dir=folder, database=DatabaseConfig(url=url), storage=StorageConfig(path=str(folder / "s")))
    client = TestClient(create_app(config), follow_redirects=True)
    freeze_startup_objects()  # as `secor-intake web` does
    sign_in(client, "bench")
    case_page = f"case page, {files:,} files in each of two versions, compared"
    figures = [("queue, first page of %d cases" % cases, "/", GOAL_MS),
               (case_page, f"/cases/{big}", CASE_PAGE_GOAL_MS),
               (f"queue search by file name over {cases} cases", "/?q=Record+00042", GOAL_MS)]
    results = []
    target = f"6 workbench, {backend}"
    for what, path, goal in figures:
        measured, size = _time(client, path)
        results.append(Result(target, what, measured, None, "ms", None, f"median < {goal:.0f} ms",
                              measured < goal, notes=[f"data written in {filled:.1f} s"] if not results else []))
        if what == case_page:
            results.append(Result(target, f"{case_page}: HTML size", size / 1000, None, "KB", None,
                                  f"< {CASE_PAGE_GOAL_BYTES // 1000} KB", size < CASE_PAGE_GOAL_BYTES))
    client.close()
    return results
