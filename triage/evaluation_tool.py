"""Finding the SECOR evaluation tool in a submission and reading what it states.

Where we look, in order (the first that finds something wins):

1. by name at the top: a loose document named like the tool (`SECOR Evaluation 2026.pdf`,
   `Evaluation Tool.docx`, `Self-Evaluation.pdf`, `SECOR Audit.pdf`, `SECOR Action Plan.pdf`,
   `Eval Part 1.pdf`), or every document of a top folder named like the tool (`SECOR Evaluation/`);
2. by name anywhere else (inside an element folder): found, but buried;
3. by content, only in a bounded set of candidates (loose documents at the top first, then documents
   whose names say nothing), so a 5,000-file submission stays fast: text that names SECOR and an
   evaluation or audit and carries at least two header fields (legal name, WCB account, number of
   employees, industry code, trade name, assessor...).

Several documents found, or a name that says it is a piece (`Part 2`, `2 of 3`): the tool is split.
A name that merely starts with "Evaluation" only counts at the top: inside an element folder
(`Evaluation of training.pdf`) it is a supporting document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triage.elements import normalize
from triage.names import unclear_name
from triage.paths import name_of, stem

if TYPE_CHECKING:
    from triage.submission import Document, Submission

MAX_CONTENT_CANDIDATES = 20  # documents whose text we read when no name says "evaluation tool"
MAX_CONTENT_BYTES = 50_000_000  # larger documents are not read for content
CONTENT_FAMILIES = frozenset({"pdf", "word", "spreadsheet", "text"})

# `SECOR [2026] [Maintenance] Evaluation`, but not `SECOR training evaluation` or `SECOR hazard assessment`
_TOOL_NAME = re.compile(
    r"\bsecor\s+(?:(?:\d+|maintenance|certification|renewal|self|internal|external|final|completed|annual)\s+){0,2}"
    r"(?:evaluation|eval|audit|action\s+plan)\b"
    r"|\bself\s*(?:evaluation|eval|audit)\b"
    r"|\b(?:evaluation|eval|audit)\s*tool\b"
)
_TOP_ONLY_NAME = re.compile(r"^(?:secor\s+)?(?:self\s*)?eval(?:uation)?s?\b")
_PIECE_NAME = re.compile(r"\b(?:part|pt|section|sect|page|pg|vol|volume)\s*\d+\b|\b\d+\s*of\s*\d+\b")
_TOOL_TEXT = re.compile(r"\bsecor\b", re.I)
_TOOL_TEXT_KIND = re.compile(r"\b(?:evaluation|audit|action\s+plan)\b", re.I)
_HEADER_FIELDS = tuple(re.compile(p, re.I) for p in (
    r"legal\s+name",
    r"trade\s+name",
    r"\bwcb\b[^\n]{0,20}\baccount",
    r"(?:number|no\.?|#)\s*of\s+(?:employees|workers)",
    r"industry\s+code",
    r"\bassessor\b|\bauditor\b|\bevaluator\b",
    r"evaluation\s+(?:start|end|dates?)",
))
_EMPLOYEE_LABEL = re.compile(
    r"(?:number\s+of|no\.?\s+of|#\s*of|total(?:\s+number\s+of)?|how\s+many)\s+(?:employees|workers|staff|personnel)\b"
    r"|^[ \t]*(?:employees|workers)\b",
    re.I | re.M,
)
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d{1,6})(?![\d,]*\d)"
_AFTER_COLON = re.compile(rf"[^:\n]{{0,80}}:\s*{_NUMBER}")
_AFTER_LABEL = re.compile(rf"[ \t]*(?:\([^)\n]{{0,80}}\))?[ \t]*[:=\-\u2013]?\s*{_NUMBER}")


@dataclass(frozen=True)
class EvaluationTool:
    """The document(s) taken for the evaluation tool, and how they were found."""

    parts: tuple[Document, ...] = ()
    how: str | None = None  # "name" | "content" | None when not found
    buried: bool = False  # found only below the top (inside an element or other folder)
    split: bool = False  # several documents, or a name that says it is a piece

    @property
    def found(self) -> bool:
        return bool(self.parts)

    @property
    def primary(self) -> Document | None:
        """The document the summary names: the first part."""
        return self.parts[0] if self.parts else None


def _stem(name: str) -> str:
    return normalize(stem(name))


def is_tool_name(name: str, at_top: bool) -> bool:
    """Whether a file name says it is the evaluation tool (see the module docstring)."""
    stem = _stem(name)
    return bool(_TOOL_NAME.search(stem) or (at_top and _TOP_ONLY_NAME.search(stem)))


def is_tool_folder_name(name: str) -> bool:
    """Whether a top folder's name says it holds the evaluation tool (`SECOR Evaluation`)."""
    text = normalize(name)
    return bool(_TOOL_NAME.search(text) or _TOP_ONLY_NAME.search(text))


def is_piece_name(name: str) -> bool:
    """Whether a name says it is one piece of several (`Eval Part 2`, `Evaluation 1 of 3`)."""
    return bool(_PIECE_NAME.search(_stem(name)))


def looks_like_tool_text(text: str) -> bool:
    """Text that names the SECOR evaluation and carries at least two of its header fields."""
    head = text[:20_000]
    if not (_TOOL_TEXT.search(head) and _TOOL_TEXT_KIND.search(head)):
        return False
    return sum(1 for field in _HEADER_FIELDS if field.search(head)) >= 2


def read_employees(text: str) -> int | None:
    """The number of employees the text states (`Number of employees: 12`, `# of workers 12`,
    `Employees (total) 12`), or None when no such statement is found."""
    for label in _EMPLOYEE_LABEL.finditer(text):
        rest = text[label.end(): label.end() + 160]
        value = _AFTER_LABEL.match(rest) or _AFTER_COLON.match(rest)
        if value:
            return int(value.group(1).replace(",", ""))
    return None


def _tool(parts: list[Document], how: str, buried: bool) -> EvaluationTool:
    parts = sorted(parts, key=lambda d: d.path)
    split = len(parts) > 1 or any(is_piece_name(d.name) for d in parts)
    return EvaluationTool(parts=tuple(parts), how=how, buried=buried, split=split)


def _content_candidates(submission: Submission) -> list[Document]:
    """The bounded list of documents whose text may be read: loose top documents, then unclear names."""
    seen: set[str] = set()
    out: list[Document] = []
    ordered = submission.top_documents + [d for d in submission.documents if unclear_name(d.name)]
    for d in ordered:
        if len(out) >= MAX_CONTENT_CANDIDATES:
            break
        if d.path in seen or d.size == 0 or d.size > MAX_CONTENT_BYTES:
            continue
        seen.add(d.path)
        if d.ftype.family in CONTENT_FAMILIES:
            out.append(d)
    return out


def find_evaluation_tool(submission: Submission) -> EvaluationTool:
    """The evaluation tool of a submission (see the module docstring for the search order)."""
    at_top = [d for d in submission.top_documents if is_tool_name(d.name, at_top=True)]
    for folder in tool_folders(submission):
        at_top += submission.documents_under(folder)
    if at_top:
        return _tool(at_top, "name", buried=False)
    below = [d for d in submission.documents if is_tool_name(d.name, at_top=False)]
    if below:
        return _tool(below, "name", buried=True)
    by_content = [d for d in _content_candidates(submission) if looks_like_tool_text(submission.text_of(d))]
    if by_content:
        buried = any(d.folder != submission.top for d in by_content)
        return _tool(by_content, "content", buried=buried)
    return EvaluationTool()


def tool_folders(submission: Submission) -> list[str]:
    """Top folders that hold the evaluation tool (`SECOR Evaluation/`): not unknown folders."""
    return [f for f, m in submission.element_matches.items()
            if m.element is None and is_tool_folder_name(name_of(f))]
