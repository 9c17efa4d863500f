"""`secor-intake poll` and `run` as real processes against Dovecot, an SMTP server and SQLite/PostgreSQL."""

from __future__ import annotations

import email
import json
import signal
import subprocess
import sys
import time

import pytest

from intake.faults import CRASH_ENV, POINTS
from tests import mailfactory
from tests.daemon_helpers import RunningDaemon, Setup
from tests.pipeline_helpers import ROOT, replies, run_cli, states, tracking_numbers

pytestmark = pytest.mark.server


@pytest.fixture
def setup(tmp_path, dovecot_server, smtp_server, db_url) -> Setup:
    return Setup(tmp_path, dovecot_server, smtp_server, db_url)


def test_append_to_reply_received(setup: Setup):
    raw = mailfactory.submission_with_zip()
    setup.append(raw)
    result = setup.poll()
    assert result.returncode == 0, result.stderr

    [received] = setup.smtp.messages()
    reply = email.message_from_bytes(received.raw)
    [number] = tracking_numbers(setup.sessions())
    assert f"[{number}]" in reply["Subject"]
    assert reply["In-Reply-To"].strip() == "<CAF3x8pQm1n2@mail.acme-roofing.ca>"
    assert "<CAF3x8pQm1n2@mail.acme-roofing.ca>" in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert received.mail_from in ("", "<>")  # MAIL FROM:<> per RFC 3834 (aiosmtpd keeps the brackets)
    assert received.rcpt_tos == ["jane.doe@acme-roofing.ca"]
    counts = setup.folder_counts()
    assert counts["INBOX"] == 0 and counts["SECOR/Processed"] == 1
    assert number in result.stderr  # one log line per outcome, with the tracking number

    listing = json.loads(run_cli(setup.config_file, "submissions", "--json").stdout)
    assert [item["tracking_number"] for item in listing] == [number]
    assert listing[0]["message_id"] == "<CAF3x8pQm1n2@mail.acme-roofing.ca>"
    assert listing[0]["received_at"].endswith("+00:00")
    shown = json.loads(run_cli(setup.config_file, "show", number, "--json").stdout)
    assert shown["tracking_number"] == number
    assert shown["replies"][0]["status"] == "sent"
    assert run_cli(setup.config_file, "show", "SECOR-1999-000001").returncode == 2


def test_automatic_mail_is_never_answered(setup: Setup):
    for raw in (mailfactory.out_of_office(), mailfactory.bounce_dsn(), mailfactory.list_mail(with_zip=True),
                mailfactory.auto_submitted(), mailfactory.read_receipt()):
        setup.append(raw)
    assert setup.poll().returncode == 0
    assert setup.smtp.messages() == []
    assert setup.folder_counts()["SECOR/Ignored"] == 5


def test_uidvalidity_change_rescans_and_recognises_copies(setup: Setup):
    first = mailfactory.submission_with_zip()
    setup.append(first)
    assert setup.poll().returncode == 0
    # A restore puts the processed email back in the inbox and the server renumbers the folder.
    setup.append(first)
    setup.append(mailfactory.question_without_submission())
    setup.dovecot.reset_uidvalidity(setup.user, "INBOX")
    result = setup.poll()
    assert result.returncode == 0, result.stderr
    assert "UIDVALIDITY" in result.stderr
    assert len(tracking_numbers(setup.sessions())) == 2  # the copy made no new case
    assert len(setup.smtp.messages()) == 2
    assert setup.folder_counts()["INBOX"] == 0


def test_dropped_connection_mid_fetch_then_a_clean_retry(tmp_path, dovecot_server, smtp_server, db_url):
    direct = Setup(tmp_path, dovecot_server, smtp_server, db_url)
    direct.append(mailfactory.submission_with_zip(mailfactory.sample_zip()))
    with dovecot_server.dropping_proxy(6_000) as proxy:
        via_proxy = Setup(tmp_path, dovecot_server, smtp_server, db_url, imap_port=proxy.port, user=direct.user)
        broken = via_proxy.poll()
    assert broken.returncode == 2
    assert "mailbox" in broken.stderr.splitlines()[-1]
    assert smtp_server.messages() == []
    assert direct.folder_counts()["INBOX"] == 1  # nothing moved, nothing lost

    assert direct.poll().returncode == 0
    assert len(smtp_server.messages()) == 1
    assert direct.folder_counts()["INBOX"] == 0


def test_smtp_down_then_up_sends_one_reply(setup: Setup):
    setup.smtp.stop()
    setup.append(mailfactory.submission_with_zip())
    assert setup.poll().returncode == 0  # the cycle ran; the reply waits in the outbox
    [reply] = replies(setup.sessions())
    assert reply.status == "pending"
    assert json.loads((setup.tmp_path / "health.json").read_text())["unsent_replies"] == 1
    setup.smtp.start()
    assert setup.poll().returncode == 0
    assert setup.poll().returncode == 0
    assert len(setup.smtp.messages()) == 1


def test_login_refused_is_one_clear_line_and_exit_2(tmp_path, dovecot_server, smtp_server, db_url):
    setup = Setup(tmp_path, dovecot_server, smtp_server, db_url, mailbox={"password": "wrong"})
    result = setup.poll()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("secor-intake: mailbox:")


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_any_point_then_rerun_loses_and_duplicates_nothing(setup: Setup, point: str):
    setup.append(mailfactory.submission_with_zip())
    setup.append(mailfactory.question_without_submission())
    setup.append(mailfactory.out_of_office())

    crashed = setup.poll(**{CRASH_ENV: point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    rerun = setup.poll()
    assert rerun.returncode == 0, rerun.stderr
    assert setup.poll().returncode == 0

    sessions = setup.sessions()
    assert len(tracking_numbers(sessions)) == 2
    assert sorted(states(sessions)) == [("done", "ignored"), ("done", "processed"), ("done", "returned")]
    received = [email.message_from_bytes(m.raw)["Subject"] for m in setup.smtp.messages()]
    assert len(received) == 2 and len(set(received)) == 2
    counts = setup.folder_counts()
    assert (counts["INBOX"], counts["SECOR/Processed"], counts["SECOR/Returned"], counts["SECOR/Ignored"]) == (0, 1, 1, 1)


def two_polls_at_once(setup: Setup) -> None:
    """Two `secor-intake poll` processes started together on one database and mailbox, as two daemons."""
    assert run_cli(setup.config_file, "db", "upgrade").returncode == 0
    command = [sys.executable, "-m", "intake", "--config", str(setup.config_file), "poll"]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()


def test_two_daemons_sharing_one_database_process_each_email_once(tmp_path, dovecot_server, smtp_server,
                                                                  postgres_url):
    setup = Setup(tmp_path, dovecot_server, smtp_server, postgres_url)
    for i in range(8):
        setup.append(mailfactory.submission_with_zip(message_id=f"<parallel-{i}@acme-roofing.ca>",
                                                     sender=f"Employer {i} <office@employer{i}.example>"))
    two_polls_at_once(setup)
    numbers = tracking_numbers(setup.sessions())
    assert len(numbers) == len(set(numbers)) == 8
    assert len(setup.smtp.messages()) == 8
    assert setup.folder_counts()["SECOR/Processed"] == 8


def test_two_daemons_make_one_case_of_an_email_and_its_adjacent_copy(tmp_path, dovecot_server, smtp_server,
                                                                     postgres_url):
    """Each email is delivered twice in a row (a re-delivery right behind its original): whichever
    daemon takes the copy while the other still works on the original, there is one case and one reply."""
    setup = Setup(tmp_path, dovecot_server, smtp_server, postgres_url)
    pairs = 20
    for i in range(pairs):
        raw = mailfactory.submission_with_zip(message_id=f"<twice-{i}@acme-roofing.ca>",
                                              sender=f"Employer {i} <office@employer{i}.example>")
        setup.append(raw)
        setup.append(raw)
    two_polls_at_once(setup)
    assert setup.poll().returncode == 0  # moves what the other daemon's copy left

    sessions = setup.sessions()
    assert len(tracking_numbers(sessions)) == pairs
    assert sorted(states(sessions)) == [("done", "processed")] * (2 * pairs)
    recipients = [m.rcpt_tos[0] for m in setup.smtp.messages()]
    assert len(recipients) == len(set(recipients)) == pairs
    counts = setup.folder_counts()
    assert (counts["INBOX"], counts["SECOR/Processed"]) == (0, 2 * pairs)


def test_run_daemon_stops_cleanly_on_sigterm(setup: Setup):
    setup.append(mailfactory.submission_with_zip())
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(setup.smtp.messages, 60)
        assert len(setup.smtp.messages()) == 1
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert b"stopped cleanly" in daemon.stderr
    health = run_cli(setup.config_file, "health", "--json")
    assert health.returncode == 0, health.stdout
    assert json.loads(health.stdout)["problems"] == []


def test_idle_starts_a_poll_as_soon_as_mail_arrives(tmp_path, dovecot_server, smtp_server, db_url):
    # The poll interval is ten minutes: only the IDLE watcher can bring the reply within the wait below.
    setup = Setup(tmp_path, dovecot_server, smtp_server, db_url, schedule={"poll_seconds": 600.0, "idle": True})
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(daemon.health_written, 30)  # the first scheduled poll ran: only IDLE triggers another
        setup.append(mailfactory.submission_with_zip())
        daemon.wait_for(setup.smtp.messages, 60)
        assert len(setup.smtp.messages()) == 1
    assert daemon.returncode == 0, daemon.stderr.decode()


def test_a_refused_login_is_not_retried_by_the_watcher_before_the_poll_interval(tmp_path, dovecot_server,
                                                                                smtp_server, db_url):
    """A server that went away is tried again after 1, 2, 4... s; a refused login only once per poll
    interval, so the watcher never turns a wrong password into a lock-out."""
    setup = Setup(tmp_path, dovecot_server, smtp_server, db_url, mailbox={"password": "wrong"},
                  schedule={"poll_seconds": 600.0, "idle": True})
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(lambda: b"mail watcher:" in daemon.stderr, 30)
        time.sleep(4)  # the fast retries (1 + 2 s) would have come by now
        log = daemon.stderr
    assert daemon.returncode == 0
    assert log.count(b"mail watcher:") == 1 and b"trying again in 600 s" in log


def test_run_with_a_refused_login_stays_up_and_says_so_in_the_health_record(tmp_path, dovecot_server, smtp_server,
                                                                            db_url):
    setup = Setup(tmp_path, dovecot_server, smtp_server, db_url, mailbox={"password": "wrong"})
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(daemon.health_written, 30)
        assert daemon.process.poll() is None  # a refused login does not kill the daemon
    assert daemon.returncode == 0
    assert b"login refused" in daemon.stderr
    health = run_cli(setup.config_file, "health", "--json")
    assert health.returncode == 1
    problems = json.loads(health.stdout)["problems"]
    assert any("login refused" in problem for problem in problems)
