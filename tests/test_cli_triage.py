"""`secor-intake triage` as a subprocess: the contract's JSON shape, text output and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake.samples import build_sample_zip, minimal_pdf, write_sample_submission


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed entry point (the one next to this Python) with a clean environment."""
    script = Path(sys.executable).parent / "secor-intake"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "intake"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_clean_zip_json_is_the_contract_shape_and_exits_0(tmp_path):
    zip_path = build_sample_zip(tmp_path / "Acme SECOR 2026.zip")
    done = cli("triage", str(zip_path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tracking_number"] is None
    assert report["verdict"] == "accepted"
    assert report["source"] == {"kind": "zip", "name": "Acme SECOR 2026.zip", "url": None}
    summary = report["summary"]
    assert summary["files"] == 25 and summary["bytes"] > 0
    assert summary["evaluation_tool"] == "Acme Roofing SECOR 2026/SECOR Evaluation Tool 2026.pdf"
    assert set(summary["elements"]) == {str(n) for n in range(1, 9)}
    assert summary["elements"]["1"] == "Element 1 - Management Leadership and Organizational Commitment"
    assert summary["employees_stated"] == 7
    assert report["findings"] == []
    assert len(report["documents"]) == 25
    assert set(report["documents"][0]) == {"path", "size", "sha256", "mime", "element", "date", "dated_by"}
    assert summary["tool"]["wcb_account"] == "1234567" and summary["tool"]["evaluation_end"] == "2026-09-19"
    assert (summary["documentation"]["earliest"], summary["documentation"]["months"]) == ("2026-02-03", 5.8)


def test_returned_folder_exits_1_with_findings_in_contract_shape(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None, employees=14)
    done = cli("triage", str(root), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "returned"
    assert report["source"] == {"kind": "folder", "name": "sub", "url": None}
    [f] = report["findings"]
    assert set(f) == {"code", "severity", "path", "message"}
    assert (f["code"], f["severity"], f["path"]) == (
        "eligibility.too_many_employees", "reject", "SECOR Evaluation Tool 2026.pdf")


def test_text_output_and_needs_review_exit_0(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / "Cover letter.pdf").write_bytes(minimal_pdf(["Cover letter"]))
    done = cli("triage", str(root), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Verdict: needs_review"
    assert "[structure.unfiled_document] Cover letter.pdf" in done.stdout


def test_severity_override_from_the_config_file(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None, employees=14)
    config = tmp_path / "secor-intake.toml"
    config.write_text('[triage]\nseverities = {"eligibility.too_many_employees" = "warn"}\n', encoding="utf-8")
    done = cli("--config", str(config), "triage", str(root), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "needs_review"


def test_missing_path_exits_2_with_one_line(tmp_path):
    done = cli("triage", str(tmp_path / "nothing.zip"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "nothing.zip" in done.stderr


def test_unknown_vocabulary_exits_2(tmp_path):
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    config = tmp_path / "secor-intake.toml"
    config.write_text('[triage]\nvocabulary = "nope"\n', encoding="utf-8")
    done = cli("--config", str(config), "triage", str(root), cwd=tmp_path)
    assert done.returncode == 2
    assert "triage.vocabulary" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("as_json", [False, True])
def test_output_piped_into_head_ends_quietly(tmp_path, as_json):
    # Enough findings to fill the pipe's buffer, so writing goes on after `head` has gone.
    root = tmp_path / "sub"
    root.mkdir()
    for n in range(1500):
        (root / f"Cover letter {n}.txt").write_text("x\n", encoding="utf-8")
    script = Path(sys.executable).parent / "secor-intake"
    command = [str(script), "triage", str(root)] + (["--json"] if as_json else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    writer = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-n", "1"], stdin=writer.stdout, capture_output=True, timeout=120)
    writer.stdout.close()
    stderr = writer.stderr.read().decode()
    writer.wait(timeout=120)
    assert head.stdout.decode().startswith("{" if as_json else "Verdict: ")
    assert stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    # 141 as a program that SIGPIPE ended; the text report is one write, which the kernel may
    # finish into the pipe before `head` leaves, and then ends as usual (returned: 1)
    assert writer.returncode == 141 if as_json else writer.returncode in (1, 141)
