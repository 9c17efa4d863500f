"""The README's main-job command on the embedded defaults, with no configuration at all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.pipeline_helpers import ROOT


def run(cwd: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "intake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_demo_seeds_polls_and_shows_outcomes(tmp_path: Path):
    result = run(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "-> SECOR-" in result.stdout and "accepted" in result.stdout and "returned" in result.stdout
    assert "ignored (auto-submitted" in result.stdout
    assert re.search(r"sign in as demo with the password [0-9a-f]{6}-[0-9a-f]{6}-[0-9a-f]{6}\b", result.stdout)
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 3  # never to the auto-reply
    listing = json.loads(run(tmp_path, "submissions", "--json").stdout)
    assert sorted(item["verdict"] for item in listing) == ["accepted", "returned", "returned"]
    for item in listing:
        assert (tmp_path / "var" / "submissions" / item["tracking_number"] / "1" / "report.txt").is_file()
    shown = run(tmp_path, "show", listing[-1]["tracking_number"])
    assert shown.returncode == 0 and shown.stdout.startswith(listing[-1]["tracking_number"])
    assert run(tmp_path, "health").returncode == 0
    again = run(tmp_path, "demo")  # people run it twice: the cases are not copied, the password stays
    assert again.returncode == 0 and "nothing seeded again" in again.stdout and "user passwd demo" in again.stdout
    assert "with the password" not in again.stdout
    assert len(json.loads(run(tmp_path, "submissions", "--json").stdout)) == 3


def test_demo_ignores_a_configuration_file_nobody_mounted_which_run_refuses_in_one_line(tmp_path: Path):
    # The image sets SECOR_INTAKE_CONFIG to where a real set-up mounts its file.
    missing = str(tmp_path / "etc" / "secor-intake.toml")
    demo = run(tmp_path, "demo", SECOR_INTAKE_CONFIG=missing)
    assert demo.returncode == 0, demo.stderr
    assert "One cycle: 4 emails taken" in demo.stdout
    refused = run(tmp_path, "run", SECOR_INTAKE_CONFIG=missing)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [f"secor-intake: configuration: SECOR_INTAKE_CONFIG: no such file {missing}"]
