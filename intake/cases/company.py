"""The company record: the cases of one WCB account across the years, and what they reuse.

A case joins the company of the WCB account its evaluation tool states when a version is recorded
(`file_version`); a case whose tool states none can be linked by an analyst (`link`, the CLI's
`company link`), and an analyst's link is never undone by a later version. A case's year is its
evaluation's (the tool's end, start or submission date), else the year it was received.

`history.reused_documents` needs the database, so it is decided here, when the pipeline records a
version, not in the pure triage engine: documents byte-identical (SHA-256) to documents of the same
company's case of an earlier year. It is for QA: replies and report.txt leave it out.

The submission cycle (domain.md): a certification (or renewal) is valid three years; the two years
between need a maintenance evaluation (or an action plan); the third year after it, a renewal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from intake.clock import utcnow
from intake.db import Case, CertificateRecord, Company, CompanyCase, StoredDocument, Version
from intake.registers import store as registers
from triage.findings import Finding, apply_severities, finding
from triage.report import Report

CERTIFICATIONS = ("certification", "renewal")
VALID_YEARS = 3
HASH_CHUNK = 500  # SHA-256s per IN (...) list
REUSED_EXAMPLES = 10  # more reused documents than this make one finding


def report_facts(report: dict[str, Any] | Report | None) -> dict[str, Any]:
    """`summary.tool` of a report (object or stored dict), {} when there is none."""
    if report is None:
        return {}
    summary = report.summary if isinstance(report, Report) else report.get("summary") or {}
    return summary.get("tool") or {}


def case_year(facts: dict[str, Any], received: date) -> int:
    """The evaluation's year: from the tool's end, start or submission date, else the year received."""
    for key in ("evaluation_end", "evaluation_start", "submitted_on"):
        if facts.get(key):
            return int(str(facts[key])[:4])
    return received.year


def _company(session: Session, wcb_account: str, legal_name: str | None, trusted: bool) -> Company:
    """The company of `wcb_account`, created when new (two daemons creating it at once: one wins).

    A tool's legal name only names a new company; an existing one's name changes only by a trusted
    source (an analyst's `company link --name`): anyone can send a tool naming any WCB account, and
    must not rename another company's record (issue 24)."""
    company = session.scalar(select(Company).where(Company.wcb_account == wcb_account))
    if company is None:
        try:
            with session.begin_nested():
                company = Company(wcb_account=wcb_account, legal_name=legal_name)
                session.add(company)
        except IntegrityError:  # the other one's row is committed: read it
            company = session.scalars(select(Company).where(Company.wcb_account == wcb_account)).one()
    if legal_name and company.legal_name != legal_name and (trusted or company.legal_name is None):
        company.legal_name = legal_name
    return company


def _place(session: Session, case: Case, company: Company, facts: dict[str, Any], linked_by: str) -> CompanyCase:
    link = session.get(CompanyCase, case.id) if case.id is not None else None
    if link is None:
        link = CompanyCase(submission=case, company=company, linked_by=linked_by, year=0)
        session.add(link)
    link.company, link.linked_by = company, linked_by
    link.year = case_year(facts, case.received_at.date())
    link.purpose = facts.get("purpose") or link.purpose
    return link


def file_version(session: Session, case: Case, report: Report, severities: dict[str, str]) -> list[Finding]:
    """Before a version is recorded: join the case to its tool's company; the findings the version's
    report gains from the company's history (`history.reused_documents` when it resends an earlier
    year's documents)."""
    facts = report_facts(report)
    account = facts.get("wcb_account")
    link = session.get(CompanyCase, case.id) if case.id is not None else None
    if account and (link is None or link.linked_by == "tool"):
        # A new company is named by the certificates register where it knows the account (the
        # association's own record), else by the tool.
        name = registers.registered_name(session, account) or facts.get("legal_name")
        link = _place(session, case, _company(session, account, name, trusted=False), facts, "tool")
    elif link is not None:
        link.year = case_year(facts, case.received_at.date()) if facts else link.year
        link.purpose = facts.get("purpose") or link.purpose
    if link is None:
        return []
    year = case_year(facts, case.received_at.date())
    reused = reused_documents(session, link.company, case, year, {d.sha256: d.path for d in report.documents if d.sha256})
    return apply_severities(list(reused_findings(reused)), severities)


def link(session: Session, tracking_number: str, wcb_account: str, legal_name: str | None = None) -> CompanyCase:
    """An analyst's link of a case to a company (`secor-intake company link`); raises LookupError for
    an unknown tracking number."""
    from intake.cases.queries import find_case  # queries shows the company record: imported here, not in a cycle

    case = find_case(session, tracking_number)
    if case is None:
        raise LookupError(tracking_number)
    latest = case.versions[-1].report if case.versions else None
    facts = report_facts(latest)
    company = (_company(session, wcb_account, legal_name, trusted=True) if legal_name
               else _company(session, wcb_account, facts.get("legal_name"), trusted=False))
    return _place(session, case, company, facts, "analyst")


@dataclass(frozen=True)
class Reused:
    path: str  # in this case
    earlier_case: str  # tracking number
    earlier_year: int
    earlier_path: str


def reused_documents(session: Session, company: Company, case: Case, year: int,
                     hashes: dict[str, str]) -> list[Reused]:
    """This case's documents (sha256 -> path) identical to those of the company's cases of earlier years."""
    earlier = {c.submission_id: c for c in company.cases if c.year < year and c.submission_id != case.id}
    if not earlier or not hashes:
        return []
    found: dict[str, Reused] = {}
    keys = sorted(hashes)
    for i in range(0, len(keys), HASH_CHUNK):
        rows = session.execute(
            select(StoredDocument.sha256, StoredDocument.path, Case.tracking_number, Version.submission_id)
            .join(Version, StoredDocument.version_id == Version.id).join(Case, Version.submission_id == Case.id)
            .where(Version.submission_id.in_(earlier), StoredDocument.sha256.in_(keys[i:i + HASH_CHUNK]))
            .order_by(Version.submission_id, Version.number, StoredDocument.id))
        for sha, path, tracking, submission_id in rows:
            found.setdefault(sha, Reused(hashes[sha], tracking, earlier[submission_id].year, path))
    return sorted(found.values(), key=lambda r: r.path)


def reused_findings(reused: list[Reused]) -> Iterable[Finding]:
    """history.reused_documents: one finding per document, or one for them all when there are many."""
    # The message names this case's files and the earlier years only: which case and which of its
    # files are on the case page's company record, for QA's eyes (issue 24).
    if len(reused) > REUSED_EXAMPLES:
        years = sorted({r.earlier_year for r in reused})
        examples = ", ".join(f"'{r.path}'" for r in reused[:3])
        yield finding("history.reused_documents",
                      f"This case has {len(reused)} documents identical to documents of this company's earlier "
                      f"cases ({', '.join(map(str, years))}), for example {examples}: see the company record.")
        return
    for r in reused:
        yield finding("history.reused_documents",
                      f"'{r.path}' is identical to a document of this company's case of {r.earlier_year}: "
                      "see the company record.", r.path)


# -- reading the record ---------------------------------------------------------------------------


def _case_row(link: CompanyCase) -> dict[str, Any]:
    return {"tracking_number": link.submission.tracking_number, "year": link.year, "purpose": link.purpose,
            "verdict": link.submission.verdict, "linked_by": link.linked_by}


def legal_names(links: list[CompanyCase]) -> dict[str, list[str]]:
    """Each legal name the evaluation tools of the company's cases state (first spelling of names equal
    but for case and spaces) -> those cases' tracking numbers. More than one: the account's cases may
    not be one employer (a mistyped WCB account merges companies), which QA must see."""
    names: dict[str, tuple[str, list[str]]] = {}
    for link in sorted(links, key=lambda c: (c.year, c.submission_id)):
        versions = link.submission.versions
        tool = (((versions[-1].report or {}).get("summary") or {}).get("tool") or {}) if versions else {}
        name = tool.get("legal_name")
        if isinstance(name, str) and name.strip():
            key = " ".join(name.casefold().split())
            names.setdefault(key, (" ".join(name.split()), []))[1].append(link.submission.tracking_number)
    return dict(names.values())


def company_record(submission: Case) -> dict[str, Any] | None:
    """`company` in `show --json`: the case's company with all its cases, and what this case reuses."""
    session = object_session(submission)
    if session is None:
        return None
    link = session.get(CompanyCase, submission.id)
    if link is None:
        return None
    company = link.company
    latest = submission.versions[-1] if submission.versions else None
    hashes = {d.sha256: d.path for d in latest.documents} if latest is not None else {}
    reused = reused_documents(session, company, submission, link.year, hashes)
    cases = sorted(company.cases, key=lambda c: (c.year, c.submission_id))
    held = registers.certificates(session, company.wcb_account)
    return {"wcb_account": company.wcb_account, "legal_name": company.legal_name, "linked_by": link.linked_by,
            "cases": [_case_row(c) for c in cases],
            "legal_names": legal_names(cases),
            "reused_documents": [{"path": r.path, "earlier_case": r.earlier_case, "earlier_year": r.earlier_year,
                                  "earlier_path": r.earlier_path} for r in reused],
            "certificates": registers.certificate_history(session, company.wcb_account),
            "next_due": next_due([(c.year, c.purpose) for c in cases], utcnow().year, registers.certified_years(held)),
            "maintenance_reminders": registers.reminders_of(session, company.wcb_account)}


def next_due(cases: list[tuple[int, str | None]], this_year: int,
             certified_years: Iterable[int] = ()) -> dict[str, Any]:
    """What the company submits next and when, from its (year, purpose) cases and the years the
    certificates register says it was certified, and whether it is late.

    After a certification or renewal in year C: maintenance in C+1 and C+2, renewal in C+3. Without a
    known certification, only the year is known (the one after the last case). With the register, a
    company's first case (or none yet) already knows its certification year."""
    certified = [year for year, purpose in cases if purpose in CERTIFICATIONS] + list(certified_years)
    last_year = max([year for year, _ in cases] + certified)
    if certified:
        c = max(certified)
        due_year = max(last_year + 1, c + 1)
        purpose = "renewal" if due_year >= c + VALID_YEARS else "maintenance"
        due_year = min(due_year, c + VALID_YEARS)
    else:
        due_year, purpose = last_year + 1, None
    status = "overdue" if due_year < this_year else ("due" if due_year == this_year else "not_due")
    return {"year": due_year, "purpose": purpose, "status": status}


def _company_row(account: str, legal_name: str | None, links: list[CompanyCase],
                 certificates: list[CertificateRecord], this_year: int) -> dict[str, Any] | None:
    """One company as `companies --json` lists it; None when there is nothing to follow (no case and
    no SECOR: a COR holder that never wrote)."""
    cases = sorted(links, key=lambda c: (c.year, c.submission_id))
    certified = registers.certified_years(certificates)
    if not cases and not certified:
        return None
    by_year: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        by_year.setdefault(str(c.year), []).append(_case_row(c))
    last = cases[-1] if cases else None
    return {"wcb_account": account, "legal_name": legal_name or (certificates[-1].legal_name if certificates else None),
            "cases": by_year, "last_year": last.year if last else None, "last_purpose": last.purpose if last else None,
            "next_due": next_due([(c.year, c.purpose) for c in cases], this_year, certified),
            "certificates": [registers.certificate_dict(r) for r in certificates], "legal_names": legal_names(cases)}


def companies(session: Session, this_year: int) -> list[dict[str, Any]]:
    """`secor-intake companies --json`: each company, its cases by year, last purpose, next due and its
    certificates. The record starts from the certificates register: SECOR holders that have not
    written yet are listed too."""
    held = registers.certificates_by_account(session)
    rows = [row for company in session.scalars(select(Company).order_by(Company.legal_name, Company.wcb_account))
            if (row := _company_row(company.wcb_account, company.legal_name, company.cases,
                                    held.pop(company.wcb_account, []), this_year)) is not None]
    holders = [row for account, certificates in held.items()
               if (row := _company_row(account, None, [], certificates, this_year)) is not None]
    return rows + sorted(holders, key=lambda row: (row["legal_name"] or "", row["wcb_account"]))


def account_record(session: Session, account: str, this_year: int) -> dict[str, Any] | None:
    """The company of one WCB account (the workbench's company page): as `companies` lists it, with
    the maintenance reminders sent; None when neither a case nor the certificates register knows it."""
    company = session.scalar(select(Company).where(Company.wcb_account == account))
    row = _company_row(account, company.legal_name if company else None, company.cases if company else [],
                       registers.certificates(session, account), this_year)
    if row is None:
        return None
    return row | {"certificates_imported": registers.last_import(session, "certificates") is not None,
                  "maintenance_reminders": registers.reminders_of(session, account)}
