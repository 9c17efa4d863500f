"""What the pipeline does with each kind of email: one handler per outcome, tried in order.

Like GNU Mailman's chains: each handler has a name, a one-line description, when it applies, the slow
work it needs before anything is written (`prepare`), what it records inside the one transaction that
settles the message (`record`), and what it does once that is committed (`finish`). The pipeline
(intake.pipeline) keeps the claim, the fetch, the copy check, error isolation, filing and moving. A
new kind of outcome is one class here, added to HANDLERS; its folder comes from its MessageOutcome.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fetchers.providers import supported_services_phrase
from intake import authresults, disposition, scan
from intake import message as email_parser
from intake.db import Case, InboxMessage
from intake.mailbox.base import MessageRef
from intake.replies import (
    queue_reply,
    render_acknowledgement,
    render_no_submission,
    render_too_large,
)
from intake.states import MessageOutcome
from intake.storage import kept_files
from triage.engine import empty_summary, finish_report
from triage.findings import RETURNED, finding
from triage.report import Report, Source

if TYPE_CHECKING:
    from intake.pipeline import Pipeline

log = logging.getLogger("secor_intake.pipeline")


@dataclass(frozen=True)
class Incoming:
    """One fetched email and what is known of it, as the handlers see it."""

    ref: MessageRef
    parsed: email_parser.ParsedMessage
    sha256: str  # of the raw email; of its header alone when it was too large to fetch
    workdir: Path  # the message's scratch folder
    too_large: bool  # only the header was fetched
    kind: str | None  # disposition.classify's answer (a follow-up to an unknown case judged by content)
    case_number: str | None  # the existing case it replies to
    backlog: bool  # arrived before the daemon first looked at the inbox: filed without a reply
    auth: authresults.AuthResults | None = None  # what our own mail server says of the sender, if anything
    claimed_case: str | None = None  # a case it quoted but whose sender may not speak for: it opens its own

    @property
    def carries_files(self) -> bool:
        return bool(self.parsed.attachments or self.parsed.links)


class Handler:
    """One outcome of an email. Subclasses set `name` and `description` and implement `applies` and `record`."""

    name = ""
    description = ""

    def applies(self, email: Incoming) -> bool:
        raise NotImplementedError

    def prepare(self, pipeline: Pipeline, email: Incoming) -> Any:
        """Slow work before the transaction (triage, downloads); its result goes to `record`."""
        return None

    def record(self, pipeline: Pipeline, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        """Write the outcome in the caller's transaction; return it and a line for the log."""
        raise NotImplementedError

    def finish(self, pipeline: Pipeline, row: InboxMessage, email: Incoming) -> None:
        """After the commit: nothing by default (the pipeline files and moves the email later)."""


class TooLarge(Handler):
    name = "too_large"
    description = "an email over the size limit: a returned case from its header, the sender asked for a link"

    def applies(self, email: Incoming) -> bool:
        return email.too_large

    def record(self, pipeline: Pipeline, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        config = pipeline.config
        limit, parsed = config.limits.max_message_bytes, email.parsed
        report = finish_report(Source(kind="attachment", name=parsed.subject or None), [
            finding("message.too_large",
                    f"Your email is {email.ref.size / 1_000_000:.1f} MB, over our {limit / 1_000_000:g} MB limit, so "
                    f"we could not open it. Please send a {supported_services_phrase()} download link to the "
                    "zipped folder instead.")], config.triage.severities, empty_summary(config.triage.vocabulary))
        case, version, report = pipeline.add_version(session, row, parsed, report, None)
        if parsed.sender and not email.backlog:
            msg = render_too_large(config.outbound, parsed.sender, parsed.sender_name, parsed.subject,
                                   parsed.message_id, parsed.references, email.ref.size, limit, case.tracking_number)
            queue_reply(session, case, version, msg, parsed.sender, config.outbound, source_message=row)
        return MessageOutcome.TOO_LARGE, (f"{case.tracking_number} v1: returned (email of {email.ref.size} bytes "
                                          f"over the limit) from {parsed.sender}")


class Correspondence(Handler):
    name = "correspondence"
    description = "a reply to a known case with no new files: kept with the case for QA, no acknowledgement"

    def applies(self, email: Incoming) -> bool:
        return email.kind == disposition.FOLLOW_UP and email.case_number is not None and not email.carries_files

    def _raw_target(self, pipeline: Pipeline, email: Incoming, row: InboxMessage) -> Path:
        return pipeline.storage.root / str(email.case_number) / "correspondence" / f"{row.id}.eml"

    def record(self, pipeline: Pipeline, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        # case_number is only set for a case that exists (Pipeline._known_case), and cases are never deleted
        case = session.scalars(select(Case).where(Case.tracking_number == email.case_number)).one()
        row.submission_id = case.id
        row.raw_path = pipeline.storage.stored_path(self._raw_target(pipeline, email, row))
        return MessageOutcome.PROCESSED, (f"{email.case_number}: message without files from {email.parsed.sender} "
                                          "joined the case (no reply)")

    def finish(self, pipeline: Pipeline, row: InboxMessage, email: Incoming) -> None:
        target = self._raw_target(pipeline, email, row)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(email.workdir / "message.eml", target)
        pipeline.storage.discard_workdir(row.id)


class Ignored(Handler):
    name = "ignored"
    description = "automatic mail (auto-replies, bounces, lists) and mail that is not about SECOR: no reply"

    def applies(self, email: Incoming) -> bool:
        return email.kind in (disposition.AUTOMATIC, disposition.OTHER)

    def record(self, pipeline: Pipeline, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        parsed = email.parsed
        reason = disposition.detect_automatic(parsed)
        row.last_error = reason or "not a submission"
        return MessageOutcome.IGNORED, (f"uid={row.uid} ignored ({reason or email.kind}) "
                                        f"from {parsed.sender}: {parsed.subject!r}")

    def finish(self, pipeline: Pipeline, row: InboxMessage, email: Incoming) -> None:
        pipeline.storage.discard_workdir(row.id)


class NewVersion(Handler):
    name = "version"
    description = "a submission (zip or link), or a question with none: triaged into a new case or the next version"

    def applies(self, email: Incoming) -> bool:
        return True

    def prepare(self, pipeline: Pipeline, email: Incoming) -> Report:
        config = pipeline.config
        report = pipeline.triage_email(email)
        submitter = None
        if email.case_number is not None:
            with pipeline.sessions() as session:
                submitter = session.scalar(select(Case.submitter)
                                           .where(Case.tracking_number == email.case_number))
        if (why := disposition.sender_unverified(email.parsed, email.auth, submitter)) is not None:
            report = finish_report(report.source, [*report.findings, finding("message.sender_unverified", why)],
                                   config.triage.severities, report.summary, report.documents)
        if email.claimed_case is not None:
            report = finish_report(report.source, [*report.findings, finding(
                "message.claimed_case", disposition.claimed_case_message(email.claimed_case))],
                config.triage.severities, report.summary, report.documents)
        # Before anything is filed: a scanner that is down and required raises ScannerUnavailable.
        return scan.scan_submission(report, kept_files(email.workdir), config.scan, config.triage.severities)

    def record(self, pipeline: Pipeline, session: Session, row: InboxMessage, email: Incoming,
               prepared: Report) -> tuple[MessageOutcome, str]:
        report, parsed, outbound = prepared, email.parsed, pipeline.config.outbound
        case, version, report = pipeline.add_version(session, row, parsed, report, email.case_number)
        if email.backlog:
            log.info("%s: mail from before the daemon's first look at the inbox: filed without a reply",
                              case.tracking_number)
        elif parsed.sender:
            if any(f.code == "message.no_submission" for f in report.findings):
                msg = render_no_submission(outbound, parsed.sender, parsed.sender_name, parsed.subject,
                                           parsed.message_id, parsed.references, case.tracking_number)
            else:
                msg = render_acknowledgement(case, version, report, outbound, parsed.message_id, parsed.references,
                                             recipient=(parsed.sender, parsed.sender_name))
            queue_reply(session, case, version, msg, parsed.sender, outbound, source_message=row)
        outcome = MessageOutcome.RETURNED if report.verdict == RETURNED else MessageOutcome.PROCESSED
        return outcome, (f"{case.tracking_number} v{version.number}: {report.verdict} ({report.source.kind}, "
                         f"{len(report.findings)} findings) from {parsed.sender}")


# Tried in this order; the last applies to everything left.
HANDLERS: tuple[Handler, ...] = (TooLarge(), Correspondence(), Ignored(), NewVersion())


def handler_for(email: Incoming) -> Handler:
    return next(handler for handler in HANDLERS if handler.applies(email))
