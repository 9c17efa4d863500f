"""What the pipeline does with each kind of email: one handler per outcome, tried in order.

Like GNU Mailman's chains: each handler has a name, a one-line description, when it applies, the slow
work it needs before anything is written (`prepare`), what it records inside the one transaction that
settles the message (`record`), and what it does once that is committed (`finish`). A handler sees
a `Context` (config, sessions, storage, clock, triage), never the pipeline, so each can be run alone.
The pipeline (intake.pipeline) keeps the claim, the fetch, the copy check, error isolation, filing and
moving. A new kind of outcome is one class here, added to HANDLERS; its folder is the MessageOutcome's
in OUTCOME_FOLDERS.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.orm import Session, sessionmaker

from fetchers.providers import supported_services_phrase
from intake import authresults, disposition, scan
from intake import message as email_parser
from intake.assess import assess_links
from intake.cases import commands
from intake.cases.layout import Storage, attachments_dir, kept_files, scratch_email, triage_dir, triage_files
from intake.cases.outbox import (
    queue_reply,
    render_acknowledgement,
    render_no_submission,
    render_too_large,
)
from intake.cases.queries import find_case
from intake.config import Config, MailboxConfig
from intake.db import Case, InboxMessage, Version
from intake.mailbox.base import MessageRef
from intake.states import MessageOutcome, MessageState
from triage.engine import empty_summary, finish_report
from triage.findings import RETURNED, Finding, finding
from triage.report import Report, Source

log = logging.getLogger("secor_intake.pipeline")


class LinkStillUnavailable(Exception):
    """A share link failed for a passing reason; the message is retried later, the submitter not told yet."""


@dataclass(frozen=True)
class Context:
    """What a handler works with (the pipeline builds one; a test can build its own)."""

    config: Config
    sessions: sessionmaker[Session]
    storage: Storage
    clock: Callable[[], datetime]
    triage: Callable[..., Report]  # triage.engine.triage_path, or a stand-in a test passes

    def add_version(self, session: Session, row: InboxMessage, parsed: email_parser.ParsedMessage, report: Report,
                    case_number: str | None, later: Later | None = None) -> tuple[Case, Version, Report]:
        """commands.add_version for this email, with this context's storage, clock, severities and
        register settings."""
        later = later or Later()
        return commands.add_version(session, row, report, case_number, sender=parsed.sender,
                                    sender_name=parsed.sender_name, subject=parsed.subject, year=self.clock().year,
                                    storage=self.storage, severities=self.config.triage.severities,
                                    registers=self.config.registers, later_findings=later.findings,
                                    later_summary=later.summary)


@dataclass(frozen=True)
class Later:
    """What is found about an email after triage (sender check, virus scan), added to its report
    where the version is recorded, so the report is finished once."""

    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


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

    def prepare(self, context: Context, email: Incoming) -> Any:
        """Slow work before the transaction (triage, downloads); its result goes to `record`."""
        return None

    def record(self, context: Context, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        """Write the outcome in the caller's transaction; return it and a line for the log."""
        raise NotImplementedError

    def finish(self, context: Context, row: InboxMessage, email: Incoming) -> None:
        """After the commit: nothing by default (the pipeline files and moves the email later)."""


class TooLarge(Handler):
    name = "too_large"
    description = "an email over the size limit: a returned case from its header, the sender asked for a link"

    def applies(self, email: Incoming) -> bool:
        return email.too_large

    def record(self, context: Context, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        config = context.config
        limit, parsed = config.limits.max_message_bytes, email.parsed
        report = finish_report(Source(kind="attachment", name=parsed.subject or None), [
            finding("message.too_large",
                    f"Your email is {email.ref.size / 1_000_000:.1f} MB, over our {limit / 1_000_000:g} MB limit, so "
                    f"we could not open it. Please send a {supported_services_phrase()} download link to the "
                    "zipped folder instead.")], config.triage.severities, empty_summary(config.triage.vocabulary))
        case, version, report = context.add_version(session, row, parsed, report, None)
        if parsed.sender and not email.backlog:
            msg = render_too_large(config.outbound, parsed.sender, parsed.sender_name, parsed.subject,
                                   parsed.message_id, parsed.references, email.ref.size, limit, case.tracking_number,
                                   services=supported_services_phrase())
            queue_reply(session, case, version, msg, parsed.sender, config.outbound, source_message=row)
        return MessageOutcome.TOO_LARGE, (f"{case.tracking_number} v1: returned (email of {email.ref.size} bytes "
                                          f"over the limit) from {parsed.sender}")


class Correspondence(Handler):
    name = "correspondence"
    description = "a reply to a known case with no new files: kept with the case for QA, no acknowledgement"

    def applies(self, email: Incoming) -> bool:
        return email.kind == disposition.FOLLOW_UP and email.case_number is not None and not email.carries_files

    def _raw_target(self, context: Context, email: Incoming, row: InboxMessage) -> Path:
        return context.storage.correspondence_file(str(email.case_number), row.id)

    def record(self, context: Context, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        case = find_case(session, str(email.case_number))
        if case is None:  # not reached: case_number is only set for a case that exists, and cases are kept
            raise LookupError(email.case_number)
        row.submission_id = case.id
        row.raw_path = context.storage.stored_path(self._raw_target(context, email, row))
        return MessageOutcome.PROCESSED, (f"{email.case_number}: message without files from {email.parsed.sender} "
                                          "joined the case (no reply)")

    def finish(self, context: Context, row: InboxMessage, email: Incoming) -> None:
        target = self._raw_target(context, email, row)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(scratch_email(email.workdir), target)
        context.storage.discard_workdir(row.id)


class Ignored(Handler):
    name = "ignored"
    description = "automatic mail (auto-replies, bounces, lists) and mail that is not about SECOR: no reply"

    def applies(self, email: Incoming) -> bool:
        return email.kind in (disposition.AUTOMATIC, disposition.OTHER)

    def record(self, context: Context, session: Session, row: InboxMessage, email: Incoming,
               prepared: Any) -> tuple[MessageOutcome, str]:
        parsed = email.parsed
        reason = disposition.detect_automatic(parsed)
        row.last_error = reason or "not a submission"
        return MessageOutcome.IGNORED, (f"uid={row.uid} ignored ({reason or email.kind}) "
                                        f"from {parsed.sender}: {parsed.subject!r}")

    def finish(self, context: Context, row: InboxMessage, email: Incoming) -> None:
        context.storage.discard_workdir(row.id)


class NewVersion(Handler):
    name = "version"
    description = "a submission (zip or link), or a question with none: triaged into a new case or the next version"

    def applies(self, email: Incoming) -> bool:
        return True

    def prepare(self, context: Context, email: Incoming) -> tuple[Report, Later]:
        config = context.config
        report = triage_email(context, email)
        later = Later()
        submitter = None
        if email.case_number is not None:
            with context.sessions() as session:
                known = find_case(session, email.case_number)
                submitter = known.submitter if known is not None else None
        if (why := disposition.sender_unverified(email.parsed, email.auth, submitter)) is not None:
            later.findings.append(finding("message.sender_unverified", why))
        if email.claimed_case is not None:
            later.findings.append(finding("message.claimed_case", disposition.claimed_case_message(email.claimed_case)))
        # Before anything is filed: a scanner that is down and required raises ScannerUnavailable.
        scanned, summary = scan.scan_submission(kept_files(email.workdir), config.scan)
        later.findings.extend(scanned)
        later.summary.update(summary)
        return report, later

    def record(self, context: Context, session: Session, row: InboxMessage, email: Incoming,
               prepared: tuple[Report, Later]) -> tuple[MessageOutcome, str]:
        (report, later), parsed, outbound = prepared, email.parsed, context.config.outbound
        case, version, report = context.add_version(session, row, parsed, report, email.case_number, later)
        if email.backlog:
            log.info("%s: mail from before the daemon's first look at the inbox: filed without a reply",
                              case.tracking_number)
        elif parsed.sender:
            if any(f.code == "message.no_submission" for f in report.findings):
                msg = render_no_submission(outbound, parsed.sender, parsed.sender_name, parsed.subject,
                                           parsed.message_id, parsed.references, case.tracking_number,
                                           services=supported_services_phrase())
            else:
                msg = render_acknowledgement(case, version, report, outbound, parsed.message_id, parsed.references,
                                             services=supported_services_phrase(),
                                             recipient=(parsed.sender, parsed.sender_name))
            queue_reply(session, case, version, msg, parsed.sender, outbound, source_message=row)
        outcome = MessageOutcome.RETURNED if report.verdict == RETURNED else MessageOutcome.PROCESSED
        return outcome, (f"{case.tracking_number} v{version.number}: {report.verdict} ({report.source.kind}, "
                         f"{len(report.findings)} findings) from {parsed.sender}")


def known_case(context: Context, parsed: email_parser.ParsedMessage,
               auth: authresults.AuthResults | None) -> tuple[str | None, str | None]:
    """(the first quoted case of ours the sender may speak for, else None; the first quoted case of
    ours it may not, else None). A reply to a number we never issued, or to a case its sender may
    not speak for, is judged by its content (disposition.classify's `case_known`; issue 24)."""
    claimed = None
    if not parsed.tracking_numbers:
        return None, None
    with context.sessions() as session:
        for number in parsed.tracking_numbers:
            case = find_case(session, number)
            if case is None:
                continue
            if disposition.may_speak_for(parsed.sender, auth, case.submitter, case.correspondents):
                return number, None
            claimed = claimed or number
    return None, claimed


def triage_email(context: Context, email: Incoming) -> Report:
    """The triage report of what the email carries: its zips, else its links, else nothing.

    The files triage keeps for storage end up in `<scratch>/files` (see `intake.cases.layout.kept_files`).
    """
    config, parsed, workdir = context.config, email.parsed, email.workdir
    triage_dir(workdir).mkdir()
    if parsed.attachments:
        zips = parsed.attachments
        if len(zips) == 1:
            target, name = zips[0].path, zips[0].filename
        else:  # several zips (a submission split to fit the mail size): triage them as one folder
            target = attachments_dir(workdir)
            target.mkdir()
            for attachment in zips:
                os.replace(attachment.path, target / attachment.path.name)
            name = ", ".join(a.filename for a in zips)
        report = context.triage(target, config.limits, config.triage, triage_dir(workdir),
                                Source(kind="attachment", name=name), keep_files=True)
        _keep_files(triage_files(workdir) if target.is_file() else target, workdir)
    elif parsed.links:
        assessed = assess_links(parsed.links, config, workdir, keep_files=True, triage=context.triage)
        from intake.metrics import count_link_download  # prometheus-client: only where links are fetched

        count_link_download(parsed.links[0], assessed.report, assessed.transient)
        age = context.clock() - email.ref.internal_date
        if assessed.transient and age < timedelta(hours=config.processing.link_retry_hours):
            raise LinkStillUnavailable("; ".join(f.message for f in assessed.report.findings)
                                       or "link unavailable")
        report = assessed.report
        if assessed.kept is not None:
            _keep_files(assessed.kept, workdir)
    else:
        report = finish_report(Source(kind="message", name=parsed.subject or None), [
            finding("message.no_submission",
                    "Your email did not include a submission. Please send your SECOR evaluation as a zipped "
                    f"folder attached to an email, or as a {supported_services_phrase()} download link "
                    "shared with 'anyone with the link'.")], config.triage.severities,
            empty_summary(config.triage.vocabulary))
    return report


def _keep_files(kept: Path, workdir: Path) -> None:
    """Put what triage kept in the one place filing looks (a zip's files, or the triaged folder)."""
    if kept.is_dir():
        os.replace(kept, kept_files(workdir))


# Where each outcome's email is moved: the MailboxConfig setting that names the folder.
OUTCOME_FOLDERS = {MessageOutcome.PROCESSED: "processed_folder", MessageOutcome.RETURNED: "returned_folder",
                   MessageOutcome.TOO_LARGE: "returned_folder", MessageOutcome.IGNORED: "ignored_folder"}


def outcome_folder(mailbox: MailboxConfig, row: InboxMessage) -> str:
    """The folder a settled message is moved to: its outcome's, or the failed folder once abandoned."""
    if row.state == MessageState.ABANDONED:
        return mailbox.failed_folder
    if row.outcome is None:  # only a superseded row has none, and it is already moved
        raise ValueError(f"message row {row.id} is done without an outcome")
    return str(getattr(mailbox, OUTCOME_FOLDERS[MessageOutcome(row.outcome)]))


# Tried in this order; the last applies to everything left.
HANDLERS: tuple[Handler, ...] = (TooLarge(), Correspondence(), Ignored(), NewVersion())


def handler_for(email: Incoming) -> Handler:
    return next(handler for handler in HANDLERS if handler.applies(email))
