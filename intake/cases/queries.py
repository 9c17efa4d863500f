"""The read model of cases: what `submissions` and `show` print and what the workbench shows.

Filtering, sorting and paging happen in SQL; the CLI, the pipeline and the web app all read cases
through these functions. Nothing here writes (see intake.cases.commands for that).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterator

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, func, literal, not_, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from intake.cases.company import company_record
from intake.cases.layout import Storage
from intake.clock import utcnow
from intake.config import RegistersConfig
from intake.db import Case, Company, CompanyCase, Decision, InboxMessage, StoredDocument, User, Version
from intake.registers.checks import case_registers
from intake.states import DECIDED_QA_STATES, OPEN_QA_STATES, QUEUE_RANK, UNPROCESSED_STATES, QAState


def latest_version(submission: Case) -> Version | None:
    return submission.versions[-1] if submission.versions else None


def latest_decision(session: Session, submission_id: int) -> Decision | None:
    """The case's decision in force: its latest one not undone."""
    return session.scalar(select(Decision).where(Decision.submission_id == submission_id, Decision.undone_at.is_(None))
                          .order_by(Decision.sequence.desc()).limit(1))


def qa_document(session: Session, submission: Case) -> dict[str, Any]:
    """`"qa"` of `show --json`: QA's state and latest decision, beside the triage verdict."""
    decision = latest_decision(session, submission.id)
    return {
        "state": submission.qa_state,
        "assignee": submission.assignee.username if submission.assignee is not None else None,
        "decision": decision.decision if decision else None,
        "decided_by": decision.user.username if decision else None,
        "decided_at": decision.decided_at.isoformat() if decision else None,
        "note": decision.note if decision else None,
        "due_on": submission.qa_due_on.isoformat() if submission.qa_due_on else None,
        # the due date passed without a new version (one clears the date)
        "overdue": submission.qa_due_on is not None and submission.qa_due_on < utcnow().date(),
    }


def submission_summary(submission: Case) -> dict[str, Any]:
    """The `submissions --json` object of one case."""
    first = submission.versions[0] if submission.versions else None
    latest = latest_version(submission)
    return {
        "tracking_number": submission.tracking_number,
        "verdict": submission.verdict,
        "status": submission.verdict,
        "qa_state": submission.qa_state,
        "submitter": submission.submitter,
        "received_at": submission.received_at.isoformat(),
        "subject": submission.subject,
        "message_id": first.message.message_id if first is not None and first.message is not None else None,
        "source": latest.report["source"] if latest is not None and latest.report else None,
        "versions": len(submission.versions),
    }


def message_summary(row: InboxMessage) -> dict[str, Any]:
    """A message that could not be processed, in the same shape (tracking number null)."""
    return {
        "tracking_number": None,
        "verdict": None,
        "status": row.state,
        "qa_state": None,
        "submitter": row.sender,
        "received_at": row.received_at.isoformat(),
        "subject": row.subject,
        "message_id": row.message_id,
        "source": None,
        "attempts": row.attempts,
        "last_error": row.last_error,
    }


def submission_list(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    """`submissions [--status S]`: cases (by verdict) and unprocessable emails, newest first.

    Each kind is sorted by SQL; the two sorted streams are merged.
    """
    streams: list[Iterator[tuple[datetime, dict[str, Any]]]] = []
    if status not in UNPROCESSED_STATES:
        submissions = (select(Case).order_by(Case.received_at.desc(), Case.id.desc())
                       .options(selectinload(Case.versions).selectinload(Version.message),
                                selectinload(Case.assignee)))
        if status:
            submissions = submissions.where(Case.verdict == status)
        streams.append((s.received_at, submission_summary(s)) for s in session.scalars(submissions))
    if status is None or status in UNPROCESSED_STATES:
        states = [status] if status else list(UNPROCESSED_STATES)
        messages = select(InboxMessage).where(InboxMessage.state.in_(states)).order_by(InboxMessage.received_at.desc())
        streams.append((m.received_at, message_summary(m)) for m in session.scalars(messages))
    merged = heapq.merge(*streams, key=lambda pair: pair[0], reverse=True)
    return [item for _, item in merged]


def show_document(session: Session, submission: Case, storage: Storage | None = None,
                  registers: RegistersConfig | None = None) -> dict[str, Any]:
    """`show --json`: the latest report in the contract's shape, plus every version, reply and QA,
    and what the association's registers say (judged with `registers`, default the defaults).

    With `storage`, each version's `storage_path` is the folder on disk (the database keeps it
    relative to the storage root)."""
    latest = latest_version(submission)
    document = dict(latest.report) if latest is not None and latest.report else {
        "tracking_number": submission.tracking_number, "verdict": submission.verdict, "source": None,
        "summary": {}, "findings": []}
    document.update(submitter=submission.submitter, subject=submission.subject,
                    received_at=submission.received_at.isoformat())
    document["versions"] = [{
        "number": v.number, "verdict": v.verdict, "received_at": v.created_at.isoformat(),
        "message_id": v.message.message_id if v.message is not None else None,
        "storage_path": str(storage.path_of(v.storage_path)) if storage and v.storage_path else v.storage_path,
        "source": v.report["source"] if v.report else None,
        "authentication": ({"spf": v.message.spf, "dkim": v.message.dkim, "dmarc": v.message.dmarc}
                           if v.message is not None else None),
        "files": [{"path": d.path, "size": d.size, "sha256": d.sha256, "mime": d.mime, "element": d.element}
                  for d in v.documents],
        "findings": [{"code": f.code, "severity": f.severity, "path": f.path, "message": f.message}
                     for f in v.findings],
    } for v in submission.versions]
    document["company"] = company_record(submission)
    document["registers"] = case_registers(session, submission, registers or RegistersConfig())
    document["replies"] = [{
        "recipient": r.recipient, "subject": r.subject, "status": r.status, "message_id": r.message_id,
        "attempts": r.attempts, "sent_at": r.sent_at.isoformat() if r.sent_at else None,
        "suppressed_reason": r.suppressed_reason, "last_error": r.last_error,
    } for r in submission.replies]
    document["qa"] = qa_document(session, submission)
    return document


def find_case(session: Session, tracking_number: str, *load: ORMOption) -> Case | None:
    """The case with this tracking number as a person or an email may write it (spaces, lower case),
    or None; `load` adds loader options (selectinload...) for what the caller reads next."""
    return session.scalar(select(Case).where(Case.tracking_number == tracking_number.strip().upper()).options(*load))


# -- the workbench queue ------------------------------------------------------------------------

# Views of the queue besides the QA states: what needs QA ("open"), what waits for the submitter
# after triage returned it, and requests for documents past their due date.
TRIAGE_RETURNED, OVERDUE = "triage_returned", "overdue"
# Columns the queue sorts by (?sort=KEY, ?sort=-KEY descending); none: the queue's own order.
SORTABLE = ("case", "state", "triage", "company", "waiting", "due", "assignee")


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters, as in its bookmarkable URL: `?state=&verdict=&assignee=&q=&page=&sort=`."""

    state: str = "open"  # "open" (needs QA), "triage_returned", "overdue", "all", or one QA state
    verdict: str = ""  # a triage verdict, or "" for any
    assignee: str = ""  # a user name, "none" for unassigned, or "" for anyone
    q: str = ""  # tracking number, company (subject / submitter name / legal name), WCB account, sender,
    # subject or file name
    page: int = 1
    sort: str = ""  # one of SORTABLE, "-" before it for descending; "" the queue's own order


@dataclass
class QueueRow:
    tracking_number: str
    qa_state: str
    verdict: str | None
    assignee: str | None
    submitter: str
    submitter_name: str | None
    subject: str | None
    waiting_since: datetime
    versions: int
    legal_name: str | None = None  # the company record's (from the evaluation tool)
    due_on: date | None = None  # Request documents' due date, while awaited

    @property
    def overdue(self) -> bool:
        return self.due_on is not None and self.due_on < utcnow().date()

    @property
    def decided(self) -> bool:
        return self.qa_state in DECIDED_QA_STATES


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    filters: QueueFilter = field(default_factory=QueueFilter)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _triage_returned() -> ColumnElement[bool]:
    """Triage returned the latest version (the submitter was told) and QA has not taken it up."""
    return and_(Case.verdict == "returned", Case.qa_state.in_((QAState.NEW, QAState.RESUBMITTED)))


def _overdue() -> ColumnElement[bool]:
    return and_(Case.qa_state == QAState.AWAITING_DOCUMENTS, Case.qa_due_on < utcnow().date())


def _filtered(query: Select, filters: QueueFilter) -> Select:
    if filters.state == "open":
        query = query.where(Case.qa_state.in_(OPEN_QA_STATES), not_(_triage_returned()))
    elif filters.state == TRIAGE_RETURNED:
        query = query.where(_triage_returned())
    elif filters.state == OVERDUE:
        query = query.where(_overdue())
    elif filters.state in tuple(QAState):
        query = query.where(Case.qa_state == filters.state)
    if filters.verdict:
        query = query.where(Case.verdict == filters.verdict)
    if filters.assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Case.assignee_id == select(User.id).where(
            func.lower(User.username) == filters.assignee.lower()).scalar_subquery())
    if filters.q.strip():
        pattern = _like(filters.q.strip())
        # IN, not a correlated EXISTS: PostgreSQL cannot turn an EXISTS under OR into a join, and ran it
        # once per case (20,000 cases: 320-460 ms); the IN list is made once.
        in_files = Case.id.in_(select(Version.submission_id).join(StoredDocument, StoredDocument.version_id == Version.id)
                                     .where(func.lower(StoredDocument.path).like(pattern, escape="\\")))
        account = "".join(ch for ch in filters.q if ch.isdigit())
        company = or_(func.lower(Company.legal_name).like(pattern, escape="\\"),
                      *([Company.wcb_account.like(f"%{account}%")] if len(account) >= 4 else []))
        in_company = Case.id.in_(select(CompanyCase.submission_id).join(Company, Company.id == CompanyCase.company_id)
                                 .where(company))
        query = query.where(or_(*(func.lower(cast(column, String)).like(pattern, escape="\\") for column in (
            Case.tracking_number, Case.submitter, Case.submitter_name, Case.subject)),
            in_files, in_company))
    return query


def _order(filters: QueueFilter) -> list[Any]:
    """The queue's order: overdue requests first, then by QA state (a submitter's answer first), then
    oldest waiting first; or the column asked for (?sort=)."""
    waiting = func.coalesce(Case.qa_since, Case.received_at)
    key = filters.sort.lstrip("-")
    if key in SORTABLE:
        column = {"case": Case.tracking_number, "state": Case.qa_state, "triage": Case.verdict,
                  "company": func.coalesce(Company.legal_name, Case.submitter_name, Case.submitter),
                  "waiting": waiting, "due": Case.qa_due_on, "assignee": User.username}[key]
        descending = filters.sort.startswith("-")
        return [column.desc().nulls_last() if descending else column.asc().nulls_last(), Case.id]
    overdue_first = case((_overdue(), 0), else_=1)
    rank = case(QUEUE_RANK, value=Case.qa_state, else_=len(QUEUE_RANK))
    return [overdue_first, rank, waiting, Case.id]


def queue(session: Session, filters: QueueFilter, page_size: int = 50) -> QueuePage:
    """One page of the queue in _order's order."""
    waiting = func.coalesce(Case.qa_since, Case.received_at)
    versions = (select(func.count(Version.id)).where(Version.submission_id == Case.id)
                .correlate(Case).scalar_subquery())
    total = session.scalar(_filtered(select(func.count(Case.id)), filters)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(filters.page, 1), pages)
    query = _filtered(
        select(Case.tracking_number, Case.qa_state, Case.verdict, User.username,
               Case.submitter, Case.submitter_name, Case.subject, waiting, versions, Company.legal_name,
               Case.qa_due_on)
        .outerjoin(User, User.id == Case.assignee_id)
        .outerjoin(CompanyCase, CompanyCase.submission_id == Case.id)
        .outerjoin(Company, Company.id == CompanyCase.company_id), filters)
    query = query.order_by(*_order(filters)).offset((page - 1) * page_size).limit(page_size)
    rows = [QueueRow(*row) for row in session.execute(query)]
    return QueuePage(rows=rows, total=total, page=page, pages=pages, filters=filters)


def neighbours(session: Session, tracking_number: str, filters: QueueFilter) -> tuple[str | None, str | None]:
    """The previous and next case in the queue's own order (keyboard navigation on the case page)."""
    waiting = func.coalesce(Case.qa_since, Case.received_at)
    overdue_first = case((_overdue(), 0), else_=1)
    rank = case(QUEUE_RANK, value=Case.qa_state, else_=len(QUEUE_RANK))
    key = tuple_(overdue_first, rank, waiting, Case.id)
    # From the case's own place in that order, the nearest row on each side: two scans that keep
    # one row each, rather than numbering the whole queue twice (~3x faster at 20,000 cases).
    here = session.execute(_filtered(select(overdue_first, rank, waiting, Case.id), filters)
                           .where(Case.tracking_number == tracking_number)).first()
    if here is None:
        return None, None
    columns: tuple[Any, ...] = (overdue_first, rank, waiting, Case.id)  # SQL expressions, each with its type
    current = tuple_(*(literal(value, column.type) for value, column in zip(here, columns, strict=True)))
    before = session.scalar(_filtered(select(Case.tracking_number), filters).where(key < current)
                            .order_by(overdue_first.desc(), rank.desc(), waiting.desc(), Case.id.desc()).limit(1))
    after = session.scalar(_filtered(select(Case.tracking_number), filters).where(key > current)
                           .order_by(overdue_first, rank, waiting, Case.id).limit(1))
    return before, after


# -- the case page ------------------------------------------------------------------------------

@dataclass
class VersionComparison:
    """What changed from the previous version, by path and SHA-256."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same path, other content
    moved: list[tuple[str, str]] = field(default_factory=list)  # same content, other path: (old, new)
    unchanged: int = 0


def compare_versions(before: dict[str, str], after: dict[str, str]) -> VersionComparison:
    """Files added, removed, changed (same path, new hash) and moved (same hash, new path), from each
    version's path -> SHA-256."""
    result = VersionComparison()
    gone = {path: digest for path, digest in before.items() if path not in after}
    by_hash = {digest: path for path, digest in gone.items()}
    for path, digest in sorted(after.items()):
        if path in before:
            if before[path] == digest:
                result.unchanged += 1
            else:
                result.changed.append(path)
        elif digest in by_hash:
            result.moved.append((by_hash.pop(digest), path))
        else:
            result.added.append(path)
    result.removed = sorted(by_hash.values())
    return result


def element_of(path: str | None, documents_by_path: dict[str, str | None], folders: dict[str, str]) -> str | None:
    """The element a finding's path belongs to: its document's element, else its element folder's."""
    if not path:
        return None
    if path in documents_by_path:
        return documents_by_path[path]
    # The element folder may sit inside one wrapper folder ("Acme SECOR 2026/Element 1 - .../x.pdf").
    return next((folders[part] for part in path.split("/")[:2] if part in folders), None)
