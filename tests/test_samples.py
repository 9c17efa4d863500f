"""Sample submissions: the shape the rules expect, real readable files, byte-identical on every run."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from intake.samples import (
    ALBERTA_8,
    build_sample_zip,
    evaluation_tool_lines,
    minimal_docx,
    minimal_xlsx,
    write_sample_submission,
)
from triage.formats import extension_mismatch, sniff, sniff_file
from triage.text import extract_text

ELEMENT_FOLDERS = [f"Element {n} - {name}" for n, name in enumerate(ALBERTA_8, start=1)]


def test_alberta_elements_are_the_eight_named() -> None:
    assert ELEMENT_FOLDERS[0] == "Element 1 - Management Leadership and Organizational Commitment"
    assert ELEMENT_FOLDERS[4] == "Element 5 - Qualifications, Orientation and Training"
    assert ELEMENT_FOLDERS[7] == "Element 8 - Program Administration"
    assert len(ELEMENT_FOLDERS) == 8


def test_sample_submission_layout(tmp_path: Path) -> None:
    root = write_sample_submission(tmp_path)
    assert root == tmp_path / "Acme Roofing SECOR 2026"
    top = sorted(p.name for p in root.iterdir())
    assert top == sorted(["SECOR Evaluation Tool 2026.pdf", *ELEMENT_FOLDERS])
    for folder in ELEMENT_FOLDERS:
        assert len(list((root / folder).iterdir())) == 3
    assert (root / ELEMENT_FOLDERS[0] / "Health and Safety Policy 2026.pdf").is_file()
    assert (root / ELEMENT_FOLDERS[1] / "Hazard Assessment - Roof Replacement - 2026-03-14.pdf").is_file()
    assert (root / ELEMENT_FOLDERS[3] / "Monthly Inspection - 2026-05.docx").is_file()


def test_every_sample_file_is_a_small_readable_document_whose_name_fits(tmp_path: Path) -> None:
    root = write_sample_submission(tmp_path, docs_per_element=4)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) == 1 + 8 * 4
    for path in files:
        ftype = sniff(path)
        assert ftype.family in ("pdf", "word"), (path, ftype)
        assert extension_mismatch(path.name, ftype) is None
        assert 300 < path.stat().st_size < 8_000
        with path.open("rb") as fh:
            text = extract_text(fh, ftype)
        assert "Acme Roofing Ltd." in text, path


def test_evaluation_tool_carries_the_header_facts(tmp_path: Path) -> None:
    root = write_sample_submission(tmp_path, employer="Prairie Plumbing Inc.", employees=14, wrapper=None)
    assert root == tmp_path
    tool = root / "SECOR Evaluation Tool 2026.pdf"
    with tool.open("rb") as fh:
        text = extract_text(fh, sniff(tool))
    for expected in ("SECOR Evaluation Tool", "Employer legal name (as registered with WCB): Prairie Plumbing Inc.",
                     "Trade name: Prairie Plumbing", "WCB account number: 1234567", "Industry code: 42100",
                     "Number of employees: 14", "Purpose of evaluation: Certification",
                     "Evaluation start date: 2026-09-08", "Evaluation end date: 2026-09-19",
                     "Submission date: 2026-10-02", "Assessor name: Jordan Lee",
                     "Assessor training date (Principles of Health and Safety Management): 2025-04-10"):
        assert expected in text


def test_evaluation_tool_lines_take_every_fact() -> None:
    lines = evaluation_tool_lines("Bow River Electric Ltd.", 3, "Maintenance", trade_name="BRE", wcb_account="7654321",
                                  assessor="Sam Chen")
    assert lines[0] == "SECOR Evaluation Tool"
    assert "Trade name: BRE" in lines and "WCB account number: 7654321" in lines
    assert "Number of employees: 3" in lines and "Purpose of evaluation: Maintenance" in lines
    assert "Assessor name: Sam Chen" in lines


def test_many_documents_per_element_get_distinct_names(tmp_path: Path) -> None:
    root = write_sample_submission(tmp_path, docs_per_element=30)
    names = [p.name for p in (root / ELEMENT_FOLDERS[3]).iterdir()]
    assert len(names) == 30 == len(set(names))


def test_unknown_vocabulary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="construction-13"):
        write_sample_submission(tmp_path, vocabulary="construction-13")


def test_sample_zip_is_deflated_wrapped_and_deterministic(tmp_path: Path) -> None:
    first = build_sample_zip(tmp_path / "one" / "Acme SECOR 2026.zip")
    second = build_sample_zip(tmp_path / "two" / "Acme SECOR 2026.zip")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as zf:
        infos = zf.infolist()
        assert zf.testzip() is None
    assert len(infos) == 1 + 8 * 3
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    assert all(i.filename.startswith("Acme Roofing SECOR 2026/") for i in infos)
    assert "Acme Roofing SECOR 2026/SECOR Evaluation Tool 2026.pdf" in {i.filename for i in infos}
    assert sniff(first).family == "archive"


def test_sample_zip_passes_options_through(tmp_path: Path) -> None:
    path = build_sample_zip(tmp_path / "s.zip", wrapper=None, employees=11, docs_per_element=1)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        tool = zf.read("SECOR Evaluation Tool 2026.pdf")
    assert len(names) == 1 + 8
    assert "Number of employees: 11" in extract_text(io.BytesIO(tool), sniff_file(io.BytesIO(tool), "tool.pdf", len(tool)))


def test_builders_are_deterministic() -> None:
    assert minimal_docx(["a", "b"]) == minimal_docx(["a", "b"])
    assert minimal_xlsx([["a", "1"]]) == minimal_xlsx([["a", "1"]])
    with zipfile.ZipFile(io.BytesIO(minimal_docx(["a"], macros=True))) as zf:
        assert "word/vbaProject.bin" in zf.namelist()
        assert b"macroEnabled" in zf.read("[Content_Types].xml")
