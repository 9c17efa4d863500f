"""The triage engine end to end on real zips and folders, and the text report."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from intake.samples import build_sample_zip, minimal_pdf, write_sample_submission
from tests import zipfactory as zf
from triage.elements import UnknownVocabulary
from triage.engine import triage_path
from triage.findings import SEVERITIES
from triage.render import render_text
from triage.report import Report, Source
from triage.settings import ArchiveLimits, RuleSettings

TOOL = "SECOR Evaluation Tool 2026.pdf"
E3 = "Element 3 - Hazard Control"


def run(path: Path, work: Path, limits: ArchiveLimits | None = None, keep_files: bool = False,
        **settings) -> Report:
    work.mkdir(parents=True, exist_ok=True)
    return triage_path(path, limits or ArchiveLimits(), RuleSettings(**settings), work, keep_files=keep_files)


def zip_folder(folder: Path, zip_path: Path) -> Path:
    """Zip a folder's files with their paths relative to it."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return zip_path


def snapshot(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def test_zip_and_folder_give_the_same_report(tmp_path):
    root = write_sample_submission(tmp_path / "folder")
    zip_path = build_sample_zip(tmp_path / "Acme SECOR 2026.zip")
    from_zip = run(zip_path, tmp_path / "w1")
    from_folder = run(tmp_path / "folder", tmp_path / "w2")
    extracted = run(zip_path, tmp_path / "w3", keep_files=True)
    assert from_zip.verdict == from_folder.verdict == extracted.verdict == "accepted"
    assert from_zip.source == Source(kind="zip", name="Acme SECOR 2026.zip")
    assert from_folder.source == Source(kind="folder", name="folder")
    assert from_zip.summary == from_folder.summary == extracted.summary
    assert ([d.to_dict() for d in from_zip.documents] == [d.to_dict() for d in from_folder.documents]
            == [d.to_dict() for d in extracted.documents])
    assert not (tmp_path / "w1" / "files").exists()  # read, not extracted
    kept = tmp_path / "w3" / "files"
    assert (kept / root.name / TOOL).read_bytes() == (root / TOOL).read_bytes()
    assert snapshot_names(kept) == snapshot_names(tmp_path / "folder")


def snapshot_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_tool_found_by_content_is_read_again_from_the_zip(tmp_path):
    """A tool with an unclear name is found by its text: read back from the zip, not from disk."""
    root = write_sample_submission(tmp_path / "folder", wrapper=None)
    (root / TOOL).rename(root / "scan0001.pdf")
    zip_path = zip_folder(root, tmp_path / "s.zip")
    from_zip = run(zip_path, tmp_path / "w1")
    extracted = run(zip_path, tmp_path / "w2", keep_files=True)
    assert from_zip.summary["evaluation_tool"] == "scan0001.pdf"
    assert from_zip.summary["evaluation_tool_found_by"] == "content"
    assert from_zip.summary == extracted.summary
    assert [f.to_dict() for f in from_zip.findings] == [f.to_dict() for f in extracted.findings]


def test_large_files_are_typed_and_hashed_from_a_spill(tmp_path, monkeypatch):
    """Files over the in-memory size are inspected from a file (a spill, or the extracted file)."""
    import triage.archive

    root = write_sample_submission(tmp_path / "folder", wrapper=None)
    zip_path = zip_folder(root, tmp_path / "s.zip")
    expected = run(zip_path, tmp_path / "w0")
    monkeypatch.setattr(triage.archive, "INSPECT_IN_MEMORY_BYTES", 1_000)
    assert max(d.size for d in expected.documents) > 1_000 > min(d.size for d in expected.documents)
    for work, keep in ((tmp_path / "w1", False), (tmp_path / "w2", True)):
        report = run(zip_path, work, keep_files=keep)
        assert [d.to_dict() for d in report.documents] == [d.to_dict() for d in expected.documents]
        assert report.summary == expected.summary
    assert [p.name for p in (tmp_path / "w1" / "scratch").iterdir()] == []  # spills are anonymous and gone
    for document in expected.documents:
        assert document.sha256 == hashlib.sha256((root / document.path).read_bytes()).hexdigest()


def test_documents_carry_size_hash_type_and_element(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    report = run(tmp_path / "sub", tmp_path / "work")
    assert len(report.documents) == report.summary["files"] == 25
    assert report.summary["bytes"] == sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    tool = next(d for d in report.documents if d.path == TOOL)
    assert tool.sha256 == hashlib.sha256((root / TOOL).read_bytes()).hexdigest()
    assert (tool.mime, tool.element, tool.size) == ("application/pdf", None, (root / TOOL).stat().st_size)
    in_e3 = [d for d in report.documents if d.path.startswith(E3 + "/")]
    assert len(in_e3) == 3 and {d.element for d in in_e3} == {"3"}
    assert report.summary["element_details"]["3"]["files"] == 3
    assert report.summary["vocabulary"] == "alberta-8"


def test_a_folder_is_triaged_read_only(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / "Cover letter.pdf").write_bytes(minimal_pdf(["Cover letter"]))
    before = snapshot(root)
    report = run(root, tmp_path / "work")
    assert report.verdict == "needs_review"
    assert snapshot(root) == before


def test_a_single_file_that_is_not_a_zip_is_not_zip(tmp_path):
    rar = tmp_path / "Acme SECOR.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 100)
    report = run(rar, tmp_path / "work")
    assert report.verdict == "returned"
    [f] = report.findings
    assert (f.code, f.severity, f.path) == ("archive.not_zip", "reject", "Acme SECOR.rar")
    assert "RAR archive" in f.message
    fake = tmp_path / "fake.zip"
    fake.write_bytes(minimal_pdf(["not a zip"]))
    assert [f.code for f in run(fake, tmp_path / "work2").findings] == ["archive.not_zip"]


def test_a_fatal_archive_gives_only_its_findings(tmp_path):
    zip_path = build_sample_zip(tmp_path / "s.zip")
    report = run(zip_path, tmp_path / "work", limits=ArchiveLimits(max_archive_bytes=1000))
    assert [f.code for f in report.findings] == ["archive.too_large"]
    assert report.verdict == "returned"
    assert report.summary["files"] == 0 and report.documents == []


def test_element_zips_inside_a_zip_are_expanded(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    zip_folder(root / E3, root / f"{E3}.zip")
    shutil.rmtree(root / E3)
    report = run(zip_folder(root, tmp_path / "outer.zip"), tmp_path / "work")
    assert report.verdict == "accepted", report.findings
    assert report.summary["element_details"]["3"]["files"] == 3


def test_a_zip_inside_a_folder_appears_under_its_name(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    zip_folder(root / E3, tmp_path / "e3.zip")
    shutil.rmtree(root / E3)
    shutil.move(tmp_path / "e3.zip", root / f"{E3}.zip")
    report = run(root, tmp_path / "work")
    assert report.verdict == "accepted", report.findings
    assert report.summary["elements"]["3"] == E3
    paths = [d.path for d in report.documents if d.element == "3"]
    assert len(paths) == 3 and all(p.startswith(f"{E3}/") for p in paths)
    assert not (root / E3).exists()  # extracted into the workdir, not next to the zip


def test_a_zip_inside_a_folder_counts_as_nesting(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    zip_folder(root / E3, tmp_path / "e3.zip")
    shutil.rmtree(root / E3)
    shutil.move(tmp_path / "e3.zip", root / f"{E3}.zip")
    report = run(root, tmp_path / "work", limits=ArchiveLimits(max_nesting=0))
    [f] = [f for f in report.findings if f.code == "archive.bomb"]
    assert (f.severity, f.path) == ("reject", f"{E3}.zip")


def test_findings_are_ordered_by_severity_then_path_then_code(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / TOOL).unlink()
    (root / "Element 2 - Hazard Identification and Assessment").rename(root / "Element 2 - Hazard Control")
    (root / "Photos").mkdir()
    (root / "Photos" / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    (root / "zz notes.pdf").write_bytes(minimal_pdf(["notes"]))
    report = run(root, tmp_path / "work")
    keys = [(SEVERITIES.index(f.severity), f.path or "", f.code) for f in report.findings]
    assert keys == sorted(keys)
    assert report.findings[0].code == "structure.no_evaluation_tool"
    assert {f.severity for f in report.findings} == {"reject", "warn", "info"}
    again = run(root, tmp_path / "work2")
    assert again.findings == report.findings


def test_other_vocabulary(tmp_path):
    write_sample_submission(tmp_path / "sub", wrapper=None)
    report = run(tmp_path / "sub", tmp_path / "work", vocabulary="audit-10")
    missing = [f.message for f in report.findings if f.code == "structure.missing_element"]
    assert len(missing) == 2 and "Element 9" in missing[0] and "Element 10" in missing[1]
    assert report.summary["vocabulary"] == "audit-10"
    assert report.summary["elements"]["10"] is None


def test_missing_path_and_unknown_vocabulary_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        run(tmp_path / "nothing.zip", tmp_path / "work")
    with pytest.raises(UnknownVocabulary):
        run(tmp_path, tmp_path / "work", vocabulary="nope")


def test_render_text_puts_the_verdict_first_then_findings_elements_tool_totals(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / "Photos").mkdir()
    (root / "Photos" / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    (root / "Element 2 - Hazard Identification and Assessment").rename(root / "Element 2 - Hazard Control")
    text = render_text(run(root, tmp_path / "work"))
    lines = text.splitlines()
    assert lines[0] == "Verdict: needs_review"
    assert text.index("Should look (warn)") < text.index("Noted (info)") < text.index("Elements (alberta-8)")
    assert "  [structure.unknown_folder] Photos" in lines
    assert "  [label.unclear_name] Photos/IMG_0001.jpg" in lines
    row = next(line for line in lines if line.strip().startswith("3 Hazard Control"))
    assert E3 in row and "number and name" in row and " 3 " in row
    assert f"Evaluation tool: {TOOL} (found by name)" in lines
    assert "Employees stated: 7" in lines
    assert lines[-1].startswith("Totals: 26 files")
    assert "unmatched folder: Photos" in text


def test_render_text_without_tool_or_findings(tmp_path):
    write_sample_submission(tmp_path / "sub", wrapper=None)
    clean = render_text(run(tmp_path / "sub", tmp_path / "w1"))
    assert clean.splitlines()[0] == "Verdict: accepted" and "No findings." in clean
    (tmp_path / "sub" / TOOL).unlink()
    text = render_text(run(tmp_path / "sub", tmp_path / "w2"))
    assert "Must fix (reject): 1" in text and "(whole submission)" in text
    assert "Evaluation tool: not found" in text and "Employees stated" not in text


def test_a_file_named_zip_that_is_not_one_is_reported_once(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / E3 / "Old records.zip").write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 100)
    from_folder = run(root, tmp_path / "w1")
    from_zip = run(zip_folder(root, tmp_path / "s.zip"), tmp_path / "w2")
    for report in (from_folder, from_zip):
        [f] = [f for f in report.findings if f.code == "archive.not_zip"]
        assert (f.severity, f.path) == ("reject", f"{E3}/Old records.zip")
        assert report.summary["element_details"]["3"]["files"] == 4
    assert [f.code for f in from_folder.findings] == ["archive.not_zip"]


def test_render_text_of_an_archive_that_could_not_be_opened(tmp_path):
    rar = tmp_path / "Acme.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 100)
    text = render_text(run(rar, tmp_path / "work"))
    assert text.splitlines()[0] == "Verdict: returned"
    assert "[archive.not_zip] Acme.rar" in text
    assert "Evaluation tool" not in text and "Elements" not in text
    assert text.endswith("Totals: 0 files, 0 B\n")


def test_a_truncated_zip_is_corrupt_not_another_format(tmp_path):
    whole = build_sample_zip(tmp_path / "whole.zip").read_bytes()
    truncated = tmp_path / "Acme SECOR.zip"
    truncated.write_bytes(whole[: len(whole) // 2])
    report = run(truncated, tmp_path / "work")
    assert [f.code for f in report.findings] == ["archive.corrupt"]
    assert report.verdict == "returned"


def test_legacy_encoded_accented_folders_match_their_elements(tmp_path):
    # A French Windows zip tool: CP437 names without the UTF-8 flag, accents and capitals
    entries = [zf.cp437_entry(f"ÉLÉMENT {n}/Registre {n}.pdf", minimal_pdf([f"registre {n}"])) for n in range(1, 9)]
    entries.append(zf.cp437_entry("Évaluation SECOR 2026.pdf", minimal_pdf(["SECOR evaluation", "Employees: 4"])))
    zip_path = tmp_path / "soumission.zip"
    zip_path.write_bytes(zf.build_zip(entries))
    report = run(zip_path, tmp_path / "work")
    assert report.summary["elements"] == {str(n): f"ÉLÉMENT {n}" for n in range(1, 9)}
    assert not [f for f in report.findings if f.code.startswith("structure.")]
