"""Real faults under a running `secor-intake run`: the database server stopped mid-message, the storage
disk full, Dovecot restarted, the SMTP server down. After each fault clears, every email is filed once
and answered once within a few poll intervals (1 s here), nothing is half-filed, and the daemon never
exited. Each server broken here is the test's own, never the machine's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.db import InboxMessage, Reply
from intake.faults import PAUSE_ENV
from tests import mailfactory
from tests.daemon_helpers import RunningDaemon, Setup, scrape_when
from tests.pipeline_helpers import count, run_cli, states, tracking_numbers
from tests.servers import require_server
from tests.servers.smtp import free_port

pytestmark = pytest.mark.server

RECOVERY_SECONDS = 15.0  # a few poll intervals, with room for a slow CI machine; the lease is 30 minutes


def answered(setup: Setup, replies: int) -> bool:
    return len(setup.smtp.messages()) >= replies and setup.folder_counts()["INBOX"] == 0


def recovery(daemon: RunningDaemon, setup: Setup, replies: int, since: float) -> float:
    """Seconds from `since` (the fault cleared) until `replies` replies went out and the inbox is empty;
    the daemon must still be running. Printed, for the README's table (pytest -rP)."""
    daemon.wait_for(lambda: answered(setup, replies), 60)
    seconds = time.monotonic() - since
    print(f"recovered in {seconds:.1f} s")
    assert daemon.alive()
    return seconds


def assert_each_filed_and_answered_once(setup: Setup, emails: int) -> None:
    sessions = setup.sessions()
    assert len(tracking_numbers(sessions)) == emails
    assert sorted(states(sessions)) == [("done", "processed")] * emails
    recipients = [m.rcpt_tos[0] for m in setup.smtp.messages()]
    assert len(recipients) == len(set(recipients)) == emails
    with sessions() as session:
        assert session.scalar(select(InboxMessage.id).where(InboxMessage.moved.is_(False))) is None  # nothing half-filed
        assert {r.status for r in session.scalars(select(Reply))} == {"sent"}
    counts = setup.folder_counts()
    assert (counts["INBOX"], counts["SECOR/Processed"]) == (0, emails)


def health(setup: Setup) -> tuple[int, str]:
    result = run_cli(setup.config_file, "health")
    return result.returncode, result.stdout + result.stderr


def submission(n: int) -> bytes:
    return mailfactory.submission_with_zip(message_id=f"<fault-{n}@employer{n}.example>",
                                           sender=f"Employer {n} <office@employer{n}.example>")


def test_database_stopped_mid_message_then_started_files_and_answers_it_within_seconds(
        tmp_path, dovecot_server, smtp_server, private_postgres):
    setup = Setup(tmp_path, dovecot_server, smtp_server, private_postgres.url)
    assert run_cli(setup.config_file, "db", "upgrade").returncode == 0
    pause = tmp_path / "pause"
    pause.mkdir()
    setup.append(submission(1))
    with RunningDaemon(setup, env={PAUSE_ENV: f"fetched:{pause}"}) as daemon:
        daemon.wait_for(lambda: (pause / "paused").exists(), 60)
        assert (pause / "paused").exists(), daemon.stderr.decode()
        private_postgres.stop()  # the email is claimed and fetched: now it cannot be recorded
        (pause / "resume").touch()
        time.sleep(3)  # it fails, and the daemon keeps looking for the database
        assert daemon.alive()
        private_postgres.start()
        recovered_in = recovery(daemon, setup, 1, since=time.monotonic())
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert b"database" in daemon.stderr
    assert recovered_in < RECOVERY_SECONDS, daemon.stderr.decode()[-3000:]
    assert_each_filed_and_answered_once(setup, 1)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_storage_disk_full_holds_the_email_then_files_and_answers_it_once_space_is_back(
        tmp_path, dovecot_server, smtp_server):
    storage = tmp_path / "submissions"
    require_server(os.geteuid() == 0 and _mount_tmpfs(storage, "256k"), "a tmpfs mount (root) for a full disk")
    try:
        setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      processing={"retry_base_seconds": 0.0, "max_attempts": 3})
        assert run_cli(setup.config_file, "db", "upgrade").returncode == 0
        big = mailfactory.submission_with_zip(more=[(os.urandom(600_000), "Site photos.pdf", "application/pdf")])
        setup.append(big)
        with RunningDaemon(setup) as daemon:
            daemon.wait_for(lambda: count(setup.sessions(), InboxMessage, InboxMessage.state == "failed") == 1, 60)
            time.sleep(3)  # several retries while the disk stays full: none may count against the email
            with setup.sessions()() as session:
                row = session.scalars(select(InboxMessage)).one()
                assert row.state in ("failed", "claimed") and "No space left" in (row.last_error or "")
            assert subprocess.run(["mount", "-o", "remount,size=64m", str(storage)]).returncode == 0
            recovered_in = recovery(daemon, setup, 1, since=time.monotonic())
        assert daemon.returncode == 0, daemon.stderr.decode()
        assert recovered_in < RECOVERY_SECONDS
        assert_each_filed_and_answered_once(setup, 1)
    finally:
        subprocess.run(["umount", "-l", str(storage)], capture_output=True)


def test_dovecot_restarted_under_the_daemon_then_new_mail_is_taken_once(tmp_path, private_dovecot, smtp_server):
    port = free_port()
    setup = Setup(tmp_path, private_dovecot, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  metrics={"port": port})
    setup.append(submission(1))
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(lambda: answered(setup, 1), 60)
        assert len(setup.smtp.messages()) == 1
        private_dovecot.stop()
        time.sleep(3)  # polls fail, the IDLE connection is gone
        assert daemon.alive()
        private_dovecot.start()
        back = time.monotonic()
        setup.append(submission(2))
        recovered_in = recovery(daemon, setup, 2, since=back)
        reconnected = ("secor_intake_imap_reconnects_total", ())
        samples = scrape_when(port, lambda s: s.get(reconnected, 0) >= 1, 30)
        assert samples.get(reconnected, 0) >= 1  # the IDLE watcher's reconnect is counted
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert recovered_in < RECOVERY_SECONDS
    assert_each_filed_and_answered_once(setup, 2)


def restart_under_the_daemon(tmp_path, dovecot, smtp_server, poll_seconds: float, seen: bytes) -> tuple[float, bytes]:
    """Stop Dovecot under an IDLE daemon until its log says `seen`, start it, send one more email:
    seconds from the restart to that reply, and the daemon's log. Each email filed and answered once."""
    setup = Setup(tmp_path, dovecot, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  schedule={"poll_seconds": poll_seconds, "idle": True})
    setup.append(submission(1))
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(lambda: answered(setup, 1), 60)
        dovecot.stop()
        daemon.wait_for(lambda: seen in daemon.stderr, 60)
        assert seen in daemon.stderr
        dovecot.start()
        back = time.monotonic()
        setup.append(submission(2))
        recovered_in = recovery(daemon, setup, 2, since=back)
        log = daemon.stderr
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert_each_filed_and_answered_once(setup, 2)
    return recovered_in, log


def test_push_comes_back_within_seconds_of_dovecot_whatever_the_poll_interval(tmp_path, private_dovecot,
                                                                               smtp_server):
    """The watcher tries a server that went away again after 1, 2, 4... s, not after a poll interval
    (here ten minutes: only the watcher can bring the reply in time), and polls once it is back."""
    recovered_in, log = restart_under_the_daemon(tmp_path, private_dovecot, smtp_server, 600.0, b"mail watcher:")
    assert b"the mailbox answers again" in log
    assert recovered_in < RECOVERY_SECONDS


def test_a_poll_backing_off_from_a_dead_server_is_released_when_the_watcher_is_back(tmp_path, private_dovecot,
                                                                                     smtp_server):
    """Polls that failed back off (3, 6, 12 s here); the watcher's new login proves the server is back,
    so the mail waiting is taken then, not when the backoff ends."""
    recovered_in, log = restart_under_the_daemon(tmp_path, private_dovecot, smtp_server, 3.0, b"(3 in a row)")
    assert b"next try in 12 s" in log  # the poll waited 12 s from the third failure
    assert recovered_in < 8.0  # the watcher is back within 3 s; the poll's backoff alone would take ~12 s


def test_smtp_down_is_reported_by_health_and_the_reply_goes_once_it_is_back(tmp_path, dovecot_server, smtp_server):
    setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    smtp_server.stop()
    setup.append(submission(1))
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(lambda: "replies are not going out" in health(setup)[1], 60)
        status, said = health(setup)
        assert status == 1 and "Connection refused" in said, said
        assert setup.folder_counts()["INBOX"] == 0  # filed meanwhile: only the reply waits
        smtp_server.start()
        recovered_in = recovery(daemon, setup, 1, since=time.monotonic())
        daemon.wait_for(lambda: health(setup)[0] == 0, 30)
        assert health(setup)[0] == 0, health(setup)[1]
        assert daemon.alive()
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert recovered_in < RECOVERY_SECONDS
    assert_each_filed_and_answered_once(setup, 1)
    record = json.loads((tmp_path / "health.json").read_text())
    assert record["last_sent_at"] > record["last_send_error_at"]
