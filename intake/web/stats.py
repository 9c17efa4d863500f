"""The workbench's figures: the backlog and its age, each analyst's workload, cases in and decided per
week, time to decision, and how often QA's decision agreed with triage, per finding code (which rules
QA overrules most). Undone decisions count nowhere."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.clock import utcnow
from intake.db import Case, Decision, FindingRow, User, Version
from intake.states import OPEN_QA_STATES, QADecision
from triage.findings import ACCEPTED


@dataclass
class CodeAgreement:
    code: str
    decided: int  # decided versions that carried this code
    agreed: int

    @property
    def rate(self) -> float:
        return self.agreed / self.decided if self.decided else 0.0


@dataclass
class Figures:
    weeks: list[tuple[str, int, int]]  # (ISO week, cases in, decisions)
    median_hours_to_decision: float | None
    decided_cases: int
    agreement: list[CodeAgreement]
    verdict_agreement: dict[str, tuple[int, int]]  # triage verdict -> (agreed, decided)
    backlog: int = 0  # open cases
    median_backlog_hours: float | None = None  # how long they have waited (since their QA state began)
    oldest_backlog_hours: float | None = None
    workload: list[tuple[str, int, int]] = field(default_factory=list)  # (analyst, open cases held, decided in 7 days)


def duration(hours: float | None) -> str:
    """Hours as people say them: "45 min", "5 h 20 min", "3 d 4 h"."""
    if hours is None:
        return "—"
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")
    days, rest = divmod(minutes // 60, 24)
    return f"{days} d" + (f" {rest} h" if rest else "")


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def agrees(verdict: str, decision: str) -> bool:
    """Triage `accepted` expects Accept; `needs_review` and `returned` expect Return or Request
    documents (an Accept there says the warnings or rejections were not worth it)."""
    return (decision == QADecision.ACCEPT) == (verdict == ACCEPTED)


def compute(session: Session, weeks: int = 12) -> Figures:
    """The figures over every case; the per-week table shows the last `weeks` weeks with activity."""
    cases_in = Counter(_week(at) for at in session.scalars(select(Case.received_at)))
    # An undone decision is not a decision: not in the weeks, the time to decide, or the agreement.
    active = Decision.undone_at.is_(None)
    decided = Counter(_week(at) for at in session.scalars(select(Decision.decided_at).where(active)))
    labels = sorted(set(cases_in) | set(decided))[-weeks:]
    first = (select(Decision.submission_id, func.min(Decision.decided_at).label("at")).where(active)
             .group_by(Decision.submission_id).subquery())
    waits = [(at - received).total_seconds() / 3600 for received, at in session.execute(
        select(Case.received_at, first.c.at).join(first, first.c.submission_id == Case.id))]
    latest = (select(Decision.submission_id, func.max(Decision.sequence).label("sequence")).where(active)
              .group_by(Decision.submission_id).subquery())
    rows = session.execute(select(Decision.version_id, Decision.decision, Version.verdict)
                           .join(latest, (latest.c.submission_id == Decision.submission_id)
                                 & (latest.c.sequence == Decision.sequence))
                           .join(Version, Version.id == Decision.version_id)).all()
    outcome = {version_id: agrees(verdict, decision) for version_id, decision, verdict in rows}
    by_verdict: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, decision, verdict in rows:
        by_verdict[verdict][0] += agrees(verdict, decision)
        by_verdict[verdict][1] += 1
    per_code: dict[str, CodeAgreement] = {}
    if outcome:
        for version_id, code in session.execute(select(FindingRow.version_id, FindingRow.code).distinct()
                                                .where(FindingRow.version_id.in_(list(outcome)))):
            entry = per_code.setdefault(code, CodeAgreement(code, 0, 0))
            entry.decided += 1
            entry.agreed += outcome[version_id]
    now = utcnow()
    backlog = [(now - since).total_seconds() / 3600 for since in session.scalars(
        select(func.coalesce(Case.qa_since, Case.received_at)).where(Case.qa_state.in_(OPEN_QA_STATES)))]
    held = dict(session.execute(select(User.username, func.count(Case.id)).join(Case, Case.assignee_id == User.id)
                                .where(Case.qa_state.in_(OPEN_QA_STATES)).group_by(User.username)).all())
    recent = dict(session.execute(select(User.username, func.count(Decision.id))
                                  .join(Decision, Decision.decided_by == User.id)
                                  .where(active, Decision.decided_at >= now - timedelta(days=7))
                                  .group_by(User.username)).all())
    return Figures(backlog=len(backlog), median_backlog_hours=statistics.median(backlog) if backlog else None,
                   oldest_backlog_hours=max(backlog) if backlog else None,
                   workload=[(name, held.get(name, 0), recent.get(name, 0)) for name in sorted(set(held) | set(recent))],
                   weeks=[(label, cases_in[label], decided[label]) for label in labels],
                   median_hours_to_decision=statistics.median(waits) if waits else None,
                   decided_cases=len(waits),
                   agreement=sorted(per_code.values(), key=lambda a: (a.rate, -a.decided, a.code)),
                   verdict_agreement={k: (v[0], v[1]) for k, v in sorted(by_verdict.items())})
