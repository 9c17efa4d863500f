"""The outbox: rendering replies and queueing them (`queue_reply`); sending them is the daemon's
job (intake.sending).

A reply is rendered once, when it is queued, and stored whole (`Reply.raw`): every later attempt
sends exactly those bytes with the same Message-ID. Replies are automatic replies in the sense of
RFC 3834: `Auto-Submitted: auto-replied`, sent from the null sender `<>`.

The replies that tell how to submit name the share-link services that work (`services`, the
caller's `fetchers.providers.supported_services_phrase()`): passed in, so the workbench, which queues
QA's decisions only, never loads the download stack.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Iterable

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.cases.tracking import find_tracking_numbers
from intake.clock import utcnow
from intake.config import OutboundConfig
from intake.db import Case, InboxMessage, Reply, Version
from intake.states import QADecision, ReplyStatus
from triage import bidi
from triage.findings import REJECT, WARN, Finding, for_submitter, verdict_for
from triage.report import Report

log = logging.getLogger("intake.replies")  # its name before the split: operators filter on it

DEFAULT_SUBJECT = "Your SECOR submission"

_env = Environment(
    loader=PackageLoader("intake", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    finalize=bidi.finalize,  # a submitted name or subject shows its bidi controls, never obeys them
)
_env.globals["QADecision"] = QADecision
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def _one_line(text: str | None) -> str:
    """Header text without CR/LF, tabs or runs of blanks (as names and subjects arrive folded and padded),
    its bidi controls visible."""
    return bidi.show_bidi(" ".join((text or "").split()))


def reply_subject(original: str | None, tracking_number: str | None) -> str:
    """`Re: <original subject> [SECOR-2026-000042]`: one `Re:`, the tag once, on one line."""
    subject = _one_line(original)
    subject = _RE_PREFIX.sub("", subject) or DEFAULT_SUBJECT
    if tracking_number and tracking_number not in find_tracking_numbers(subject):
        subject = f"{subject} [{tracking_number}]"
    return f"Re: {subject}"


def new_message_id(config: OutboundConfig, tracking_number: str | None) -> str:
    """`<SECOR-2026-000042.<random>@<our domain>>`: follow-ups that only quote it still find the case."""
    domain = config.from_address.rpartition("@")[2] or "secor-intake"
    return f"<{tracking_number or 'secor-intake'}.{secrets.token_hex(8)}@{domain}>"


def _references(in_reply_to: str | None, references: Iterable[str]) -> list[str]:
    """The thread for our reply: the submitter's References, then their Message-ID, once each."""
    chain = [r for r in references if r]
    if in_reply_to:
        chain.append(in_reply_to)
    return list(dict.fromkeys(chain))


def _build(config: OutboundConfig, recipient: str, recipient_name: str | None, subject: str,
           tracking_number: str | None, in_reply_to: str | None, references: Iterable[str],
           text: str, html: str | None = None) -> EmailMessage:
    """The email with our headers; rendered bodies as quoted-printable (safe over any SMTP hop)."""
    msg = EmailMessage(policy=policy.default)
    msg["From"] = formataddr((_one_line(config.from_name), config.from_address))
    msg["To"] = formataddr((_one_line(recipient_name), recipient))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = new_message_id(config, tracking_number)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    chain = _references(in_reply_to, references)
    if chain:
        msg["References"] = " ".join(chain)
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834; other robots must not answer it
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg


def _common(config: OutboundConfig, name: str | None, tracking_number: str | None) -> dict[str, Any]:
    return {"name": name, "tracking_number": tracking_number, "from_name": config.from_name,
            "from_address": config.from_address}


def render_acknowledgement(submission: Case, version: Version, report: Report, config: OutboundConfig,
                           in_reply_to: str | None, references: list[str], *, services: str,
                           recipient: tuple[str, str | None] | None = None) -> EmailMessage:
    """The acknowledgement of one version: tracking number, verdict in words, every reject and warn
    finding with its path, and what to do next.

    `in_reply_to` is the sender's Message-ID and `references` their message's References header;
    our References is theirs followed by their Message-ID. `recipient` (address, name) is who sent
    the version, when not the case's submitter: the email names only them (issue 24).
    """
    address, name = recipient or (submission.submitter, submission.submitter_name)
    findings: list[Finding] = for_submitter(report.findings)  # company history stays with QA
    context = _common(config, name, submission.tracking_number) | {
        "verdict": verdict_for(findings),  # as the submitter's findings make it: no point they cannot see
        "rejects": [f for f in findings if f.severity == REJECT],
        "warns": [f for f in findings if f.severity == WARN],
        "source_name": report.source.name or report.source.url,
        "files": report.summary.get("files"),
        "supported_services": services,
    }
    original = version.message.subject if version.message is not None else submission.subject
    return _build(config, address, name, reply_subject(original, submission.tracking_number),
                  submission.tracking_number,
                  in_reply_to, references,
                  _env.get_template("acknowledgement.txt").render(context),
                  _env.get_template("acknowledgement.html").render(context))


def render_no_submission(config: OutboundConfig, recipient: str, recipient_name: str | None, subject: str | None,
                         in_reply_to: str | None, references: list[str],
                         tracking_number: str | None = None, *, services: str) -> EmailMessage:
    """The reply to `message.no_submission`: how to submit (zipped folder, or a shared link)."""
    context = _common(config, recipient_name, tracking_number) | {"supported_services": services}
    text = _env.get_template("no_submission.txt").render(context)
    return _build(config, recipient, recipient_name, reply_subject(subject, tracking_number), tracking_number,
                  in_reply_to, references, text)


def render_too_large(config: OutboundConfig, recipient: str, recipient_name: str | None, subject: str | None,
                     in_reply_to: str | None, references: list[str], size: int, limit: int,
                     tracking_number: str | None = None, *, services: str) -> EmailMessage:
    """The reply to an email over the size limit: send a download link instead."""
    context = _common(config, recipient_name, tracking_number) | {
        "size_mb": f"{size / 1_000_000:.1f}", "limit_mb": f"{limit / 1_000_000:g}", "supported_services": services}
    text = _env.get_template("too_large.txt").render(context)
    return _build(config, recipient, recipient_name, reply_subject(subject, tracking_number), tracking_number,
                  in_reply_to, references, text)


def render_decision(config: OutboundConfig, submission: Case, decision: QADecision, note: str | None,
                    reasons: list[str], elements: list[str], due: str | None, in_reply_to: str | None,
                    references: list[str]) -> EmailMessage:
    """QA's decision told to the submitter (the workbench): the note, the reasons, what to send by when."""
    context = _common(config, submission.submitter_name, submission.tracking_number) | {
        "decision": decision, "note": note, "reasons": reasons, "elements": elements, "due": due}
    text = _env.get_template("qa_decision.txt").render(context)
    return _build(config, submission.submitter, submission.submitter_name,
                  reply_subject(submission.subject, submission.tracking_number), submission.tracking_number,
                  in_reply_to, references, text)


def render_reminder(config: OutboundConfig, submission: Case, elements: list[str], due: str,
                    in_reply_to: str | None, references: list[str]) -> EmailMessage:
    """The one reminder of a request for documents, a few days before its due date."""
    context = _common(config, submission.submitter_name, submission.tracking_number) | {
        "elements": elements, "due": due}
    text = _env.get_template("qa_reminder.txt").render(context)
    return _build(config, submission.submitter, submission.submitter_name,
                  reply_subject(submission.subject, submission.tracking_number), submission.tracking_number,
                  in_reply_to, references, text)


def render_maintenance_reminder(config: OutboundConfig, recipient: str, recipient_name: str | None,
                                legal_name: str | None, wcb_account: str, issued_on: date, anniversary: date,
                                year: int, *, services: str) -> EmailMessage:
    """A certificate holder reminded that a maintenance year is near (intake.registers.reminders)."""
    context = _common(config, recipient_name, None) | {
        "legal_name": legal_name, "wcb_account": wcb_account, "issued_on": issued_on.isoformat(),
        "anniversary": anniversary.isoformat(), "year": year, "supported_services": services}
    text = _env.get_template("maintenance_reminder.txt").render(context)
    subject = f"SECOR maintenance {year}: {_one_line(legal_name) or 'WCB account ' + wcb_account}"
    return _build(config, recipient, recipient_name, subject, None, None, [], text)


def _suppression(session: Session, address: str, config: OutboundConfig, now: datetime,
                 automatic: bool) -> str | None:
    """Why a reply to `address` must not be sent, or None. The daily limit, which stops a mail loop
    with a robot, holds back automatic replies only: a person's decision always goes."""
    if not address or "@" not in address:
        return "no usable recipient address"
    if address == config.from_address.lower():
        return "recipient is our own address"
    recent = session.scalar(select(func.count(Reply.id)).where(
        Reply.recipient == address, Reply.created_at > now - timedelta(hours=24), Reply.status != ReplyStatus.SUPPRESSED)) or 0
    if automatic and recent >= config.max_replies_per_sender_per_day:
        return f"{recent} replies to this address in the last 24 hours (limit {config.max_replies_per_sender_per_day})"
    return None


def queue_reply(session: Session, submission: Case | None, version: Version | None, msg: EmailMessage,
                recipient: str, config: OutboundConfig, *, source_message: InboxMessage | None = None,
                now: datetime | None = None, automatic: bool = True) -> Reply | None:
    """Put `msg` in the outbox, in the caller's transaction (which the caller commits).

    Returns the new row, "pending" or "suppressed" (with the reason: our own address, or, for an
    `automatic` reply, over `max_replies_per_sender_per_day` to that address in 24 h; recorded,
    never sent), or None when
    this version, or this incoming email (`source_message`, default the version's message), already
    has a reply. The unique constraints enforce the last rule even against a concurrent writer.
    """
    now = now or utcnow()
    address = parseaddr(recipient)[1].strip().lower()
    source = source_message if source_message is not None else (version.message if version is not None else None)
    session.flush()  # ids for the checks below
    taken = [clause for clause in (
        Reply.version_id == version.id if version is not None else None,
        Reply.source_message_id == source.id if source is not None else None) if clause is not None]
    if taken and session.scalar(select(Reply.id).where(or_(*taken)).limit(1)) is not None:
        return None
    reason = _suppression(session, address, config, now, automatic)
    # Foreign keys, not relationships: a rolled-back savepoint must leave no reply in a collection.
    reply = Reply(
        submission_id=submission.id if submission is not None else None,
        version_id=version.id if version is not None else None,
        source_message_id=source.id if source is not None else None, recipient=address,
        subject=str(msg["Subject"]), message_id=str(msg["Message-ID"]), raw=msg.as_bytes(policy=policy.SMTP),
        status=ReplyStatus.SUPPRESSED if reason else ReplyStatus.PENDING, suppressed_reason=reason,
        next_attempt_at=None if reason else now, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(reply)
    except IntegrityError:
        return None  # a concurrent writer queued this version's reply first
    for owner, attribute in ((submission, "replies"), (version, "reply")):
        if owner is not None:
            session.expire(owner, [attribute])  # reload with the new row on next access
    if reason:
        log.warning("reply to %s suppressed: %s", address, reason)
    return reply
