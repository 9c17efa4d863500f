"""The workbench's figures: cases in and decided per week, time to decision, and how often QA's
decision agreed with triage, per finding code (which rules QA overrules most)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.db import Case, Decision, FindingRow, Version
from intake.states import QADecision
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
    decided = Counter(_week(at) for at in session.scalars(select(Decision.decided_at)))
    labels = sorted(set(cases_in) | set(decided))[-weeks:]
    first = (select(Decision.submission_id, func.min(Decision.decided_at).label("at"))
             .group_by(Decision.submission_id).subquery())
    waits = [(at - received).total_seconds() / 3600 for received, at in session.execute(
        select(Case.received_at, first.c.at).join(first, first.c.submission_id == Case.id))]
    latest = (select(Decision.submission_id, func.max(Decision.sequence).label("sequence"))
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
    return Figures(weeks=[(label, cases_in[label], decided[label]) for label in labels],
                   median_hours_to_decision=statistics.median(waits) if waits else None,
                   decided_cases=len(waits),
                   agreement=sorted(per_code.values(), key=lambda a: (a.rate, -a.decided, a.code)),
                   verdict_agreement={k: (v[0], v[1]) for k, v in sorted(by_verdict.items())})
