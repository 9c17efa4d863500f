"""Dating the documentation (names, first page, metadata), summary.documentation, and the findings on
dates and the tool: documentation_too_short, outside_evaluation_period, late_submission,
wcb_account_missing."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from intake.samples import evaluation_tool_lines, minimal_pdf, write_sample_submission
from triage import documentation
from triage.engine import triage_path
from triage.findings import WARN
from triage.render import render_text
from triage.report import Report
from triage.settings import ArchiveLimits, RuleSettings

E1 = "Element 1 - Management Leadership and Organizational Commitment"
E4 = "Element 4 - Ongoing Inspections"


def submission(tmp_path: Path, tool: list[str] | None = None, **kwargs) -> Path:
    root = write_sample_submission(tmp_path / "sub", wrapper=None, **kwargs)
    if tool is not None:
        (root / "SECOR Evaluation Tool 2026.pdf").write_bytes(minimal_pdf(tool))
    return root


def triage(root: Path, tmp_path: Path, **settings) -> Report:
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return triage_path(root, ArchiveLimits(), RuleSettings(**settings), work)


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def only_dated(root: Path, names: dict[str, bytes]) -> None:
    """Replace every element document with `names` (path under the root -> content)."""
    for folder in root.iterdir():
        if folder.is_dir():
            for f in folder.iterdir():
                f.unlink()
    for name, data in names.items():
        (root / name).write_bytes(data)


def test_sample_submission_is_dated_from_names_and_first_pages(tmp_path):
    report = triage(submission(tmp_path), tmp_path)
    docs = report.summary["documentation"]
    assert (docs["earliest"], docs["latest"], docs["months"]) == ("2026-02-03", "2026-07-31", 5.8)
    assert docs["dated"] == docs["documents"] == 24
    assert docs["dated_by"] == {"name": 13, "text": 11, "metadata": 0}
    assert docs["elements"]["2"] == {"earliest": "2026-02-03", "latest": "2026-05-21", "months": 3.5, "dated": 3}
    by_path = {d.path: d for d in report.documents}
    assert by_path[f"{E1}/Management Safety Meeting - 2026-04-07.pdf"].date == "2026-04-07"
    policy = by_path[f"{E1}/Health and Safety Policy 2026.pdf"]  # no date in the name: its text's
    assert (policy.date, policy.dated_by) == ("2026-07-31", "text")
    assert by_path["SECOR Evaluation Tool 2026.pdf"].date is None  # the tool is not documentation
    assert report.verdict == "accepted" and not report.findings


def test_metadata_dates_a_document_whose_name_and_text_have_none(tmp_path):
    from docx import Document
    from fpdf import FPDF

    root = submission(tmp_path)
    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 3, 9, 10, 0, tzinfo=timezone.utc))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 10, "Ladder inspection: all ladders in good order.")
    word = Document()
    word.add_paragraph("Toolbox talk: heat stress.")
    word.core_properties.created = datetime(2026, 4, 14, 8, 0)
    out = io.BytesIO()
    word.save(out)
    only_dated(root, {f"{E4}/Ladder inspection.pdf": bytes(pdf.output()), f"{E4}/Toolbox talk heat.docx": out.getvalue(),
                      f"{E4}/Site photo.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 200})
    report = triage(root, tmp_path)
    dated = {d.path: (d.date, d.dated_by) for d in report.documents}
    assert dated[f"{E4}/Ladder inspection.pdf"] == ("2026-03-09", "metadata")
    assert dated[f"{E4}/Toolbox talk heat.docx"] == ("2026-04-14", "metadata")
    assert dated[f"{E4}/Site photo.jpg"] == (None, None)  # a photo says nothing we read


def test_content_reading_is_bounded(tmp_path, monkeypatch):
    root = submission(tmp_path, docs_per_element=4)
    monkeypatch.setattr(documentation, "MAX_CONTENT_READS", 2)
    docs = triage(root, tmp_path).summary["documentation"]
    assert docs["dated_by"]["text"] + docs["dated_by"]["metadata"] == 2


def test_documentation_too_short_is_a_warning_with_the_dates(tmp_path):
    root = submission(tmp_path)
    only_dated(root, {f"{E4}/Monthly Inspection 2026-06.pdf": minimal_pdf(["Inspection"]),
                      f"{E4}/FLHA_20260702.pdf": minimal_pdf(["FLHA"])})
    report = triage(root, tmp_path)
    [f] = [f for f in report.findings if f.code == "eligibility.documentation_too_short"]
    assert f.severity == WARN and f.path is None
    assert "1.0 months (from June 1, 2026 to July 2, 2026)" in f.message
    assert report.verdict == "needs_review"  # a warning alone never returns a submission


def test_three_months_is_enough_and_no_dates_say_nothing(tmp_path):
    root = submission(tmp_path)
    only_dated(root, {f"{E4}/Toolbox Talk April 3 2026.pdf": minimal_pdf(["Talk"]),
                      f"{E4}/2026-07-03 Site Inspection.pdf": minimal_pdf(["Inspection"])})
    assert "eligibility.documentation_too_short" not in codes(triage(root, tmp_path))
    only_dated(root, {f"{E4}/Site Inspection.pdf": minimal_pdf(["Inspection of the yard"])})
    report = triage(root, tmp_path)
    assert report.summary["documentation"]["dated"] == 0
    assert "eligibility.documentation_too_short" not in codes(report)


def test_documents_outside_the_evaluation_period_are_noted(tmp_path):
    root = submission(tmp_path)  # the tool's evaluation ends 2026-09-19
    (root / E4 / "2026-10-05 Site Inspection.pdf").write_bytes(minimal_pdf(["Inspection"]))
    (root / E4 / "2025-06-30 Site Inspection.pdf").write_bytes(minimal_pdf(["Inspection"]))
    report = triage(root, tmp_path)
    found = [f for f in report.findings if f.code == "timing.outside_evaluation_period"]
    assert [(f.path, f.severity) for f in found] == [(f"{E4}/2025-06-30 Site Inspection.pdf", "info"),
                                                      (f"{E4}/2026-10-05 Site Inspection.pdf", "info")]
    assert "after the evaluation ended (September 19, 2026)" in found[1].message
    assert report.verdict == "accepted"  # info only


def test_many_documents_outside_the_period_make_one_finding(tmp_path):
    root = submission(tmp_path)
    for day in range(1, 13):
        (root / E4 / f"2024-01-{day:02d} Inspection.pdf").write_bytes(minimal_pdf(["Inspection"]))
    found = [f for f in triage(root, tmp_path).findings if f.code == "timing.outside_evaluation_period"]
    assert len(found) == 1 and found[0].message.startswith("12 documents are dated outside")


@pytest.mark.parametrize("submitted, days, late", [("2026-10-10", 21, False), ("2026-10-11", 21, True),
                                                   ("2026-10-30", 45, False)])
def test_late_submission(tmp_path, submitted, days, late):
    root = submission(tmp_path, tool=evaluation_tool_lines(end="2026-09-19", submitted=submitted))
    report = triage(root, tmp_path, late_submission_days=days)
    found = [f for f in report.findings if f.code == "timing.late_submission"]
    assert bool(found) == late
    if late:
        assert found[0].severity == WARN and "22 days after the evaluation ended" in found[0].message
        assert found[0].path == "SECOR Evaluation Tool 2026.pdf"


def test_wcb_account_missing(tmp_path):
    lines = [line for line in evaluation_tool_lines() if not line.startswith("WCB")]
    report = triage(submission(tmp_path, tool=lines), tmp_path)
    [f] = [f for f in report.findings if f.code == "tool.wcb_account_missing"]
    assert f.severity == WARN and f.path == "SECOR Evaluation Tool 2026.pdf"
    assert report.summary["tool"]["wcb_account"] is None and report.verdict == "needs_review"


def test_no_tool_no_tool_findings(tmp_path):
    root = submission(tmp_path)
    (root / "SECOR Evaluation Tool 2026.pdf").unlink()
    assert not {"tool.wcb_account_missing", "timing.late_submission"} & set(codes(triage(root, tmp_path)))


def test_report_text_gives_the_facts_and_the_documentation_span(tmp_path):
    text = render_text(triage(submission(tmp_path), tmp_path))
    assert "  WCB account: 1234567" in text and "  Purpose: certification" in text
    assert "Documentation dated 2026-02-03 to 2026-07-31 (5.8 months; 24 of 24 documents dated)" in text
