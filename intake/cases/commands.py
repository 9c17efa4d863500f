"""The writes that change a case: QA decisions, assignment, notes, the audit trail, resubmission.

Each function works in the caller's transaction and does not commit, so a decision, its email in the
outbox and its audit entry are committed together or not at all. The CLI, the pipeline and the web
app all change cases through these functions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.cases import company
from intake.cases.layout import Storage
from intake.cases.outbox import queue_reply, render_decision, render_reminder
from intake.cases.queries import find_case, latest_decision, triage_told
from intake.cases.tracking import allocate_tracking_number
from intake.config import OutboundConfig, RegistersConfig
from intake.db import (
    AuditEntry,
    Case,
    CaseNote,
    Decision,
    InboxMessage,
    Reply,
    User,
    Version,
    changed_rows,
    record_version,
    utcnow,
)
from intake.registers.checks import judge as judge_registers
from intake.states import WAITING_FOR_ANALYST, QADecision, QAState, ReplyStatus
from triage.engine import finish_report
from triage.findings import Finding
from triage.report import Report

MAX_NOTE_CHARS = 10_000


class DecisionError(ValueError):
    """A decision that cannot be recorded as given (the message says what is missing)."""


class DecidedMeanwhile(Exception):
    """Another decision was recorded on this case since the form was shown."""

    def __init__(self, latest: Decision | None) -> None:
        super().__init__("this case was decided meanwhile")
        self.latest = latest


@dataclass(frozen=True)
class DecisionRequest:
    """A decision as an analyst submits it. `sequence` is the number this decision will have (the
    case's decision count + 1 when the form was shown); `idempotency_key` is the form's own key."""

    decision: str
    idempotency_key: str
    sequence: int
    note: str = ""
    finding_reasons: list[dict[str, Any]] = field(default_factory=list)  # {"code", "path", "message"}
    qa_reasons: list[str] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)  # when documents are requested: what to send
    due: date | None = None  # when documents are requested: by when


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    created: bool  # False: this decision had already been recorded (double submit, resent form, same decision)
    already_told: Reply | None = None  # a Return of a version triage returned: the email that told the submitter


class TooLateToUndo(Exception):
    """The decision's email has gone out (or the time to undo is over): nothing was changed."""


def audit(session: Session, user: User | None, action: str, submission_id: int | None = None,
          document_id: int | None = None, **detail: Any) -> None:
    """Append one entry to the audit trail (views, downloads, decisions, assignments, sign-ins...)."""
    session.add(AuditEntry(user_id=user.id if user else None, action=action, submission_id=submission_id,
                           document_id=document_id, detail=detail or None))


def _validate(request: DecisionRequest) -> QADecision:
    if not request.decision:
        raise DecisionError("choose a decision (Accept, Return or Request documents): nothing was recorded")
    try:
        decision = QADecision(request.decision)
    except ValueError:
        raise DecisionError(f"unknown decision {request.decision!r}") from None
    if len(request.note) > MAX_NOTE_CHARS:
        raise DecisionError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    if decision is QADecision.ACCEPT:
        return decision
    if not request.note.strip() and not request.finding_reasons and not request.qa_reasons and not request.elements:
        raise DecisionError(f"{QADecision.RETURN.label} and {QADecision.REQUEST_DOCUMENTS.label} need a note to the "
                            "submitter or at least one reason")
    if decision is QADecision.REQUEST_DOCUMENTS and (not request.elements or request.due is None):
        raise DecisionError(f"{QADecision.REQUEST_DOCUMENTS.label} needs at least one element and a due date")
    return decision


def _thread(session: Session, case: Case) -> tuple[str | None, list[str]]:
    """In-Reply-To (the submitter's latest email) and References (their emails on this case, in order)."""
    ids = [m for m in session.scalars(
        select(InboxMessage.message_id).where(InboxMessage.submission_id == case.id, InboxMessage.message_id.is_not(None))
        .order_by(InboxMessage.received_at, InboxMessage.id)) if m]
    ids = list(dict.fromkeys(ids))
    return (ids[-1] if ids else None), ids[-20:]


def _recorded(session: Session, case: Case, request: DecisionRequest) -> Decision | None:
    """The decision this form already recorded on this case, if any. A key recorded on another case
    is refused: it is never "already recorded" here (issue 24)."""
    decision = session.scalar(select(Decision).where(Decision.idempotency_key == request.idempotency_key))
    if decision is not None and decision.submission_id != case.id:
        raise DecisionError("this form belongs to another case: reload the page")
    return decision


def _same(decision: Decision, request: DecisionRequest, version: Version) -> bool:
    """The decision recorded already, as the request would record it (choice, note, reasons, version)."""
    reasons = decision.reasons or {}
    due = request.due.isoformat() if request.due else None

    def key(r: dict[str, Any]) -> tuple[str, str, str]:
        return (str(r.get("code")), str(r.get("path")), str(r.get("message")))

    return (decision.version_id == version.id and decision.decision == request.decision
            and (decision.note or "") == request.note.strip()
            and sorted(map(key, reasons.get("findings") or [])) == sorted(map(key, request.finding_reasons))
            and sorted(reasons.get("qa") or []) == sorted(request.qa_reasons)
            and sorted(reasons.get("elements") or []) == sorted(request.elements) and reasons.get("due") == due)


def record_decision(session: Session, case: Case, user: User, request: DecisionRequest,
                    outbound: OutboundConfig, accept_sends_email: bool = False, undo_seconds: int = 0,
                    now: datetime | None = None) -> DecisionResult:
    """Record QA's decision on the case's latest version, queue its email and audit it, in one transaction.

    The same form sent again, or the same decision (choice, note, reasons) on the same version from
    another form or analyst, returns the decision recorded (created False) and queues nothing. A form
    shown before another decision was recorded raises DecidedMeanwhile, so two analysts deciding at
    once record one decision and send one email; the unique (case, sequence) and idempotency key
    hold that even between two processes. Raises DecisionError for a decision that lacks what it needs.

    The email waits `undo_seconds` before the sending job may take it (undo_decision withdraws it
    meanwhile). A Return of a version triage already returned leaves out of the email what triage's
    email told the submitter; with nothing new to say, no email.
    """
    existing = _recorded(session, case, request)
    if existing is not None:
        return DecisionResult(existing, created=False)
    choice = _validate(request)
    latest_version = case.versions[-1]
    latest = latest_decision(session, case.id)
    if latest is not None and _same(latest, request, latest_version):
        return DecisionResult(latest, created=False)
    count = session.scalar(select(func.count(Decision.id)).where(Decision.submission_id == case.id)) or 0
    if request.sequence != count + 1:
        # The same form may have been recorded by a concurrent request since the look-up above.
        again = _recorded(session, case, request)
        if again is not None:
            return DecisionResult(again, created=False)
        raise DecidedMeanwhile(latest)  # not the same decision (checked above): the analyst must see it
    now = now or utcnow()
    due = request.due.isoformat() if request.due else None
    reasons = {"findings": request.finding_reasons, "qa": request.qa_reasons, "elements": request.elements,
               "due": due}
    decision = Decision(submission_id=case.id, version_id=latest_version.id, sequence=request.sequence,
                        idempotency_key=request.idempotency_key, decision=choice.value,
                        note=request.note.strip() or None, reasons=reasons, decided_by=user.id, decided_at=now)
    try:
        with session.begin_nested():
            session.add(decision)
    except IntegrityError:
        again = _recorded(session, case, request)
        if again is not None:
            return DecisionResult(again, created=False)
        meanwhile = latest_decision(session, case.id)
        if meanwhile is not None and _same(meanwhile, request, latest_version):  # a second analyst, same decision
            return DecisionResult(meanwhile, created=False)
        raise DecidedMeanwhile(meanwhile) from None
    told, told_findings = triage_told(session, latest_version) if choice is QADecision.RETURN else (None, set())
    findings = [r for r in request.finding_reasons if (r.get("code"), r.get("path")) not in told_findings]
    news = decision.note or findings or request.qa_reasons or told is None
    if (choice is not QADecision.ACCEPT or accept_sends_email) and news:
        in_reply_to, references = _thread(session, case)
        lines = reason_lines(findings) + list(request.qa_reasons)
        msg = render_decision(outbound, case, choice, decision.note, lines, request.elements,
                              due, in_reply_to, references)
        reply = queue_reply(session, case, None, msg, case.submitter, outbound, now=now,
                            automatic=False)  # an analyst's decision is not held back by the loop limit
        if reply is not None and reply.status == ReplyStatus.PENDING:
            reply.next_attempt_at = now + timedelta(seconds=max(undo_seconds, 0))  # the time to undo
        decision.reply_id = reply.id if reply is not None else None
    case.qa_state, case.qa_since = choice.state_after, now
    case.qa_due_on = request.due if choice is QADecision.REQUEST_DOCUMENTS else None
    audit(session, user, "decision", case.id, decision=choice.value, sequence=request.sequence,
          reply_id=decision.reply_id)
    return DecisionResult(decision, created=True, already_told=told)


def undo_decision(session: Session, case: Case, user: User, decision_id: int, undo_seconds: int,
                  now: datetime | None = None) -> Decision:
    """Withdraw the case's latest decision and its held email, while the email waits (`undo_seconds`
    after the decision) and has not been taken by the sending job. The decision stays, marked undone;
    the case goes back to the state it had. Raises TooLateToUndo (nothing changed), PermissionError
    (only the analyst who decided, or an admin), LookupError (not the case's latest decision)."""
    now = now or utcnow()
    decision = latest_decision(session, case.id)
    if decision is None or decision.id != decision_id:
        raise LookupError("this is not the case's latest decision")
    if decision.decided_by != user.id and user.role != "admin":
        raise PermissionError("only the analyst who recorded a decision, or an admin, undoes it")
    if now >= decision.decided_at + timedelta(seconds=undo_seconds):
        raise TooLateToUndo("the time to undo this decision is over")
    if decision.reply_id is not None:
        # One statement against the sending job: a reply it has claimed is no longer "pending".
        withdrawn = changed_rows(session.execute(update(Reply).where(
            Reply.id == decision.reply_id, Reply.status == ReplyStatus.PENDING, Reply.attempts == 0).values(
            status=ReplyStatus.SUPPRESSED, suppressed_reason=f"withdrawn: decision undone by {user.username}",
            next_attempt_at=None)))
        if withdrawn != 1:
            raise TooLateToUndo("the email has gone out already")
    decision.undone_at, decision.undone_by = now, user.id
    previous = latest_decision(session, case.id)
    version = case.versions[-1]
    if previous is not None and previous.version_id == version.id:
        before = QADecision(previous.decision)
        case.qa_state = before.state_after
        due = (previous.reasons or {}).get("due") if before is QADecision.REQUEST_DOCUMENTS else None
        case.qa_due_on = date.fromisoformat(due) if due else None
    else:
        case.qa_state = (QAState.RESUBMITTED if version.number > 1 else
                         QAState.IN_REVIEW if case.assignee_id is not None else QAState.NEW)
        case.qa_due_on = None
    case.qa_since = now
    audit(session, user, "undo", case.id, decision=decision.decision, sequence=decision.sequence,
          reply_id=decision.reply_id)
    return decision


def queue_due_reminders(session: Session, outbound: OutboundConfig, days_before: int, today: date,
                        now: datetime | None = None) -> int:
    """One reminder per request for documents whose due date is `days_before` days away or less, while
    the case still awaits the documents; returns how many were queued. The decision's
    reminder_reply_id, claimed with one conditional UPDATE, makes it once even when two sending jobs run."""
    if days_before <= 0:
        return 0
    now = now or utcnow()
    queued = 0
    waiting = session.scalars(select(Case).where(
        Case.qa_state == QAState.AWAITING_DOCUMENTS, Case.qa_due_on.is_not(None),
        Case.qa_due_on <= today + timedelta(days=days_before)).order_by(Case.id))
    for case in waiting:
        decision = latest_decision(session, case.id)
        if (decision is None or decision.decision != QADecision.REQUEST_DOCUMENTS
                or decision.reminder_reply_id is not None or decision.version_id != case.versions[-1].id
                or case.qa_due_on is None):
            continue
        in_reply_to, references = _thread(session, case)
        msg = render_reminder(outbound, case, (decision.reasons or {}).get("elements") or [],
                              case.qa_due_on.isoformat(), in_reply_to, references)
        with session.begin_nested():
            reply = queue_reply(session, case, None, msg, case.submitter, outbound, now=now, automatic=False)
            if reply is None:
                continue
            claimed = changed_rows(session.execute(update(Decision).where(
                Decision.id == decision.id, Decision.reminder_reply_id.is_(None)).values(
                reminder_reply_id=reply.id)))
            if claimed != 1:  # another sending job queued it meanwhile: ours goes
                session.delete(reply)
                continue
        audit(session, None, "reminder", case.id, reply_id=reply.id, due=case.qa_due_on.isoformat())
        queued += 1
    return queued


MAX_PATHS_PER_REASON = 3


def reason_lines(reasons: list[dict[str, Any]]) -> list[str]:
    """One line per finding code (in first-seen order): eight near-identical paragraphs say less than
    one with a count and a few of the paths."""
    by_code: dict[str, list[dict[str, Any]]] = {}
    for reason in reasons:
        by_code.setdefault(str(reason.get("code")), []).append(reason)
    lines = []
    for group in by_code.values():
        first = group[0]
        if len(group) == 1:
            lines.append(f"{first['path']}: {first['message']}" if first.get("path") else str(first["message"]))
            continue
        paths = [str(r["path"]) for r in group if r.get("path")]
        shown = "; ".join(paths[:MAX_PATHS_PER_REASON])
        more = f" and {len(paths) - MAX_PATHS_PER_REASON} more" if len(paths) > MAX_PATHS_PER_REASON else ""
        lines.append(f"{first['message']} ({len(group)} files{': ' + shown + more if paths else ''})")
    return lines


def assign(session: Session, case: Case, actor: User, assignee: User | None) -> None:
    """Give the case to `assignee` (None: unassign). Anyone may take a case or let go of their own;
    only an admin assigns others or takes a case from someone. A new case taken is in review."""
    taking = assignee is not None and assignee.id == actor.id
    releasing_own = assignee is None and case.assignee_id == actor.id
    if actor.role != "admin" and not ((taking and case.assignee_id in (None, actor.id)) or releasing_own):
        raise PermissionError("only an admin assigns cases to others or takes them from someone")
    case.assignee_id = assignee.id if assignee is not None else None
    if assignee is not None and case.qa_state in WAITING_FOR_ANALYST:
        case.qa_state = QAState.IN_REVIEW
    audit(session, actor, "assign", case.id, assignee=assignee.username if assignee else None)


def add_note(session: Session, case: Case, user: User, text: str) -> CaseNote:
    """An internal note on the case (never sent)."""
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise DecisionError(f"a note needs 1 to {MAX_NOTE_CHARS} characters")
    note = CaseNote(submission_id=case.id, user_id=user.id, text=text)
    session.add(note)
    audit(session, user, "note", case.id)
    return note


def add_correspondent(session: Session, case: Case, user: User, address: str) -> str:
    """Let `address` write for the case besides its submitter: its follow-ups join the case (issue 24)."""
    address = address.strip().lower()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or len(address) > 320 or any(c.isspace() or c in "<>,;\"" for c in address):
        raise DecisionError("give one email address, like name@example.org")
    if address != case.submitter.lower() and address not in (case.correspondents or []):
        case.correspondents = [*(case.correspondents or []), address]  # a new list: JSON is not tracked
        audit(session, user, "add_correspondent", case.id, address=address)
    return address


def mark_resubmitted(case: Case, at: datetime) -> None:
    """The submitter sent a new version of a known case: back to the top of QA's queue (a request's
    due date is met)."""
    case.qa_state, case.qa_since, case.qa_due_on = QAState.RESUBMITTED, at, None


def add_version(session: Session, row: InboxMessage, report: Report, case_number: str | None, *,
                sender: str | None, sender_name: str | None, subject: str | None, year: int,
                storage: Storage, severities: dict[str, str], registers: RegistersConfig,
                later_findings: Sequence[Finding] = (),
                later_summary: Mapping[str, Any] | None = None) -> tuple[Case, Version, Report]:
    """Record the email `row` as the next version of the case `case_number` (which moves to
    QAState.RESUBMITTED), or as version 1 of a new case with a new tracking number of `year`.

    `report` is as triage finished it; `later_findings` and `later_summary` are what was found about
    the email after triage (sender check, virus scan). Returns the case, the version and the report as
    recorded, finished here once: with its tracking number, those findings and what the company's
    history (intake.cases.company) and the association's registers (intake.registers, with the
    `registers` settings) add. Does not commit: the caller queues the reply in the same transaction.
    """
    case = find_case(session, case_number) if case_number is not None else None
    if case is None:
        case = Case(tracking_number=allocate_tracking_number(session, year), submitter=sender or "",
                    submitter_name=sender_name, subject=subject, received_at=row.received_at)
        session.add(case)
    else:
        mark_resubmitted(case, row.received_at)
    history = company.file_version(session, case, report, severities)
    judged = judge_registers(session, company.report_facts(report), row.received_at.date(), registers)
    report = finish_report(report.source, [*report.findings, *later_findings, *history, *judged.findings],
                           severities, {**report.summary, **(later_summary or {})}, report.documents)
    report = dataclasses.replace(report, tracking_number=case.tracking_number)
    version = record_version(session, case, row, report)
    session.flush()
    version.storage_path = storage.stored_path(storage.version_dir(case.tracking_number, version.number))
    return case, version, report
