"""What the registers say of a case's tool facts: the four register findings and the `registers`
block of `show --json` and the workbench.

Each answer is null (and no finding) when the register it needs was never imported or the tool gave
nothing to look up: no register, no finding. A name that only *may* be the assessor's (`T. Nguyen` for
`Tom Nguyen`) is listed for QA and decides nothing: with no certain qualified match but a possible
one, `assessor_qualified` is null and there is no finding.

These need the database, so the pipeline asks them when it records a version (beside the company's
history), not the pure triage rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from intake.config import RegistersConfig
from intake.db import Case, CertificateRecord, MemberRecord, TrainingRecord
from intake.registers import REGISTERS, store
from intake.registers.names import account_digits, name_words
from triage.findings import Finding, finding

REGISTER_CODES = ("eligibility.not_a_member", "eligibility.assessor_not_qualified",
                  "eligibility.continuing_education_lapsed", "history.no_certificate_to_maintain")
MAINTENANCE_PURPOSES = ("maintenance", "action_plan")


@dataclass(frozen=True)
class Judgement:
    findings: list[Finding]
    registers: dict[str, Any]  # `registers` in show --json


def judge(session: Session, facts: dict[str, Any], received: date, settings: RegistersConfig) -> Judgement:
    """The registers' findings and answers for a case whose tool states `facts`, its email received on
    `received` (the day membership must cover). Findings at their default severities."""
    account = account_digits(facts.get("wcb_account"))
    evaluation_end = _iso(facts.get("evaluation_end"))
    findings: list[Finding] = []
    # Asked before the rows: a register imported meanwhile is then read whole, never as "not imported".
    imports = {register: store.last_import(session, register) for register in REGISTERS}
    member, membership = _membership(session, account if imports["members"] else None, received, findings)
    trained = imports["training"] is not None
    qualified, assessor = _assessor(session, facts.get("assessor") if trained else None, settings, findings)
    education = _continuing_education(session, account if trained else None, evaluation_end, settings, findings)
    certificate, history = _certificate(session, account if imports["certificates"] else None, facts.get("purpose"),
                                        evaluation_end, received, findings)
    return Judgement(findings, {"member": member, "assessor_qualified": qualified, "certificate": certificate,
                                "membership": membership, "assessor": assessor,
                                "continuing_education": education, "certificates": history,
                                "imports": {register: store.import_dict(record) for register, record in imports.items()}})


def _membership(session: Session, account: str | None, day: date,
                findings: list[Finding]) -> tuple[bool | None, dict[str, Any] | None]:
    if account is None:
        return None, None
    rows = store.memberships(session, account)
    covering = [r for r in rows if r.member_since <= day and (r.member_until is None or day <= r.member_until)]
    shown = covering[-1] if covering else (rows[-1] if rows else None)
    if not covering:
        ended = f"; the last membership on record ended {rows[-1].member_until.isoformat()}" if (
            rows and rows[-1].member_until) else ("" if rows else "; the account is not in it at all")
        findings.append(finding("eligibility.not_a_member",
                                f"The members register has no membership of WCB account {account} covering "
                                f"{day.isoformat()}, the day the submission arrived{ended}."))
    return bool(covering), _member_dict(shown)


def _member_dict(row: MemberRecord | None) -> dict[str, Any] | None:
    return None if row is None else store.member_dict(row)


def _course_key(course: str) -> str:
    return " ".join(name_words(course.replace("&", " and ")))


def _assessor(session: Session, assessor: str | None, settings: RegistersConfig,
              findings: list[Finding]) -> tuple[bool | None, dict[str, Any] | None]:
    if not assessor or not name_words(assessor):
        return None, None
    wanted = {_course_key(c) for c in settings.assessor_courses}
    found = store.training_of_person(session, assessor)
    same = [r for r in found.same if _course_key(r.course) in wanted]
    possible = [r for r in found.possible if _course_key(r.course) in wanted]
    detail = {"name": assessor, "courses": [store.training_dict(r) for r in same],
              "possible_matches": [store.training_dict(r) for r in possible]}
    if same:
        return True, detail
    if possible:
        return None, detail  # perhaps the same person: QA judges, no finding either way
    findings.append(finding("eligibility.assessor_not_qualified",
                            f"The training register shows none of the assessor courses "
                            f"({' or '.join(settings.assessor_courses)}) for the assessor named in the tool, "
                            f"{assessor}."))
    return False, detail


def shift_years(day: date, years: int) -> date:
    """The same day `years` later (earlier when negative); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _continuing_education(session: Session, account: str | None, evaluation_end: date | None,
                          settings: RegistersConfig, findings: list[Finding]) -> dict[str, Any] | None:
    if account is None or evaluation_end is None:
        return None
    since = shift_years(evaluation_end, -settings.continuing_education_years)
    rows = [r for r in store.training_of_account(session, account) if r.completed_on <= evaluation_end]
    counting = [r for r in rows if r.completed_on >= since and (r.hours or 0) >= settings.continuing_education_min_hours]
    last: TrainingRecord | None = (counting or rows)[-1] if counting or rows else None
    if not counting:
        before = f"; the last course on record: {last.course}, {last.completed_on.isoformat()}" if last else ""
        findings.append(finding("eligibility.continuing_education_lapsed",
                                f"The training register shows nobody on WCB account {account} completing a course of "
                                f"at least {settings.continuing_education_min_hours:g} hours in the "
                                f"{settings.continuing_education_years} years before the evaluation end "
                                f"({evaluation_end.isoformat()}){before}."))
    return {"lapsed": not counting, "last": store.training_dict(last) if last else None}


def _certificate(session: Session, account: str | None, purpose: str | None, evaluation_end: date | None,
                 received: date, findings: list[Finding]) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """The certificate shown (the SECOR valid on the evaluation end, else any valid, else the latest)
    and the account's certificate history."""
    if account is None:
        return None, None
    rows = store.certificates(session, account)
    on = evaluation_end or received
    valid = [r for r in rows if r.issued_on <= on <= r.expires_on]
    secor = [r for r in valid if r.program == "SECOR"]
    if purpose in MAINTENANCE_PURPOSES and evaluation_end is not None and not secor:
        findings.append(finding("history.no_certificate_to_maintain",
                                f"The tool says {purpose.replace('_', ' ')}, but the certificates register holds no "
                                f"SECOR certificate of WCB account {account} valid on the evaluation end "
                                f"({evaluation_end.isoformat()})."))
    shown: CertificateRecord | None = (secor or valid or rows)[-1] if rows else None
    history = [store.certificate_dict(r) for r in rows]
    if shown is None:
        return None, history
    return {"program": shown.program, "issued_on": shown.issued_on.isoformat(),
            "expires_on": shown.expires_on.isoformat()}, history


def _iso(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def case_registers(session: Session, submission: Case, settings: RegistersConfig) -> dict[str, Any] | None:
    """`registers` in `show --json` and on the case page: what the registers say now of the latest
    version's tool facts (null for a case without versions)."""
    latest = submission.versions[-1] if submission.versions else None
    if latest is None:
        return None
    summary = (latest.report or {}).get("summary") or {}
    received = latest.message.received_at if latest.message is not None else submission.received_at
    return judge(session, summary.get("tool") or {}, received.date(), settings).registers


def fact_notes(registers: dict[str, Any] | None) -> dict[str, str]:
    """What the registers say beside each tool fact (summary.tool key -> words), for people: the case
    page and `show`. A register never imported says nothing."""
    if not registers:
        return {}
    notes: dict[str, str] = {}
    membership = registers.get("membership")
    if registers.get("member") is not None:
        if membership is None:
            notes["wcb_account"] = "not in the members register"
        else:
            until = f"until {membership['member_until']}" if membership["member_until"] else "still a member"
            notes["wcb_account"] = (f"{'member' if registers['member'] else 'not a member then'}: "
                                    f"since {membership['member_since']}, {until}")
    assessor = registers.get("assessor")
    if assessor is not None:
        courses = [f"{c['course']}, {c['completed_on']}" for c in assessor["courses"]]
        possible = [f"possible match {c['name']}: {c['course']}, {c['completed_on']}" for c in assessor["possible_matches"]]
        notes["assessor"] = "; ".join(courses + possible) or "no assessor course in the training register"
    education = registers.get("continuing_education")
    if education is not None:
        last = education["last"]
        said = f"last course {last['course']}, {last['completed_on']}" if last else "no course on record"
        notes["evaluation_end"] = f"continuing education {'lapsed' if education['lapsed'] else 'kept'} ({said})"
    certificate = registers.get("certificate")
    if certificate is not None:
        notes["purpose"] = f"certificate {certificate['program']} {certificate['issued_on']} to {certificate['expires_on']}"
    elif registers.get("certificates") == []:
        notes["purpose"] = "no certificate in the register"
    return notes
