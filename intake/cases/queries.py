"""The read model of cases: what `submissions` and `show` print and what the workbench shows.

Filtering, sorting and paging happen in SQL; the CLI, the pipeline and the web app all read cases
through these functions. Nothing here writes (see intake.cases.commands for that).
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, func, literal, not_, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from intake.cases.company import company_record
from intake.cases.layout import Storage, file_inside, version_email
from intake.clock import utcnow
from intake.config import RegistersConfig
from intake.db import (
    AuditEntry,
    Case,
    CaseNote,
    Company,
    CompanyCase,
    Decision,
    FindingRow,
    InboxMessage,
    Reply,
    StoredDocument,
    User,
    Version,
)
from intake.registers.checks import case_registers
from intake.states import (
    DECIDED_QA_STATES,
    OPEN_QA_STATES,
    QUEUE_RANK,
    UNPROCESSED_STATES,
    MessageState,
    QADecision,
    QAState,
    ReplyStatus,
)


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


def quotable(code: str) -> bool:
    """Whether a finding may be quoted to the submitter as a reason: not one for QA's eyes only
    (history.reused_documents names another case's files), whatever a posted form ticks."""
    from triage.findings import known_codes  # the finding catalogue, only when a page asks

    known = known_codes().get(code)
    return known is None or known.audience != "qa"


def triage_told(session: Session, version: Version) -> tuple[Reply | None, set[tuple[str, str | None]]]:
    """When triage returned `version`: its email to the submitter and the (code, path) of each finding
    it listed (every reject and warn finding the submitter may read); else (None, set())."""
    if version.verdict != "returned":
        return None, set()
    reply = session.scalar(select(Reply).where(Reply.version_id == version.id,
                                               Reply.status != ReplyStatus.SUPPRESSED))
    if reply is None:
        return None, set()
    return reply, {(f.code, f.path) for f in version.findings if f.severity in ("reject", "warn") and quotable(f.code)}


def element_label(element: str, folder: str | None) -> str:
    """An element said once: the folder's own name when it already says "Element N", else both."""
    if folder and re.match(rf"(?i)\s*element\s*0*{re.escape(element)}(?!\d)", folder):
        return folder
    return f"Element {element}" + (f" — {folder}" if folder else "")


def element_folders(summary: dict[str, Any]) -> dict[str, list[str]]:
    """Each element's folder paths inside the submission, longest first (the path shown is cut after it)."""
    details = summary.get("element_details") or {}
    folders = {e: [f["path"] for f in d.get("folders", []) if f.get("path")] for e, d in details.items()}
    for element, name in (summary.get("elements") or {}).items():
        if name and not folders.get(element):
            folders[element] = [name]
    return {e: sorted(paths, key=len, reverse=True) for e, paths in folders.items()}


def path_in_element(path: str, folders: list[str]) -> str:
    """A file's path inside its element folder (one of `folders`), else its whole path."""
    for folder in folders:
        if path.startswith(folder + "/"):
            return path[len(folder) + 1:]
        if "/" not in folder and f"/{folder}/" in path:  # a folder name only: it may sit in a wrapper folder
            return path.split(f"/{folder}/", 1)[1]
    return path


def _element_order(item: tuple[str | None, object]) -> tuple[int, int, str]:
    key = item[0]
    if key is None:
        return (0, 0, "")
    return (1, int(key), key) if key.isdigit() else (1, 10**6, key)


@dataclass(frozen=True)
class DocumentRow:
    """A stored document's columns as the case page lists it."""

    id: int
    path: str
    size: int
    mime: str
    element: str | None
    sha256: str


@dataclass
class VersionView:
    """One version of a case as the case page shows it: files by element, findings by element, what
    changed since the previous version, the reasons a Return may quote. `version` None: no such case content."""

    version: Version | None
    tool_rows: list[DocumentRow] = field(default_factory=list)  # the evaluation tool's file
    file_groups: list[tuple[str | None, list[DocumentRow]]] = field(default_factory=list)  # by element, in order
    findings: list[tuple[str | None, list[FindingRow]]] = field(default_factory=list)  # by element, in order
    comparison: VersionComparison | None = None
    reasons: list[FindingRow] = field(default_factory=list)
    previous: Version | None = None
    element_names: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    file_count: int = 0
    element_folders: dict[str, list[str]] = field(default_factory=dict)

    def shown_path(self, document: DocumentRow) -> str:
        """The document's path inside its element folder (the group's heading names the folder)."""
        return path_in_element(document.path, self.element_folders.get(document.element, [])) \
            if document.element else document.path


def version_view(session: Session, case: Case, number: int | None) -> VersionView:
    """Version `number` of the case (its latest when there is no such version)."""
    versions = case.versions
    version = next((v for v in versions if v.number == number), versions[-1] if versions else None)
    if version is None:
        return VersionView(version=None)
    # Columns, not ORM objects: a 5,000-file version is read in a few milliseconds.
    documents = [DocumentRow(*row) for row in session.execute(
        select(StoredDocument.id, StoredDocument.path, StoredDocument.size, StoredDocument.mime,
               StoredDocument.element, StoredDocument.sha256)
        .where(StoredDocument.version_id == version.id).order_by(StoredDocument.path))]
    summary = (version.report or {}).get("summary", {}) or {}
    folders = {folder: element for element, folder in (summary.get("elements") or {}).items() if folder}
    by_path = {d.path: d.element for d in documents}
    tool = summary.get("evaluation_tool")
    groups: dict[str | None, list[DocumentRow]] = {}
    tool_rows: list[DocumentRow] = []
    for d in documents:
        (tool_rows if d.path == tool else groups.setdefault(d.element, [])).append(d)
    findings: dict[str | None, list[FindingRow]] = {}
    every_finding = list(session.scalars(select(FindingRow).where(FindingRow.version_id == version.id)
                                         .order_by(FindingRow.id)))
    for f in every_finding:
        findings.setdefault(element_of(f.path, by_path, folders), []).append(f)
    previous = next((v for v in versions if v.number == version.number - 1), None)
    comparison = None
    if previous is not None:
        before = {path: digest for path, digest in session.execute(
            select(StoredDocument.path, StoredDocument.sha256).where(StoredDocument.version_id == previous.id))}
        comparison = compare_versions(before, {d.path: d.sha256 for d in documents})
    element_names = {element: element_label(element, folder)
                     for element, folder in (summary.get("elements") or {}).items()}
    return VersionView(version=version, tool_rows=tool_rows, file_groups=sorted(groups.items(), key=_element_order),
                       findings=sorted(findings.items(), key=_element_order), comparison=comparison,
                       reasons=[f for f in every_finding if f.severity in ("reject", "warn") and quotable(f.code)],
                       previous=previous, element_names=element_names, summary=summary,
                       file_count=len(documents), element_folders=element_folders(summary))


MAX_SHOWN_EMAIL_BYTES = 2_000_000  # a larger email's text is not shown on the page: download it


def message_file(storage: Storage, tracking_number: str, message: InboxMessage, version: Version | None) -> Path | None:
    """Where the pipeline filed an email of the case, as recorded: its version's folder, or the
    follow-up's own path; None when it is not (or no longer) a file inside the case's folder."""
    if version is not None:
        stored = version_email(storage.path_of(version.storage_path)) if version.storage_path else None
    else:
        stored = storage.path_of(message.raw_path) if message.raw_path else None
    return file_inside(storage.case_dir(tracking_number), stored) if stored is not None else None


def email_text(raw: bytes) -> str:
    """The plain-text part of an email (shown escaped, as text), or ""."""
    import email
    from email import policy

    try:
        part = email.message_from_bytes(raw, policy=policy.default).get_body(("plain",))
        return part.get_content() if part is not None else ""
    except (LookupError, ValueError, AttributeError):  # a broken charset or structure: the .eml still downloads
        return ""


@dataclass
class TimelineItem:
    """One line of the case's timeline. `kind`: "in" and "out" (emails: subject, id, status, body),
    "decision" (decision, version), "note" (text), "event" (what)."""

    kind: str
    at: datetime
    who: str | None
    subject: str | None = None
    id: int | None = None
    status: str | None = None
    body: str | None = None
    decision: Decision | None = None
    version: int | None = None
    text: str | None = None
    what: str | None = None


def correspondence(session: Session, storage: Storage, case: Case) -> list[TimelineItem]:
    """Every email in (versions and follow-ups, not re-delivered copies) and every reply out, oldest first."""
    items: list[TimelineItem] = []
    versions = {v.id: v for v in case.versions}
    for m in session.scalars(select(InboxMessage).where(
            InboxMessage.submission_id == case.id, InboxMessage.state == MessageState.DONE,
            or_(InboxMessage.version_id.is_not(None), InboxMessage.raw_path.is_not(None)))
            .order_by(InboxMessage.received_at, InboxMessage.id)):
        path = message_file(storage, case.tracking_number, m, versions.get(m.version_id) if m.version_id else None)
        body = None
        if path is not None:
            body = (email_text(path.read_bytes()) if path.stat().st_size <= MAX_SHOWN_EMAIL_BYTES
                    else "(a large email: download the .eml to read it)")
        items.append(TimelineItem("in", m.received_at, m.sender, m.subject, m.id, m.outcome, body))
    for r in session.scalars(select(Reply).where(Reply.submission_id == case.id).order_by(Reply.id)):
        items.append(TimelineItem("out", r.created_at, r.recipient, r.subject, r.id, r.status, email_text(bytes(r.raw))))
    return sorted(items, key=lambda item: item.at)


# Audit entries the timeline shows in words (views, opens and downloads are summarised apart; decisions
# and notes come from their own rows).
TIMELINE_EVENTS = {"assign": "assigned the case", "undo": "undid a decision", "reminder": "reminder queued"}
READS = ("view", "open", "download")


def timeline(session: Session, case: Case, emails: list[TimelineItem], decisions: list[Decision],
             notes: list[CaseNote]) -> list[TimelineItem]:
    """The case's one timeline, newest last: emails in and out, decisions, notes, assignments, undos, reminders."""
    numbers = {v.id: v.number for v in case.versions}
    items = list(emails)
    items += [TimelineItem("decision", d.decided_at, d.user.username, decision=d, version=numbers.get(d.version_id))
              for d in decisions]
    items += [TimelineItem("note", n.created_at, n.user.username, text=n.text) for n in notes]
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.submission_id == case.id,
                                                          AuditEntry.action.in_(tuple(TIMELINE_EVENTS)))
                                 .options(selectinload(AuditEntry.user)).order_by(AuditEntry.id)):
        detail = entry.detail or {}
        what = TIMELINE_EVENTS[entry.action]
        if entry.action == "assign":
            what = f"assigned the case to {detail['assignee']}" if detail.get("assignee") else "released the case"
        elif entry.action == "reminder":
            what = f"reminder of the due date {detail.get('due', '')} queued for the submitter"
        elif entry.action == "undo":
            labels = {decision.value: decision.label for decision in QADecision}
            what = f"undid the decision {labels.get(detail.get('decision', ''), '')}; its email was withdrawn"
        items.append(TimelineItem("event", entry.at, entry.user.username if entry.user else "the daemon", what=what))
    return sorted(items, key=lambda item: item.at)


@dataclass
class Reader:
    """Who read the case: page views, files opened and downloaded, and when last."""

    who: str
    last: datetime
    view: int = 0
    open: int = 0
    download: int = 0


def readers(session: Session, case: Case) -> list[Reader]:
    """Who looked at the case and its files, how often, and when last: the audit trail's reads, summarised."""
    rows = session.execute(select(User.username, AuditEntry.action, func.count(AuditEntry.id), func.max(AuditEntry.at))
                           .join(User, User.id == AuditEntry.user_id)
                           .where(AuditEntry.submission_id == case.id, AuditEntry.action.in_(READS))
                           .group_by(User.username, AuditEntry.action)).all()
    found: dict[str, Reader] = {}
    for username, action, count, last in rows:
        reader = found.setdefault(username, Reader(who=username, last=last))
        setattr(reader, action, count)
        reader.last = max(reader.last, last)
    return sorted(found.values(), key=lambda r: r.last, reverse=True)


@dataclass
class HeldEmail:
    """A decision's email while it waits to go out, exactly as it will be sent."""

    decision: Decision
    reply: Reply
    text: str
    at: datetime  # when it goes out


def held_email(session: Session, decisions: list[Decision], undo_seconds: int) -> HeldEmail | None:
    """The latest decision's email while it waits to go out (the time to undo)."""
    latest = next((d for d in reversed(decisions) if d.undone_at is None), None)
    if latest is None or latest.reply_id is None:
        return None
    reply = session.get(Reply, latest.reply_id)
    now = utcnow()
    if reply is None or reply.status != "pending" or reply.next_attempt_at is None or reply.next_attempt_at <= now:
        return None
    if now >= latest.decided_at + timedelta(seconds=undo_seconds):
        return None
    return HeldEmail(latest, reply, email_text(bytes(reply.raw)), reply.next_attempt_at)


def active_usernames(session: Session) -> list[str]:
    """The users who may be assigned a case, by name."""
    return list(session.scalars(select(User.username).where(User.disabled.is_(False)).order_by(User.username)))


@dataclass
class CasePageView:
    """Everything the case page reads about one case, in one read transaction."""

    case: Case
    view: VersionView
    decisions: list[Decision]  # every one, undone too, in order
    timeline: list[TimelineItem]
    readers: list[Reader]
    held: HeldEmail | None
    triage_told: Reply | None  # triage's email that returned the latest version
    previous_case: str | None  # in the queue's order
    next_case: str | None
    analysts: list[str]
    company: dict[str, Any] | None
    registers: dict[str, Any] | None


def case_page_view(session: Session, storage: Storage, tracking_number: str, version_number: int | None,
                   filters: QueueFilter, registers: RegistersConfig, undo_seconds: int) -> CasePageView | None:
    """The case page of the case with this tracking number (version `version_number`, else its latest),
    its neighbours in the queue seen through `filters`; None when there is no such case."""
    case = find_case(session, tracking_number, selectinload(Case.versions).selectinload(Version.message),
                     selectinload(Case.assignee))
    if case is None:
        return None
    view = version_view(session, case, version_number)
    decisions = list(session.scalars(select(Decision).where(Decision.submission_id == case.id)
                                     .options(selectinload(Decision.user)).order_by(Decision.sequence)))
    notes = list(session.scalars(select(CaseNote).where(CaseNote.submission_id == case.id)
                                 .options(selectinload(CaseNote.user)).order_by(CaseNote.id)))
    told, _ = triage_told(session, case.versions[-1]) if case.versions else (None, set())
    previous_case, next_case = neighbours(session, tracking_number, filters)
    return CasePageView(
        case=case, view=view, decisions=decisions,
        timeline=timeline(session, case, correspondence(session, storage, case), decisions, notes),
        readers=readers(session, case), held=held_email(session, decisions, undo_seconds), triage_told=told,
        previous_case=previous_case, next_case=next_case, analysts=active_usernames(session),
        company=company_record(case), registers=case_registers(session, case, registers))
