"""The triage rules on real folders: each code fires where it should, with its path and severity,
and stays silent on a clean submission."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from intake.registers.checks import REGISTER_CODES
from intake.samples import evaluation_tool_lines, minimal_docx, minimal_pdf, write_sample_submission
from triage.elements import load_vocabulary
from triage.engine import triage_path
from triage.evaluation_tool import MAX_CONTENT_CANDIDATES, read_employees
from triage.findings import known_codes
from triage.report import Report
from triage.rules import RULES
from triage.settings import ArchiveLimits, RuleSettings
from triage.submission import Submission, scan_tree

TOOL = "SECOR Evaluation Tool 2026.pdf"
E1 = "Element 1 - Management Leadership and Organizational Commitment"
E2 = "Element 2 - Hazard Identification and Assessment"
E3 = "Element 3 - Hazard Control"
E4 = "Element 4 - Ongoing Inspections"
E8 = "Element 8 - Program Administration"


@pytest.fixture
def sub(tmp_path: Path) -> Path:
    """A clean submission folder without a wrapper: the tool and eight element folders of 3 documents."""
    return write_sample_submission(tmp_path / "sub", wrapper=None)


def triage(root: Path, **settings) -> Report:
    """Triage a folder with default limits and the given rule settings."""
    work = Path(tempfile.mkdtemp(prefix="work-", dir=root.parent))
    return triage_path(root, ArchiveLimits(), RuleSettings(**settings), work)


def found(report: Report, code: str) -> list:
    return [f for f in report.findings if f.code == code]


def pdf(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(minimal_pdf(list(lines) or ["A document"]))
    return path


def test_clean_submission_is_accepted_without_findings(sub):
    report = triage(sub)
    assert report.verdict == "accepted"
    assert report.findings == []
    assert report.summary["evaluation_tool"] == TOOL
    assert report.summary["employees_stated"] == 7
    assert report.summary["elements"]["1"] == E1
    assert all(report.summary["elements"][str(n)] for n in range(1, 9))


def test_clean_submission_with_wrapper_is_accepted(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper="Acme SECOR 2026")
    report = triage(tmp_path / "sub")
    assert report.verdict == "accepted", report.findings
    assert report.summary["wrapper"] == root.name
    assert report.summary["evaluation_tool"] == f"{root.name}/{TOOL}"


def test_every_contract_code_of_the_rules_is_covered_by_a_rule():
    emitted = {code for rule in RULES for code in rule.codes}
    wanted = {c for c in known_codes() if c.split(".")[0] in ("structure", "label", "format", "volume", "eligibility")}
    wanted.discard("format.malware")  # the daemon's virus scan (intake/scan.py: clamd, network), not a pure rule
    wanted -= set(REGISTER_CODES)  # the association's registers, looked up by the daemon (intake/registers)
    assert wanted <= emitted
    assert emitted <= set(known_codes())
    assert all(rule.name and rule.description for rule in RULES)


# -- evaluation tool -----------------------------------------------------------------------------


def test_no_evaluation_tool_rejects(sub):
    (sub / TOOL).unlink()
    report = triage(sub)
    [f] = found(report, "structure.no_evaluation_tool")
    assert (f.severity, f.path) == ("reject", None)
    assert report.verdict == "returned"
    assert report.summary["evaluation_tool"] is None
    assert report.summary["employees_stated"] is None


def test_evaluation_tool_in_pieces_warns(sub):
    (sub / TOOL).unlink()
    pdf(sub / "Eval Part 1.pdf", *evaluation_tool_lines())
    pdf(sub / "Eval Part 2.pdf", "Element scores")
    report = triage(sub)
    [f] = found(report, "structure.evaluation_tool_split")
    assert (f.severity, f.path) == ("warn", "Eval Part 1.pdf")
    assert "Eval Part 2.pdf" in f.message
    assert report.summary["evaluation_tool_parts"] == ["Eval Part 1.pdf", "Eval Part 2.pdf"]
    assert not found(report, "structure.unfiled_document")
    assert report.summary["employees_stated"] == 7


def test_a_single_piece_by_name_is_split(sub):
    (sub / TOOL).rename(sub / "SECOR Evaluation part 1.pdf")
    [f] = found(triage(sub), "structure.evaluation_tool_split")
    assert f.path == "SECOR Evaluation part 1.pdf"


def test_two_candidates_are_split(sub):
    shutil.copy(sub / TOOL, sub / "Self-Evaluation.pdf")
    [f] = found(triage(sub), "structure.evaluation_tool_split")
    assert f.path == "SECOR Evaluation Tool 2026.pdf" and "2 pieces or copies" in f.message


def test_tool_folder_with_one_document_is_found_and_not_unknown(sub):
    (sub / "SECOR Evaluation").mkdir()
    (sub / TOOL).rename(sub / "SECOR Evaluation" / TOOL)
    report = triage(sub)
    assert report.verdict == "accepted", report.findings
    assert report.summary["evaluation_tool"] == f"SECOR Evaluation/{TOOL}"


def test_tool_buried_in_an_element_folder_warns(sub):
    (sub / TOOL).rename(sub / E8 / TOOL)
    report = triage(sub)
    [f] = found(report, "structure.evaluation_tool_buried")
    assert (f.severity, f.path) == ("warn", f"{E8}/{TOOL}")
    assert not found(report, "structure.no_evaluation_tool")
    assert report.verdict == "needs_review"
    assert report.summary["employees_stated"] == 7


def test_past_evaluation_in_an_element_folder_is_ignored_when_the_tool_is_at_the_top(sub):
    pdf(sub / E8 / "SECOR Audit 2023 (previous).pdf", "old")
    pdf(sub / E8 / "Evaluation of training 2026.pdf", "training")
    assert triage(sub).findings == []


def test_supporting_documents_named_like_evaluations_are_not_the_tool(sub):
    (sub / TOOL).unlink()
    pdf(sub / E8 / "SECOR training evaluation.pdf", "Course feedback")
    pdf(sub / E2 / "SECOR Hazard Assessment - Shop.pdf", "Hazards")
    pdf(sub / E3 / "Maintenance Audit 2025.pdf", "Forklift")
    pdf(sub / E8 / "Evaluation of orientation.pdf", "Feedback")
    report = triage(sub)
    assert [f.code for f in report.findings] == ["structure.no_evaluation_tool"]


def test_tool_found_by_content_when_its_name_says_nothing(sub):
    (sub / TOOL).rename(sub / "Document1.pdf")
    report = triage(sub)
    assert report.summary["evaluation_tool"] == "Document1.pdf"
    assert report.summary["evaluation_tool_found_by"] == "content"
    assert not found(report, "structure.no_evaluation_tool")
    assert not found(report, "structure.unfiled_document")
    [f] = found(report, "label.unclear_name")
    assert f.path == "Document1.pdf"


def test_tool_found_by_content_in_a_word_document(sub):
    (sub / TOOL).unlink()
    (sub / "scan0001.docx").write_bytes(minimal_docx(evaluation_tool_lines(employees=4)))
    report = triage(sub)
    assert report.summary["evaluation_tool"] == "scan0001.docx"
    assert report.summary["employees_stated"] == 4


def test_content_reading_is_bounded(sub):
    (sub / TOOL).unlink()
    for i in range(MAX_CONTENT_CANDIDATES + 15):
        pdf(sub / E4 / f"scan{i:04d}.pdf", "Monthly inspection")
    submission = Submission(scan_tree(sub), load_vocabulary("alberta-8"))
    assert not submission.evaluation_tool.found
    assert submission.texts_read == MAX_CONTENT_CANDIDATES


# -- employees -----------------------------------------------------------------------------------


def test_too_many_employees_rejects(sub):
    pdf(sub / TOOL, *evaluation_tool_lines(employees=12))
    report = triage(sub)
    [f] = found(report, "eligibility.too_many_employees")
    assert (f.severity, f.path) == ("reject", TOOL)
    assert "12 employees" in f.message
    assert report.summary["employees_stated"] == 12


def test_the_maximum_of_employees_is_configurable(sub):
    pdf(sub / TOOL, *evaluation_tool_lines(employees=12))
    assert triage(sub, max_employees=15).verdict == "accepted"


def test_employees_not_readable_is_noted(sub):
    lines = [line for line in evaluation_tool_lines() if "employees" not in line.lower()]
    pdf(sub / TOOL, *lines)
    report = triage(sub)
    [f] = found(report, "eligibility.employees_not_stated")
    assert (f.severity, f.path) == ("info", TOOL)
    assert report.verdict == "accepted"
    assert report.summary["employees_stated"] is None


@pytest.mark.parametrize("text, number", [
    ("Number of employees: 12", 12),
    ("# of workers 12", 12),
    ("Employees (total) 12", 12),
    ("No. of Employees\n  9", 9),
    ("Total number of workers = 3", 3),
    ("Number of employees (including owners, family and part-time): 6", 6),
    ("Number of employees in the past 12 months: 8", 8),
    ("Employer legal name: Acme\nEmployees: 1,200", 1200),
    ("SECOR is for employers with no more than 10 employees", None),
    ("no statement here", None),
])
def test_read_employees(text, number):
    assert read_employees(text) == number


# -- elements and folders ------------------------------------------------------------------------


def test_missing_element_warns(sub):
    shutil.rmtree(sub / E3)
    report = triage(sub)
    [f] = found(report, "structure.missing_element")
    assert (f.severity, f.path) == ("warn", None)
    assert "Element 3 (Hazard Control)" in f.message
    assert report.summary["elements"]["3"] is None


def test_empty_element_warns(sub):
    shutil.rmtree(sub / E4)
    (sub / E4).mkdir()
    [f] = found(triage(sub), "structure.empty_element")
    assert (f.severity, f.path) == ("warn", E4)


def test_unknown_folder_warns(sub):
    pdf(sub / "Photos" / "Fire extinguisher.pdf")
    report = triage(sub)
    [f] = found(report, "structure.unknown_folder")
    assert (f.severity, f.path) == ("warn", "Photos")
    assert report.summary["unknown_folders"] == ["Photos"]


def test_unfiled_document_warns(sub):
    pdf(sub / "Cover letter.pdf")
    [f] = found(triage(sub), "structure.unfiled_document")
    assert (f.severity, f.path) == ("warn", "Cover letter.pdf")


def test_two_folders_for_one_element_both_count(sub):
    pdf(sub / "Inspections" / "Vehicle inspection 2026-08.pdf")
    report = triage(sub)
    [f] = found(report, "structure.duplicate_element")
    assert (f.severity, f.path) == ("info", "Inspections")
    detail = report.summary["element_details"]["4"]
    assert [r["path"] for r in detail["folders"]] == [E4, "Inspections"]
    assert [r["how"] for r in detail["folders"]] == ["number and name", "name"]
    assert detail["files"] == 4
    assert report.verdict == "accepted"
    assert {d.element for d in report.documents if d.path.startswith("Inspections/")} == {"4"}


def test_number_and_name_in_conflict_takes_the_number(sub):
    (sub / E2).rename(sub / "Element 2 - Hazard Control")
    report = triage(sub)
    [f] = found(report, "structure.element_name_conflict")
    assert (f.severity, f.path) == ("info", "Element 2 - Hazard Control")
    assert report.summary["elements"]["2"] == "Element 2 - Hazard Control"
    assert report.summary["elements"]["3"] == E3


def test_one_subfolder_level_is_tolerated_deeper_warns(sub):
    pdf(sub / E1 / "2026" / "Safety meeting 2026-02.pdf")
    report = triage(sub)
    assert report.findings == []
    assert next(d for d in report.documents if d.path.endswith("Safety meeting 2026-02.pdf")).element == "1"
    pdf(sub / E1 / "2026" / "Q1" / "March" / "Safety meeting 2026-03.pdf")
    [f] = found(triage(sub), "structure.deep_folder")
    assert (f.severity, f.path) == ("warn", f"{E1}/2026/Q1")


# -- labels, formats, volume ---------------------------------------------------------------------


def test_unclear_file_and_folder_names_warn(sub):
    pdf(sub / E1 / "scan0001.pdf")
    pdf(sub / E2 / "New folder" / "Hazard assessment 2026-04.pdf")
    report = triage(sub)
    paths = sorted((f.path, f.severity) for f in found(report, "label.unclear_name"))
    assert paths == [(f"{E1}/scan0001.pdf", "warn"), (f"{E2}/New folder", "warn")]


def test_many_unclear_names_in_one_folder_make_one_finding(sub):
    for i in range(12):
        pdf(sub / E4 / f"IMG_{2200 + i}.pdf")
    [f] = found(triage(sub), "label.unclear_name")
    assert f.path == E4 and f.message.startswith("12 documents")


@pytest.mark.parametrize("name, data, code, severity", [
    ("Inspection fax 2026-03.tif", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 200, "format.paper_era", "reject"),
    ("Policy with macros.docm", minimal_docx(["Policy"], macros=True), "format.unsafe", "reject"),
    ("Meeting notes.txt", b"#!/bin/sh\necho hello\n", "format.unsafe", "reject"),
    ("Orientation checklist.docx", minimal_pdf(["Orientation"]), "format.mismatch", "warn"),
    ("Inspection 2026-05.pdf", b"", "format.empty", "warn"),
    ("Old records.rar", b"Rar!\x1a\x07\x00" + b"\x00" * 100, "archive.not_zip", "reject"),
])
def test_format_findings(sub, name, data, code, severity):
    (sub / E4 / name).write_bytes(data)
    report = triage(sub)
    [f] = found(report, code)
    assert (f.severity, f.path) == (severity, f"{E4}/{name}")
    assert [x.code for x in report.findings] == [code]


def test_paper_era_message_says_to_convert_to_pdf(sub):
    (sub / E4 / "Inspection fax.tif").write_bytes(b"II*\x00\x08\x00\x00\x00" + b"\x00" * 200)
    [f] = found(triage(sub), "format.paper_era")
    assert "PDF" in f.message and "'Inspection fax.tif'" in f.message


def test_over_submission_warns_per_folder(sub):
    for i in range(3):
        pdf(sub / E4 / "Monthly" / f"Monthly inspection 2026-{i + 1:02d}.pdf")
    report = triage(sub, max_documents_per_folder=2)
    paths = [f.path for f in found(report, "volume.over_submission")]
    assert len(paths) == 9  # eight element folders of 3 documents, and the subfolder
    assert f"{E4}/Monthly" in paths
    assert all(f.severity == "warn" for f in found(report, "volume.over_submission"))
    assert not found(triage(sub), "volume.over_submission")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_links_in_a_folder_are_not_followed(sub, tmp_path):
    secret = pdf(tmp_path / "outside.pdf", "not part of the submission")
    os.symlink(secret, sub / E1 / "Linked policy.pdf")
    report = triage(sub)
    [f] = found(report, "archive.unsafe_path")
    assert (f.severity, f.path) == ("reject", f"{E1}/Linked policy.pdf")
    assert all("Linked policy" not in d.path for d in report.documents)


def test_os_junk_is_ignored(sub):
    (sub / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (sub / E1 / "Thumbs.db").write_bytes(b"junk")
    pdf(sub / "__MACOSX" / E1 / "._Policy.pdf")
    report = triage(sub)
    assert report.findings == []
    assert report.summary["files"] == 25


# -- severities ----------------------------------------------------------------------------------


def test_severity_overrides_change_the_verdict(sub):
    (sub / TOOL).unlink()
    assert triage(sub).verdict == "returned"
    assert triage(sub, severities={"structure.no_evaluation_tool": "warn"}).verdict == "needs_review"
    pdf(sub / TOOL, *evaluation_tool_lines())
    pdf(sub / E1 / "scan0001.pdf")
    assert triage(sub).verdict == "needs_review"
    report = triage(sub, severities={"label.unclear_name": "info"})
    assert report.verdict == "accepted"
    assert [(f.code, f.severity) for f in report.findings] == [("label.unclear_name", "info")]
