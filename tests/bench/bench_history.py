"""Target 2: polling cost does not grow with history.

Two accounts on one Dovecot, two databases: one with nothing, one with H messages already processed
(20,000; `--quick` 2,000): in the database (message rows done and moved, replies sent, the folder's
progress) and in the outcome folder (written as Maildir files, moved out of the INBOX by one IMAP
MOVE so the INBOX's UIDs run past them, as after real processing). Measured: `secor-intake poll`
finding nothing new, as a real process, runs alternated between the two; and the same cycle in
process (`poll_cycle`, without the interpreter's start-up). Target: ratio at most 1.2, and no message
body fetched again (Dovecot's per-session body_bytes of the polls is 0).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from intake.clock import utcnow
from intake.config import load_config
from intake.db import FolderProgress, InboxMessage, Reply, make_engine, session_factory
from intake.db import upgrade as db_upgrade
from tests.bench.common import (
    Result,
    database,
    dovecot_session_stats,
    imap_client,
    intake_cli,
    median,
    ratio,
    run_measured,
    write_intake_config,
)
from tests.servers.dovecot import run_dovecot
from tests.servers.smtp import SmtpServer

GOAL = 1.2


def _small_message(n: int) -> bytes:
    return (f"From: Owner {n} <owner{n}@roofer{n}.example.ca>\r\nTo: COR@youracsa.ca\r\n"
            f"Subject: SECOR submission {n}\r\nMessage-ID: <history-{n}@roofer{n}.example.ca>\r\n"
            "Date: Tue, 24 Nov 2026 09:15:42 -0700\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease find our submission.\r\n").encode()


def make_history(dovecot, user: str, db_url: str, count: int) -> None:
    """`count` processed messages: Maildir files indexed by Dovecot, MOVEd out, rows in the database."""
    inbox = dovecot.maildir(user)
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for n in range(count):
        path = inbox / "cur" / f"{now}.M{n}P1.bench,S={len(_small_message(n))}:2,S"
        path.write_bytes(_small_message(n))
        os.chown(path, dovecot.mail_uid, dovecot.mail_gid)
    for folder in (inbox, inbox / "cur", inbox / "new", inbox / "tmp", inbox.parent):
        os.chown(folder, dovecot.mail_uid, dovecot.mail_gid)
    with imap_client(dovecot, user) as client:
        client.create_folder("SECOR.Processed")
        info = client.select_folder("INBOX")
        uidvalidity = str(info[b"UIDVALIDITY"])
        uids = client.search(["ALL"])
        client.move("1:*", "SECOR.Processed")  # one command: a list of 20,000 UIDs is too long
        client.select_folder("SECOR.Processed")  # let Dovecot index the outcome folder now
    engine = make_engine(db_url)
    db_upgrade(engine)
    account = f"imap://{user}@127.0.0.1"
    start = utcnow() - timedelta(days=400)
    with session_factory(engine).begin() as session:
        session.add(FolderProgress(account=account, folder="INBOX", uidvalidity=uidvalidity, last_uid=str(max(uids)),
                                   first_seen_at=start))
    rows = [dict(account=account, folder="INBOX", uidvalidity=uidvalidity, uid=str(uid),
                 message_id=f"<history-{i}@roofer{i}.example.ca>", sha256=f"{i:064x}", size=400,
                 received_at=start + timedelta(minutes=i), sender=f"owner{i}@roofer{i}.example.ca",
                 subject=f"SECOR submission {i}", state="done", outcome="processed", moved=True, attempts=1)
            for i, uid in enumerate(uids)]
    with engine.begin() as conn:
        conn.execute(InboxMessage.__table__.insert(), rows)
        ids = [r[0] for r in conn.execute(InboxMessage.__table__.select().with_only_columns(InboxMessage.id))]
        conn.execute(Reply.__table__.insert(), [
            dict(source_message_id=mid, recipient=f"owner{i}@roofer{i}.example.ca", subject=f"[SECOR] {i}",
                 message_id=f"<reply-{i}@youracsa.ca>", raw=b"x" * 2000, status="sent", attempts=1,
                 created_at=start + timedelta(minutes=i)) for i, mid in enumerate(ids)])
    engine.dispose()


def _in_process(config_file: Path, runs: int) -> list[float]:
    from intake.service import open_services, poll_cycle

    config = load_config(config_file)
    times = []
    services = open_services(config)
    try:
        for _ in range(runs):
            start = time.perf_counter()
            poll_cycle(services)
            times.append(time.perf_counter() - start)
    finally:
        services.close()
    return times


def run(quick: bool = False) -> list[Result]:
    count = 2_000 if quick else 20_000
    runs = 3 if quick else 7
    work = Path(tempfile.mkdtemp(prefix="secor-bench-history-"))
    smtp = SmtpServer()
    smtp.start()
    try:
        with run_dovecot() as dovecot, database("hist_empty") as empty_url, database("hist_full") as full_url:
            empty_user, full_user = dovecot.new_user(), dovecot.new_user()
            with imap_client(dovecot, empty_user) as client:  # the account exists, its INBOX is empty
                client.select_folder("INBOX")
            t0 = time.perf_counter()
            make_history(dovecot, full_user, full_url, count)
            setup_seconds = time.perf_counter() - t0
            configs = {}
            for name, user, url in (("empty", empty_user, empty_url), ("full", full_user, full_url)):
                configs[name] = write_intake_config(work / name, dovecot, user, smtp, url)
                first = run_measured(intake_cli(configs[name], "poll"))  # migrations, folder state
                assert first.returncode == 0, first.stderr
            sessions_before = len(dovecot_session_stats(dovecot, full_user))
            times: dict[str, list[float]] = {"empty": [], "full": []}
            for _ in range(runs):
                for name in ("empty", "full"):
                    result = run_measured(intake_cli(configs[name], "poll"))
                    assert result.returncode == 0, result.stderr
                    times[name].append(result.seconds)
            inproc = {name: [] for name in configs}
            for _ in range(runs):
                for name in ("empty", "full"):
                    inproc[name] += _in_process(configs[name], 1)
            time.sleep(0.5)
            stats = dovecot_session_stats(dovecot, full_user)[sessions_before:]
            body_bytes = sum(s.get("body_bytes", 0) for s in stats)
            fetched = sum(s.get("fetch_body_bytes", 0) for s in stats)
            replies = len(smtp.messages())
    finally:
        smtp.stop()
        shutil.rmtree(work, ignore_errors=True)
    full, empty = median(times["full"]), median(times["empty"])
    full_in, empty_in = median(inproc["full"]), median(inproc["empty"])
    r, r_in = ratio(full, empty), ratio(full_in, empty_in)
    no_body = body_bytes == 0 and fetched == 0 and len(stats) >= 2 * runs
    notes = [f"{count} processed messages set up in {setup_seconds:.0f} s; {runs} polls each, alternated",
             f"process polls (median): history {full:.3f} s, none {empty:.3f} s; "
             f"in-process cycles (median): history {full_in * 1000:.1f} ms, none {empty_in * 1000:.1f} ms",
             f"Dovecot: {len(stats)} poll sessions on the history account, body_bytes={body_bytes} "
             f"({'no body fetched' if no_body else 'BODIES FETCHED'}); replies sent {replies}"]
    return [Result("2 history", f"poll, nothing new, {count} done", full, empty, "s", r, f"ratio <= {GOAL}, no body",
                   r <= GOAL and no_body, notes),
            Result("2 history", "same cycle in process", full_in * 1000, empty_in * 1000, "ms", r_in,
                   f"ratio <= {GOAL}", r_in <= GOAL, [])]
