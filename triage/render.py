"""The human report for a QA analyst: verdict first, findings by severity, elements, tool, totals."""

from __future__ import annotations

from pathlib import PurePosixPath

from triage.bidi import show_bidi
from triage.findings import SEVERITIES, for_submitter
from triage.report import Report

_HEADINGS = {"reject": "Must fix (reject)", "warn": "Should look (warn)", "info": "Noted (info)"}


def _size(n: int) -> str:
    """Bytes in words a person reads at a glance."""
    for unit, factor in (("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


def _table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _tool_lines(s: dict) -> list[str]:
    """The evaluation tool, its other parts, and the employees it states."""
    tool = s.get("evaluation_tool")
    if not tool:
        return ["Evaluation tool: not found"]
    how = s.get("evaluation_tool_found_by")
    lines = [f"Evaluation tool: {tool}" + (f" (found by {how})" if how else "")]
    lines += [f"  also: {part}" for part in (s.get("evaluation_tool_parts") or [])[1:]]
    employees = s.get("employees_stated")
    lines.append(f"Employees stated: {employees if employees is not None else 'could not be read'}")
    facts = s.get("tool") or {}
    for key, label in _FACT_LABELS:
        if facts.get(key) is not None:
            lines.append(f"  {label}: {facts[key]}")
    docs = s.get("documentation") or {}
    if docs.get("dated"):
        lines.append(f"Documentation dated {docs['earliest']} to {docs['latest']} ({docs['months']} months; "
                     f"{docs['dated']} of {docs['documents']} documents dated)")
    elif docs:
        lines.append("Documentation: no document carries a date we could read")
    return lines


_FACT_LABELS = (("legal_name", "Legal name"), ("trade_name", "Trade name"), ("wcb_account", "WCB account"),
                ("purpose", "Purpose"), ("evaluation_start", "Evaluation start"), ("evaluation_end", "Evaluation end"),
                ("submitted_on", "Submitted on"), ("assessor", "Assessor"))


def render_text(report: Report) -> str:
    """The report as plain text, ending with a newline. Internal findings (company history) are left
    out: this report is filed with the case and may be shown to the submitter."""
    s = report.summary
    findings = for_submitter(report.findings)
    source = report.source.name or report.source.url or report.source.kind
    lines = [f"Verdict: {report.verdict}", f"Source: {source} ({report.source.kind})", ""]
    if not findings:
        lines += ["No findings.", ""]
    for severity in SEVERITIES:
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        lines.append(f"{_HEADINGS[severity]}: {len(group)}")
        for f in group:
            lines.append(f"  [{f.code}] {f.path or '(whole submission)'}")
            lines.append(f"      {f.message}")
        lines.append("")
    details = s.get("element_details") or {}
    if details:
        lines.append(f"Elements ({s.get('vocabulary')}):")
        rows = [["element", "folder", "matched by", "files", "size"]]
        for number, detail in details.items():
            label = f"{number} {detail['name']}"
            if not detail["folders"]:
                rows.append([label, "(none)", "", "", ""])
            for row in detail["folders"]:
                rows.append([label, PurePosixPath(row["path"]).name, row["how"] or "", str(row["files"]), _size(row["bytes"])])
                label = ""  # a second folder for the same element: leave the element cell blank
        lines += ["  " + line for line in _table(rows)]
        for folder in s.get("unknown_folders") or []:
            lines.append(f"  unmatched folder: {folder}")
        lines.append("")
    if details:  # else the archive could not be opened and nothing was looked at
        lines += _tool_lines(s)
    if s.get("wrapper"):
        lines.append(f"Wrapper folder: {s['wrapper']}")
    lines.append(f"Totals: {s.get('files', 0)} files, {_size(s.get('bytes', 0))}")
    return show_bidi("\n".join(lines) + "\n")  # names from the submission: their bidi controls visible
