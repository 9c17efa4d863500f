"""The intake pipeline on the embedded Maildir, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from intake import pipeline as pipeline_module
from intake.claims import worker_identity
from intake.clock import utcnow
from intake.db import Case, InboxMessage, Reply
from intake.mailbox.maildir import MaildirSource
from intake.service import open_services, poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import (
    body_text,
    count,
    deliver,
    maildir_config,
    outbox_messages,
    replies,
    states,
    tracking_numbers,
    with_section,
)
from triage.engine import triage_path


def folder_count(config, folder: str) -> int:
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        try:
            return len(source.list_messages(folder))
        except Exception:
            return 0


def test_each_kind_of_email_ends_in_its_outcome(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip())
    deliver(config, mailfactory.question_without_submission())
    for automatic in (mailfactory.out_of_office(), mailfactory.bounce_dsn(), mailfactory.list_mail(),
                      mailfactory.auto_submitted(), mailfactory.read_receipt()):
        deliver(config, automatic)
    deliver(config, mailfactory.unrelated_message())

    result = poll_cycle(services)

    assert result.intake.seen == 8
    assert sorted(states(services.sessions)) == sorted(
        [("done", "processed"), ("done", "returned")] + [("done", "ignored")] * 6)
    assert len(tracking_numbers(services.sessions)) == 2
    sent = outbox_messages(config.resolve_path(config.outbound.path))
    assert len(sent) == 2  # the submission and the question; never a robot, never the unrelated mail
    assert {m["To"].split("<")[-1].rstrip(">") for m in sent} == {"jane.doe@acme-roofing.ca"}
    for message in sent:
        assert message["Auto-Submitted"] == "auto-replied"
        assert "[SECOR-" in message["Subject"]
    assert folder_count(config, "INBOX") == 0
    assert folder_count(config, config.mailbox.processed_folder) == 1
    assert folder_count(config, config.mailbox.returned_folder) == 1
    assert folder_count(config, config.mailbox.ignored_folder) == 6


def test_files_report_and_raw_email_are_stored_by_tracking_number(setup):
    config, services = setup
    raw = mailfactory.submission_with_zip()
    deliver(config, raw)
    poll_cycle(services)
    [number] = tracking_numbers(services.sessions)
    version_dir = services.storage.root / number / "1"
    assert (version_dir / "message.eml").read_bytes() == raw
    report = json.loads((version_dir / "report.json").read_text())
    assert report["tracking_number"] == number
    assert report["summary"]["files"] == len(list(p for p in (version_dir / "files").rglob("*") if p.is_file()))
    assert (version_dir / "report.txt").read_text().startswith("Verdict: ")
    assert not (services.storage.root / "work").exists() or not any((services.storage.root / "work").iterdir())
    with services.sessions() as session:  # recorded relative to the storage root, so storage can move
        assert session.query(Case).one().versions[0].storage_path == f"{number}/1"


def test_a_second_poll_takes_nothing_again(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip())
    poll_cycle(services)
    again = poll_cycle(services)
    assert again.intake.seen == 0
    assert count(services.sessions, InboxMessage) == 1
    assert count(services.sessions, Reply) == 1


def test_a_redelivered_copy_is_recognised_by_content(setup):
    config, services = setup
    raw = mailfactory.submission_with_zip()
    deliver(config, raw)
    deliver(config, raw)  # the same bytes delivered twice: two Maildir keys
    result = poll_cycle(services)
    assert result.intake.duplicates == 1
    assert count(services.sessions, Case) == 1
    assert count(services.sessions, Reply) == 1
    assert len(outbox_messages(config.resolve_path(config.outbound.path))) == 1


def test_a_copy_taken_by_another_worker_while_the_original_is_in_hand_is_recorded_once(setup):
    """Two workers, one email in two UIDs: the second worker takes the copy while the first is still
    triaging the original. Whoever records first makes the case; the other finds it and records a copy."""
    config, services = setup
    raw = mailfactory.submission_with_zip()
    deliver(config, raw)
    deliver(config, raw)
    in_triage, carry_on = threading.Event(), threading.Event()

    def slow_for_the_first_worker(*args, **kwargs):
        if threading.current_thread().name == "first-worker":
            in_triage.set()
            assert carry_on.wait(30)
        return triage_path(*args, **kwargs)

    workers = [pipeline_module.Pipeline(config, services.sessions, services.storage, worker_id=worker_identity(),
                                        triage=slow_for_the_first_worker) for _ in range(2)]
    results = {}

    def run(worker, name):
        with services.mail_source() as source:
            results[name] = worker.run_cycle(source)

    first = threading.Thread(target=run, args=(workers[0], "first"), name="first-worker")
    first.start()
    assert in_triage.wait(30)
    run(workers[1], "second")  # takes the other UID while the first worker still holds its own
    carry_on.set()
    first.join(60)
    poll_cycle(services)  # sends the reply

    assert results["first"].duplicates + results["second"].duplicates == 1
    assert count(services.sessions, Case) == 1
    assert count(services.sessions, Reply) == 1
    assert sorted(states(services.sessions)) == [("done", "processed")] * 2
    assert len(outbox_messages(config.resolve_path(config.outbound.path))) == 1
    assert folder_count(config, config.mailbox.processed_folder) == 2 and folder_count(config, "INBOX") == 0


def test_a_reply_with_the_tracking_number_joins_its_case_as_a_new_version(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip(mailfactory.tiny_zip({"notes.txt": b"hello"})))
    poll_cycle(services)
    [number] = tracking_numbers(services.sessions)

    deliver(config, mailfactory.reply_to_case(number, with_zip=True))
    poll_cycle(services)
    deliver(config, mailfactory.reply_to_case(number, with_zip=False))  # a note without files
    poll_cycle(services)

    assert tracking_numbers(services.sessions) == [number]
    with services.sessions() as session:
        case = session.query(Case).one()
        assert [v.number for v in case.versions] == [1, 2]
        assert case.verdict == case.versions[-1].verdict
    assert count(services.sessions, InboxMessage, InboxMessage.submission_id == case.id) == 3
    sent = outbox_messages(config.resolve_path(config.outbound.path))
    assert len(sent) == 2  # one per version; the note gets none
    assert all(f"[{number}]" in m["Subject"] for m in sent)


def test_a_question_gets_how_to_submit_and_the_follow_up_joins_that_case(setup):
    config, services = setup
    deliver(config, mailfactory.question_without_submission())
    poll_cycle(services)
    [number] = tracking_numbers(services.sessions)
    with services.sessions() as session:
        case = session.query(Case).one()
        assert case.verdict == "returned"
        assert [f.code for f in case.versions[0].findings] == ["message.no_submission"]
    deliver(config, mailfactory.reply_to_case(number, with_zip=True))
    poll_cycle(services)
    assert tracking_numbers(services.sessions) == [number]
    bodies = [body_text(m) for m in outbox_messages(config.resolve_path(config.outbound.path))]
    assert len(bodies) == 2
    assert sum("How to send a SECOR submission" in body for body in bodies) == 1


def test_backlog_found_on_first_look_is_filed_without_a_reply(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip(), when=utcnow() - timedelta(days=3))
    deliver(config, mailfactory.question_without_submission(), when=utcnow() - timedelta(minutes=5))
    poll_cycle(services)
    assert len(tracking_numbers(services.sessions)) == 2
    sent = outbox_messages(config.resolve_path(config.outbound.path))
    assert len(sent) == 1  # only the recent one


def test_too_large_email_is_not_fetched_and_the_sender_is_asked_for_a_link(tmp_path: Path, db_url: str):
    config = with_section(maildir_config(tmp_path, db_url), "limits", max_message_bytes=200_000)
    services = open_services(config)
    try:
        deliver(config, mailfactory.oversized(400_000))
        poll_cycle(services)
        with services.sessions() as session:
            row = session.query(InboxMessage).one()
            assert (row.state, row.outcome) == ("done", "too_large")
            case = session.query(Case).one()
            assert [f.code for f in case.versions[0].findings] == ["message.too_large"]
        [reply] = outbox_messages(config.resolve_path(config.outbound.path))
        assert "link" in body_text(reply)
        assert folder_count(config, config.mailbox.returned_folder) == 1
    finally:
        services.close()


def test_a_copy_of_a_too_large_email_is_recognised_by_its_header(tmp_path: Path, db_url: str):
    config = with_section(maildir_config(tmp_path, db_url), "limits", max_message_bytes=200_000)
    services = open_services(config)
    try:
        raw = mailfactory.oversized(400_000)
        deliver(config, raw)
        deliver(config, raw)
        result = poll_cycle(services)
        assert result.intake.duplicates == 1
        assert count(services.sessions, Case) == 1
        assert len(outbox_messages(config.resolve_path(config.outbound.path))) == 1
        assert sorted(states(services.sessions)) == [("done", "too_large")] * 2
    finally:
        services.close()


@pytest.mark.parametrize("variant", mailfactory.BROKEN_VARIANTS)
def test_broken_mime_ends_in_a_recorded_outcome(setup, variant):
    config, services = setup
    deliver(config, mailfactory.broken_mime(variant))
    poll_cycle(services)
    [(state, outcome)] = states(services.sessions)
    assert state == "done" and outcome in ("processed", "returned", "ignored")


@pytest.mark.parametrize("variant", ["utf8_with_latin1", "unknown_charset"])
def test_bad_charsets_end_in_a_recorded_outcome(setup, variant):
    config, services = setup
    deliver(config, mailfactory.bad_charset(variant))
    poll_cycle(services)
    [(state, _)] = states(services.sessions)
    assert state == "done"


def test_never_a_reply_to_our_own_address(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip(sender="COR <cor@youracsa.ca>"))
    poll_cycle(services)
    [reply] = replies(services.sessions)
    assert reply.status == "suppressed"
    assert outbox_messages(config.resolve_path(config.outbound.path)) == []


def test_a_failing_message_is_retried_then_left_for_a_person_and_never_blocks_others(
        tmp_path: Path, db_url: str):
    config = with_section(maildir_config(tmp_path, db_url), "processing", max_attempts=2, retry_base_seconds=0)
    services = open_services(config)

    def triage_failing_on_poison(path, *args, **kwargs):
        # No real input makes the engine raise; this stands in for a bug hit by one email.
        if "Poison" in Path(path).name:
            raise RuntimeError("engine bug")
        return triage_path(path, *args, **kwargs)

    services.triage = triage_failing_on_poison
    try:
        deliver(config, mailfactory.submission_with_zip(filename="Poison.zip", message_id="<poison@x>"))
        deliver(config, mailfactory.submission_with_zip(message_id="<good@x>"))
        poll_cycle(services)
        assert sorted(states(services.sessions)) == [("done", "processed"), ("failed", None)]
        assert folder_count(config, "INBOX") == 1  # kept in the inbox while retried
        assert list(services.storage.work_root.iterdir()) == []  # a failed attempt leaves no scratch behind

        poll_cycle(services)  # attempt 2 fails too
        poll_cycle(services)  # over the limit: left for a person
        with services.sessions() as session:
            poison = session.query(InboxMessage).filter(InboxMessage.message_id == "<poison@x>").one()
            assert poison.state == "abandoned"
            assert "engine bug" in poison.last_error
        assert folder_count(config, config.mailbox.failed_folder) == 1
        assert folder_count(config, "INBOX") == 0
        assert json.loads(config.resolve_path(config.health.path).read_text())["abandoned_messages"] == 1
        assert len(outbox_messages(config.resolve_path(config.outbound.path))) == 1
    finally:
        services.close()


def test_abandoned_and_failed_messages_are_listed_by_submissions(tmp_path: Path, db_url: str, capsys):
    import argparse

    from intake.commands import cmd_submissions

    config = with_section(maildir_config(tmp_path, db_url), "processing", max_attempts=1, retry_base_seconds=0)
    services = open_services(config)
    services.triage = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug"))
    try:
        deliver(config, mailfactory.submission_with_zip(message_id="<stuck@x>"))
        poll_cycle(services)
        assert cmd_submissions(config, argparse.Namespace(status="failed", json=True)) == 0
        [failed] = json.loads(capsys.readouterr().out)
        assert (failed["tracking_number"], failed["status"], failed["message_id"]) == (None, "failed", "<stuck@x>")
        poll_cycle(services)  # second attempt is over max_attempts: abandoned
        assert cmd_submissions(config, argparse.Namespace(status="abandoned", json=True)) == 0
        [abandoned] = json.loads(capsys.readouterr().out)
        assert abandoned["status"] == "abandoned" and "bug" in abandoned["last_error"]
        assert cmd_submissions(config, argparse.Namespace(status="accepted", json=True)) == 0
        assert json.loads(capsys.readouterr().out) == []
    finally:
        services.close()


def test_housekeeping_removes_only_scratch_space_nobody_owns(setup):
    from intake.housekeeping import housekeep

    config, services = setup
    deliver(config, mailfactory.submission_with_zip())
    poll_cycle(services)
    work = services.storage.root / "work"
    (work / "1").mkdir(parents=True, exist_ok=True)  # left by a crash after the row was moved
    (work / "999").mkdir(parents=True)  # no such message row
    with services.sessions() as session:
        session.add(InboxMessage(account="a", folder="INBOX", uidvalidity="1", uid="7", size=1,
                                 received_at=utcnow(), state="claimed", claimed_by="x:1:y", claimed_at=utcnow()))
        session.commit()
        claimed_id = session.query(InboxMessage).filter(InboxMessage.uid == "7").one().id
    (work / str(claimed_id)).mkdir()  # an email being processed right now
    assert housekeep(services) == 2
    assert sorted(p.name for p in work.iterdir()) == [str(claimed_id)]


def test_uidvalidity_change_closes_unfinished_rows_of_the_old_numbering(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip())
    poll_cycle(services)
    with services.sessions() as session:
        old = session.query(InboxMessage).one().uidvalidity
        session.add(InboxMessage(account=session.query(InboxMessage).one().account, folder="INBOX", uidvalidity=old,
                                 uid="lost-key", size=10, received_at=utcnow(), state="failed", attempts=1,
                                 next_attempt_at=utcnow() + timedelta(hours=1), last_error="boom"))
        session.commit()
    (config.resolve_path(config.mailbox.path) / "secor-uidvalidity").write_text("4242\n")  # a restored folder
    poll_cycle(services)
    with services.sessions() as session:
        stale = session.query(InboxMessage).filter(InboxMessage.uid == "lost-key").one()
        assert (stale.state, stale.moved) == ("done", True)
        assert stale.last_error.startswith("superseded: UIDVALIDITY changed")
    assert json.loads(config.resolve_path(config.health.path).read_text())["failed_messages"] == 0


def test_a_failure_after_another_worker_superseded_the_row_leaves_it_closed(setup):
    """A UIDVALIDITY change seen by another worker closes this worker's row mid-work: the failure
    that follows must not bring the row back as "failed" (it could never be fetched again)."""
    config, services = setup

    def superseded_then_failing(path, *args, **kwargs):
        with services.sessions.begin() as session:  # what the other worker's re-scan does
            row = session.query(InboxMessage).one()
            row.state, row.outcome, row.moved, row.claimed_by = "done", None, True, None
            row.last_error = "superseded: UIDVALIDITY changed to 4242"
        raise RuntimeError("engine bug")

    services.triage = superseded_then_failing
    deliver(config, mailfactory.submission_with_zip())
    poll_cycle(services)
    with services.sessions() as session:
        row = session.query(InboxMessage).one()
        assert (row.state, row.moved, row.claimed_by) == ("done", True, None)
        assert row.last_error.startswith("superseded")
