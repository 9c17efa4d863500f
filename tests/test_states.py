"""QA states and decisions are defined once, in intake/states.py (issue 20): no module, template or
script spells one of their values again. "accepted"/"returned" are also triage verdicts, so only the
values that belong to QA alone are searched for."""

from __future__ import annotations

import re
from pathlib import Path

from intake.states import QADecision, QAState

ROOT = Path(__file__).resolve().parent.parent / "intake"
QA_ONLY = [QAState.IN_REVIEW, QAState.AWAITING_DOCUMENTS, QAState.RESUBMITTED, QADecision.REQUEST_DOCUMENTS]
SPELLED = re.compile("|".join(rf"""["']{re.escape(value)}["']""" for value in QA_ONLY))


def test_qa_state_and_decision_values_are_spelled_only_in_the_states_module():
    sources = [p for p in ROOT.rglob("*") if p.suffix in {".py", ".html", ".js", ".txt"}
               and p.name != "states.py" and "migrations" not in p.parts]
    assert len(sources) > 50  # the search really covers the package
    spelled = [f"{p.relative_to(ROOT)}:{n}" for p in sources
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if SPELLED.search(line)]
    assert spelled == []
