"""Replies: rendered acknowledgements, the outbox rules, and the sending job against a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fetchers.providers import supported_services_phrase
from intake.backoff import backoff
from intake.cases.outbox import (
    queue_reply,
    render_acknowledgement,
    render_no_submission,
    render_too_large,
    reply_subject,
)
from intake.cases.tracking import allocate_tracking_number
from intake.config import OutboundConfig
from intake.db import Case, InboxMessage, Reply, Version, record_version
from intake.outbound import Transport
from intake.outbound.file import FileTransport
from intake.outbound.smtp import SmtpTransport
from intake.sending import MAX_BACKOFF, SendStats, send_pending
from tests.concurrency import run_together
from tests.servers.smtp import SmtpServer
from triage.findings import Finding, finding
from triage.report import Report, Source

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)
SUBMITTER = "jane.doe@acme-roofing.ca"
SUBJECT = "SECOR submission 2026 - Acme Roofing Ltd."
SERVICES = supported_services_phrase()  # what the daemon passes the outbox
THEIR_ID = "<CAF9x2=acme.0001@mail.acme-roofing.ca>"
THEIR_REFERENCES = ["<older.thread.start@mail.acme-roofing.ca>"]
CONFIG = OutboundConfig(from_address="COR@youracsa.ca", from_name="ACSA COR Department", retry_base_seconds=60.0,
                        max_attempts=3, max_replies_per_sender_per_day=2)

REJECT_MSG = "The file is a scanned fax image (TIFF). Please convert it to PDF."
WARN_MSG = "The file name does not say what the document is."
INFO_MSG = "INFO-ONLY: the archive used Deflate64 compression."


def _report(verdict: str = "returned") -> Report:
    findings: list[Finding] = [Finding("archive.corrupt", "info", None, INFO_MSG)]
    if verdict in ("returned", "needs_review"):
        findings.append(finding("label.unclear_name", WARN_MSG, "Element 4/scan0001.pdf"))
    if verdict == "returned":
        findings.append(finding("format.paper_era", REJECT_MSG, "Element 2/Hazard assessment.tif"))
    return Report(source=Source(kind="attachment", name="Acme SECOR 2026.zip"), findings=findings,
                  summary={"files": 37})


def _case(session: Session, uid: str = "1", submitter: str = SUBMITTER,
          report: Report | None = None) -> tuple[Case, Version, Report]:
    """A submission with its first version, as the pipeline would write it."""
    report = report or _report()
    message = InboxMessage(account="maildir:/srv/cor", folder="INBOX", uidvalidity="1", uid=uid, message_id=THEIR_ID,
                           size=1000, received_at=NOW, sender=submitter, subject=SUBJECT)
    submission = Case(tracking_number=allocate_tracking_number(session, 2026), submitter=submitter,
                      submitter_name="Jane Doe", subject=SUBJECT, received_at=NOW)
    session.add_all([message, submission])
    version = record_version(session, submission, message, report)
    return submission, version, report


def _queue(session: Session, uid: str = "1", submitter: str = SUBMITTER, config: OutboundConfig = CONFIG,
           now: datetime = NOW) -> Reply | None:
    submission, version, report = _case(session, uid, submitter)
    msg = render_acknowledgement(submission, version, report, config, THEIR_ID, THEIR_REFERENCES, services=SERVICES)
    return queue_reply(session, submission, version, msg, submission.submitter, config, now=now)


def _text(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def _html(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def _transient_ack(verdict: str = "returned") -> EmailMessage:
    """An acknowledgement rendered from objects not in any database."""
    message = InboxMessage(subject=SUBJECT)
    submission = Case(tracking_number="SECOR-2026-000042", submitter=SUBMITTER, submitter_name="Jane Doe",
                      subject=SUBJECT)
    version = Version(message=message, submission=submission, number=1)
    return render_acknowledgement(submission, version, _report(verdict), CONFIG, THEIR_ID, THEIR_REFERENCES, services=SERVICES)


# --- rendering -------------------------------------------------------------------------------------

def test_acknowledgement_headers_thread_and_mark_it_automatic() -> None:
    msg = _transient_ack()
    assert msg["Subject"] == f"Re: {SUBJECT} [SECOR-2026-000042]"
    assert msg["In-Reply-To"] == THEIR_ID
    assert msg["References"].split() == THEIR_REFERENCES + [THEIR_ID]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Precedence"] is None
    assert msg["From"] == "ACSA COR Department <COR@youracsa.ca>"
    assert msg["To"] == f"Jane Doe <{SUBMITTER}>"
    assert msg["Message-ID"].startswith("<SECOR-2026-000042.") and msg["Message-ID"].endswith("@youracsa.ca>")
    assert msg["Date"] is not None
    assert _transient_ack()["Message-ID"] != msg["Message-ID"]


def test_acknowledgement_body_lists_every_reject_and_warn_with_its_path_but_no_info() -> None:
    msg = _transient_ack("returned")
    for body in (_text(msg), _html(msg)):
        assert "SECOR-2026-000042" in body
        assert REJECT_MSG in body and "Element 2/Hazard assessment.tif" in body
        assert WARN_MSG in body and "Element 4/scan0001.pdf" in body
        assert INFO_MSG not in body
        assert "returned: please fix the points below and send it again, replying to this" in " ".join(body.split())
    text = _text(msg)
    assert text.index(REJECT_MSG) < text.index(WARN_MSG)  # what must be fixed comes first
    assert "Keep the tracking number [SECOR-2026-000042] in the subject" in " ".join(text.split())
    assert "  - The file is a scanned fax image (TIFF). Please convert it to PDF.\n" \
           "    In: Element 2/Hazard assessment.tif\n" in text


@pytest.mark.parametrize(("verdict", "words"), [
    ("accepted", "received and passed to our QA team"),
    ("needs_review", "received; a QA analyst will look at a few points"),
    ("returned", "returned: please fix the points below"),
])
def test_acknowledgement_says_the_verdict_in_words(verdict: str, words: str) -> None:
    text = " ".join(_text(_transient_ack(verdict)).split())
    assert words in text
    others = {"accepted": "passed to our QA team", "needs_review": "a QA analyst will look",
              "returned": "please fix the points"}
    assert all(phrase not in text for v, phrase in others.items() if v != verdict)
    assert (WARN_MSG in text) == (verdict != "accepted")


def test_acknowledgement_html_escapes_what_the_submission_named() -> None:
    message = InboxMessage(subject=SUBJECT)
    submission = Case(tracking_number="SECOR-2026-000042", submitter=SUBMITTER, subject=SUBJECT)
    version = Version(message=message, submission=submission, number=1)
    report = Report(source=Source(kind="attachment", name="a.zip"),
                    findings=[finding("label.unclear_name", "Unclear name.", "Element 1/<script>x</script>.pdf")])
    msg = render_acknowledgement(submission, version, report, CONFIG, None, [], services=SERVICES)
    assert "<script>" not in _html(msg) and "&lt;script&gt;" in _html(msg)
    assert "<script>x</script>" in _text(msg)
    assert msg["In-Reply-To"] is None and msg["References"] is None


@pytest.mark.parametrize(("original", "expected"), [
    ("SECOR 2026", "Re: SECOR 2026 [SECOR-2026-000042]"),
    ("RE: Re: Fwd: SECOR 2026", "Re: SECOR 2026 [SECOR-2026-000042]"),
    ("Re: SECOR 2026 [SECOR-2026-000042]", "Re: SECOR 2026 [SECOR-2026-000042]"),
    ("", "Re: Your SECOR submission [SECOR-2026-000042]"),
    (None, "Re: Your SECOR submission [SECOR-2026-000042]"),
    ("Line one\r\n line two", "Re: Line one line two [SECOR-2026-000042]"),
])
def test_reply_subject(original: str | None, expected: str) -> None:
    assert reply_subject(original, "SECOR-2026-000042") == expected


def test_no_submission_reply_explains_how_to_submit() -> None:
    msg = render_no_submission(CONFIG, SUBMITTER, "Jane Doe", "Question about SECOR", THEIR_ID, [], services=SERVICES)
    text = " ".join(_text(msg).split())
    assert msg["Subject"] == "Re: Question about SECOR"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["In-Reply-To"] == THEIR_ID
    assert "zipped folder attached" in text and '"anyone with the link"' in text
    assert supported_services_phrase() in text and all(name in text for name in ("Dropbox", "OneDrive", "Google Drive"))


def test_too_large_reply_asks_for_a_link_and_gives_the_sizes() -> None:
    msg = render_too_large(CONFIG, SUBMITTER, None, "SECOR", THEIR_ID, [], size=62_400_000, limit=40_000_000,
                           tracking_number="SECOR-2026-000050", services=SERVICES)
    text = " ".join(_text(msg).split())
    assert msg["Subject"] == "Re: SECOR [SECOR-2026-000050]"
    assert "62.4 MB" in text and "40 MB" in text and "download link instead" in text
    assert text.startswith("Hello,")


def test_headers_we_write_have_no_stray_spaces() -> None:
    # names and subjects as mail clients send them: folded, tabbed, padded
    config = OutboundConfig(from_address="COR@youracsa.ca", from_name=" ACSA  COR\tDepartment ")
    msg = render_no_submission(config, SUBMITTER, "  Doe,\t Jane  ", "  Re:  Question   about\tSECOR  ",
                               THEIR_ID, ["<a@x.ca>"], services=SERVICES)
    head = msg.as_bytes(policy=policy.SMTP).split(b"\r\n\r\n")[0].decode("ascii")
    for line in head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n"):  # unfolded
        name, colon, value = line.partition(": ")
        assert colon and value == value.strip() and "  " not in value and "\t" not in value, line
    assert msg["To"] == '"Doe, Jane" <jane.doe@acme-roofing.ca>'
    assert msg["From"] == "ACSA COR Department <COR@youracsa.ca>"
    assert msg["Subject"] == "Re: Question about SECOR"


# --- the outbox rules ------------------------------------------------------------------------------

def test_queued_reply_stores_the_rendered_bytes_once(db_sessions) -> None:
    with db_sessions.begin() as session:
        reply = _queue(session)
    assert reply is not None and reply.status == "pending" and reply.next_attempt_at == NOW
    with db_sessions() as session:
        stored = session.scalars(select(Reply)).one()
        parsed = message_from_bytes(stored.raw, policy=policy.default)
        assert parsed["Message-ID"] == stored.message_id
        assert stored.subject == parsed["Subject"] and "[SECOR-2026-000001]" in stored.subject
        assert stored.recipient == SUBMITTER and stored.version.number == 1
        assert stored.source_message.message_id == THEIR_ID
        assert b"\r\n" in stored.raw and max(len(line) for line in stored.raw.split(b"\r\n")) <= 998
        assert stored.submission.replies == [stored]


def test_never_reply_to_our_own_address(db_sessions) -> None:
    with db_sessions.begin() as session:
        reply = _queue(session, submitter="cor@YOURACSA.ca")
    assert reply is not None and reply.status == "suppressed"
    assert reply.suppressed_reason == "recipient is our own address"
    assert reply.next_attempt_at is None


def test_replies_per_address_per_day_are_capped(db_sessions) -> None:
    with db_sessions.begin() as session:
        statuses = [_queue(session, uid=str(n)).status for n in range(3)]
        other = _queue(session, uid="9", submitter="someone@else.ca")
    assert statuses == ["pending", "pending", "suppressed"]
    assert other.status == "pending"
    with db_sessions.begin() as session:
        suppressed = session.scalars(select(Reply).where(Reply.status == "suppressed")).one()
        assert "limit 2" in suppressed.suppressed_reason
        later = _queue(session, uid="5", now=NOW + timedelta(hours=24, seconds=1))  # a day later
    assert later.status == "pending"


def test_a_persons_reply_is_not_held_back_by_the_daily_limit(db_sessions) -> None:
    """The limit stops loops with robots; an analyst's decision email to the same address still goes."""
    with db_sessions.begin() as session:
        assert [_queue(session, uid=str(n)).status for n in range(3)][-1] == "suppressed"
        submission, _, report = _case(session, "7", SUBMITTER)
        msg = render_acknowledgement(submission, submission.versions[0], report, CONFIG, THEIR_ID, THEIR_REFERENCES, services=SERVICES)
        decided = queue_reply(session, submission, None, msg, SUBMITTER, CONFIG, now=NOW, automatic=False)
    assert decided.status == "pending" and decided.suppressed_reason is None


def test_at_most_one_reply_per_version_and_per_incoming_email(db_sessions) -> None:
    with db_sessions.begin() as session:
        submission, version, report = _case(session)
        first = render_acknowledgement(submission, version, report, CONFIG, THEIR_ID, [], services=SERVICES)
        second = render_acknowledgement(submission, version, report, CONFIG, THEIR_ID, [], services=SERVICES)
        assert queue_reply(session, submission, version, first, SUBMITTER, CONFIG, now=NOW) is not None
        assert queue_reply(session, submission, version, second, SUBMITTER, CONFIG, now=NOW) is None
        # a reply not tied to a version is still one per incoming email
        question = InboxMessage(account="maildir:/srv/cor", folder="INBOX", uidvalidity="1", uid="q", size=10,
                                received_at=NOW, sender="bob@x.ca", subject="Question")
        session.add(question)
        ask = render_no_submission(CONFIG, "bob@x.ca", None, "Question", None, [], services=SERVICES)
        assert queue_reply(session, None, None, ask, "bob@x.ca", CONFIG, source_message=question, now=NOW) is not None
        ask_again = render_no_submission(CONFIG, "bob@x.ca", None, "Question", None, [], services=SERVICES)
        assert queue_reply(session, None, None, ask_again, "bob@x.ca", CONFIG, source_message=question,
                           now=NOW) is None
    with db_sessions() as session:
        assert session.scalars(select(Reply.recipient).order_by(Reply.id)).all() == [SUBMITTER, "bob@x.ca"]


# --- sending -------------------------------------------------------------------------------------

def _smtp(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", server.port, "none", timeout=10.0)


def _reply(sessions) -> Reply:
    with sessions() as session:
        return session.scalars(select(Reply)).one()


def test_smtp_outage_delays_the_reply_and_loses_nothing(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        _queue(session)
    transport = _smtp(smtp_server)
    smtp_server.stop()

    assert send_pending(db_sessions, transport, CONFIG, now=NOW) == SendStats(deferred=1)
    reply = _reply(db_sessions)
    assert (reply.status, reply.attempts) == ("pending", 1)
    assert reply.next_attempt_at == NOW + timedelta(seconds=60) and reply.last_error

    assert send_pending(db_sessions, transport, CONFIG, now=NOW + timedelta(seconds=30)) == SendStats()  # not due

    smtp_server.start()
    assert send_pending(db_sessions, transport, CONFIG, now=NOW + timedelta(seconds=61)) == SendStats(sent=1)
    assert send_pending(db_sessions, transport, CONFIG, now=NOW + timedelta(days=2)) == SendStats()
    [received] = smtp_server.messages()
    reply = _reply(db_sessions)
    assert (reply.status, reply.attempts, reply.last_error) == ("sent", 2, None)
    assert reply.sent_at is not None and received.raw.rstrip(b"\r\n") == reply.raw.rstrip(b"\r\n")
    assert received.mail_from == "<>" and received.rcpt_tos == [SUBMITTER]


def test_permanent_refusal_fails_the_reply_at_once(db_sessions, smtp_server: SmtpServer) -> None:
    smtp_server.refuse.add(SUBMITTER)
    with db_sessions.begin() as session:
        _queue(session)
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW) == SendStats(failed=1)
    reply = _reply(db_sessions)
    assert (reply.status, reply.attempts) == ("failed", 1) and "550" in reply.last_error
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW + timedelta(days=1)) == SendStats()


def test_reply_fails_after_max_attempts_with_growing_backoff(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        _queue(session)
    transport = _smtp(smtp_server)
    smtp_server.stop()
    now = NOW
    due_times = []
    for _ in range(CONFIG.max_attempts - 1):
        assert send_pending(db_sessions, transport, CONFIG, now=now).deferred == 1
        now = _reply(db_sessions).next_attempt_at
        due_times.append(now)
    assert [b - a for a, b in pairwise([NOW] + due_times)] == [timedelta(seconds=60), timedelta(seconds=120)]
    assert send_pending(db_sessions, transport, CONFIG, now=now) == SendStats(failed=1)
    assert (_reply(db_sessions).status, _reply(db_sessions).attempts) == ("failed", CONFIG.max_attempts)
    assert backoff(CONFIG.retry_base_seconds, 30, MAX_BACKOFF) == timedelta(hours=6)  # capped


def test_a_server_outage_stops_the_run_without_charging_the_rest(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        for n in range(3):
            _queue(session, uid=str(n), submitter=f"user{n}@acme.ca")
    smtp_server.stop()
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW) == SendStats(deferred=1)
    with db_sessions() as session:
        rows = session.execute(select(Reply.status, Reply.attempts).order_by(Reply.id)).all()
    assert [tuple(r) for r in rows] == [("pending", 1), ("pending", 0), ("pending", 0)]
    smtp_server.start()
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW).sent == 2  # the untried ones are due
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW + timedelta(minutes=5)).sent == 1
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages()) == ["user0@acme.ca", "user1@acme.ca",
                                                                     "user2@acme.ca"]


class _Crash(BaseException):
    """The process dies: nothing after this point runs."""


class _CrashAfterDelivery(Transport):
    """Delivers for real, then 'crashes' before the reply job can record it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        self.inner.send(raw, mail_from, recipients)
        raise _Crash()


def test_a_crash_after_acceptance_resends_the_byte_identical_message(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        _queue(session)
    with pytest.raises(_Crash):
        send_pending(db_sessions, _CrashAfterDelivery(_smtp(smtp_server)), CONFIG, now=NOW)
    assert _reply(db_sessions).status == "sending"
    with db_sessions.begin() as session:  # the sender that crashed ran on another host: only the lease tells
        session.execute(update(Reply).values(claimed_by="other-host:4242:0a1b2c3d"))
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW + timedelta(minutes=5)) == SendStats()
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW + timedelta(minutes=16)) == SendStats(sent=1)
    first, second = smtp_server.messages()
    assert first.raw == second.raw  # same bytes, same Message-ID: the receiver can drop the duplicate
    assert _reply(db_sessions).status == "sent"


def test_a_send_this_process_could_not_record_is_retried_at_the_next_run(db_sessions, smtp_server: SmtpServer) -> None:
    """The database failed between the server's acceptance and "sent": the claim is this process's own and
    no thread holds it any more, so the next run takes it at once instead of waiting out the lease."""
    with db_sessions.begin() as session:
        _queue(session)
    with pytest.raises(_Crash):
        send_pending(db_sessions, _CrashAfterDelivery(_smtp(smtp_server)), CONFIG, now=NOW)
    assert send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW + timedelta(seconds=1)) == SendStats(sent=1)
    assert _reply(db_sessions).status == "sent"


class _RecordsBeforeQuit(Transport):
    """Notes, at the end of the run, the status each reply had in the database then."""

    def __init__(self, inner: Transport, sessions) -> None:
        self.inner, self.sessions, self.status_at_close = inner, sessions, None

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        self.inner.send(raw, mail_from, recipients)

    def close(self) -> None:
        self.status_at_close = _reply(self.sessions).status
        self.inner.close()


def test_sent_is_recorded_before_the_smtp_session_ends(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        _queue(session)
    transport = _RecordsBeforeQuit(_smtp(smtp_server), db_sessions)
    assert send_pending(db_sessions, transport, CONFIG, now=NOW) == SendStats(sent=1)
    assert transport.status_at_close == "sent"


def test_two_senders_at_once_deliver_each_reply_once(db_sessions, smtp_server: SmtpServer) -> None:
    with db_sessions.begin() as session:
        for n in range(12):
            _queue(session, uid=str(n), submitter=f"user{n}@acme.ca")
    stats = run_together(lambda: send_pending(db_sessions, _smtp(smtp_server), CONFIG, now=NOW))
    assert sum(s.sent for s in stats) == 12
    recipients = [m.rcpt_tos[0] for m in smtp_server.messages()]
    assert sorted(recipients) == sorted(f"user{n}@acme.ca" for n in range(12))


def test_file_transport_outbox_gets_one_eml_per_reply(db_sessions, tmp_path: Path) -> None:
    with db_sessions.begin() as session:
        for n in range(2):
            _queue(session, uid=str(n), submitter=f"user{n}@acme.ca")
    outbox = tmp_path / "outbox"
    assert send_pending(db_sessions, FileTransport(outbox), CONFIG, now=NOW) == SendStats(sent=2)
    with db_sessions() as session:
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
    files = sorted(outbox.iterdir())
    assert len(files) == 2
    assert sorted(f.read_bytes() for f in files) == sorted(r.raw for r in replies)
    assert all(f.name.startswith("SECOR-2026-00000") for f in files)
