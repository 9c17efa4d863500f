"""The table of message outcomes: each handler described, and the first that applies wins."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from intake import disposition
from intake import message as email_parser
from intake.cases.layout import Storage
from intake.config import Config, MailboxConfig
from intake.db import Case, InboxMessage, Reply
from intake.mailbox.base import MessageRef
from intake.outcomes import (
    HANDLERS,
    OUTCOME_FOLDERS,
    Context,
    Correspondence,
    Ignored,
    Incoming,
    Later,
    NewVersion,
    TooLarge,
    handler_for,
)
from intake.states import MessageOutcome
from triage.engine import finish_report
from triage.findings import finding
from triage.report import Source

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
REF = MessageRef(folder="INBOX", uidvalidity="1", uid="7", size=1000, internal_date=NOW, message_id="<a@b>")


def incoming(kind: str | None, *, zips: int = 0, case_number: str | None = None, too_large: bool = False) -> Incoming:
    parsed = email_parser.ParsedMessage(subject="SECOR", sender="a@b.example")
    parsed.attachments = [email_parser.Attachment(filename=f"{i}.zip", content_type="application/zip",
                                                  path=Path(f"{i}.zip"), size=1, is_zip=True)
                          for i in range(zips)]
    return Incoming(REF, parsed, "0" * 64, Path("."), too_large=too_large, kind=kind, case_number=case_number,
                    backlog=False)


def test_every_handler_has_a_name_and_a_one_line_description():
    names = [h.name for h in HANDLERS]
    assert len(set(names)) == len(names) and all(names)
    assert all(h.description and "\n" not in h.description for h in HANDLERS)


@pytest.mark.parametrize("email, expected", [
    (incoming(None, too_large=True), TooLarge),
    (incoming(disposition.FOLLOW_UP, case_number="SECOR-2026-000001"), Correspondence),
    (incoming(disposition.FOLLOW_UP, zips=1, case_number="SECOR-2026-000001"), NewVersion),
    (incoming(disposition.AUTOMATIC), Ignored),
    (incoming(disposition.OTHER), Ignored),
    (incoming(disposition.SUBMISSION, zips=1), NewVersion),
    (incoming(disposition.NO_SUBMISSION), NewVersion),
], ids=["too-large", "reply-without-files", "reply-with-files", "automatic", "other", "submission", "question"])
def test_the_first_handler_that_applies_takes_the_email(email, expected):
    assert type(handler_for(email)) is expected


def test_cycle_counts_are_keyed_by_plain_outcome_names():
    from intake.pipeline import CycleStats
    from intake.states import MessageOutcome

    stats = CycleStats()
    stats.count(MessageOutcome.PROCESSED)
    assert repr(stats.outcomes) == "{'processed': 1}"  # as the cycle's log line shows them


# -- each handler alone, with a Context instead of a pipeline ----------------------------------------

def _context(db_sessions, tmp_path: Path) -> Context:
    def no_triage(*args, **kwargs):
        raise AssertionError("this handler must not triage")

    return Context(Config(), db_sessions, Storage(tmp_path / "storage"), lambda: NOW, no_triage)


def _row(session, uid: str = "7") -> InboxMessage:
    row = InboxMessage(account="maildir:/srv/cor", folder="INBOX", uidvalidity="1", uid=uid, size=1000,
                       received_at=NOW, message_id="<a@b>")
    session.add(row)
    session.flush()
    return row


def _scratch(context: Context, row: InboxMessage, email: Incoming) -> Incoming:
    """`email` with its raw bytes in the row's scratch folder, where the pipeline fetches it."""
    workdir = context.storage.workdir(row.id)
    (workdir / "message.eml").write_bytes(b"Subject: SECOR\r\n\r\nthanks\r\n")
    return dataclasses.replace(email, workdir=workdir)


def test_correspondence_joins_its_case_and_files_the_email_in_the_case_folder(db_sessions, tmp_path):
    context = _context(db_sessions, tmp_path)
    with db_sessions.begin() as session:
        case = Case(tracking_number="SECOR-2026-000001", submitter="a@b.example", received_at=NOW)
        session.add(case)
        row = _row(session)
        email = _scratch(context, row, incoming(disposition.FOLLOW_UP, case_number="SECOR-2026-000001"))
        outcome, summary = Correspondence().record(context, session, row, email, None)
        row_id, case_id = row.id, case.id
    assert outcome == MessageOutcome.PROCESSED and "SECOR-2026-000001" in summary
    Correspondence().finish(context, row, email)
    with db_sessions() as session:
        stored = session.get(InboxMessage, row_id)
        assert stored.submission_id == case_id
        assert stored.raw_path == f"SECOR-2026-000001/correspondence/{row_id}.eml"
    assert (context.storage.path_of(stored.raw_path)).read_bytes().endswith(b"thanks\r\n")
    assert not context.storage.scratch(row_id).exists()


def test_ignored_mail_records_why_and_leaves_no_scratch(db_sessions, tmp_path):
    context = _context(db_sessions, tmp_path)
    with db_sessions.begin() as session:
        row = _row(session)
        email = _scratch(context, row, incoming(disposition.OTHER))
        outcome, _ = Ignored().record(context, session, row, email, None)
        assert outcome == MessageOutcome.IGNORED and row.last_error == "not a submission"
    Ignored().finish(context, row, email)
    assert not context.storage.scratch(row.id).exists()


def test_too_large_mail_opens_a_returned_case_and_asks_for_a_link(db_sessions, tmp_path):
    context = _context(db_sessions, tmp_path)
    with db_sessions.begin() as session:
        row = _row(session)
        outcome, summary = TooLarge().record(context, session, row, incoming(None, too_large=True), None)
        case = session.scalars(select(Case)).one()
        assert outcome == MessageOutcome.TOO_LARGE and case.tracking_number in summary
        assert [f["code"] for f in case.versions[0].report["findings"]] == ["message.too_large"]
        assert [r.recipient for r in session.scalars(select(Reply))] == ["a@b.example"]


def test_a_question_without_files_becomes_a_case_without_triage(db_sessions, tmp_path):
    """NewVersion.prepare answers an email with no zip and no link itself; the context's triage (which
    fails here) is only for files."""
    context = _context(db_sessions, tmp_path)
    with db_sessions.begin() as session:
        row = _row(session)
        email = _scratch(context, row, incoming(disposition.NO_SUBMISSION))
        report = NewVersion().prepare(context, email)
        outcome, _ = NewVersion().record(context, session, row, email, report)
        case = session.scalars(select(Case)).one()
        assert outcome == MessageOutcome.RETURNED
        assert [f["code"] for f in case.versions[0].report["findings"]] == ["message.no_submission"]


def test_every_outcome_has_a_folder():
    assert set(OUTCOME_FOLDERS) == set(MessageOutcome)
    assert all(hasattr(MailboxConfig(), name) for name in OUTCOME_FOLDERS.values())


def test_a_reply_to_a_tracking_number_we_never_issued_is_judged_by_its_content():
    parsed = email_parser.ParsedMessage(subject="Re: SECOR-2026-000099", sender="a@b.example")
    parsed.tracking_numbers = ["SECOR-2026-000099"]
    assert disposition.classify(parsed) == disposition.FOLLOW_UP
    assert disposition.classify(parsed, case_known=False) == disposition.NO_SUBMISSION


def test_findings_after_triage_are_finished_once_with_the_version(db_sessions, tmp_path):
    """The sender check's and the scan's findings join the triage report where the version is
    recorded: the operator's severities applied and the findings in the report's order (severity,
    then path)."""
    context = _context(db_sessions, tmp_path)
    context = dataclasses.replace(context, config=dataclasses.replace(
        context.config, triage=dataclasses.replace(context.config.triage,
                                                   severities={"message.sender_unverified": "info"})))
    triaged = finish_report(Source(kind="attachment", name="a.zip"), [finding("format.paper_era", "old", "x.tif")],
                            {}, {"files": 1})
    later = Later(findings=[finding("message.sender_unverified", "who?"), finding("format.malware", "bad", "y.exe")],
                  summary={"scan": {"engine": "clamd"}})
    with db_sessions.begin() as session:
        row = _row(session)
        _, version, report = context.add_version(session, row, email_parser.ParsedMessage(sender="a@b.example"),
                                                 triaged, None, later)
        assert [(f.code, f.severity) for f in report.findings] == [
            ("format.paper_era", "reject"), ("format.malware", "reject"), ("message.sender_unverified", "info")]
        assert report.summary == {"files": 1, "scan": {"engine": "clamd"}}
        assert version.report["findings"] == [f.to_dict() for f in report.findings]
