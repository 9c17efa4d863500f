"""The wheel that `pip install .` builds carries every module and data file the code loads, silently."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import intake
from tests.pipeline_helpers import ROOT


def test_the_wheel_holds_every_module_template_migration_and_vocabulary_and_builds_silently(tmp_path: Path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v",
                            "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, text=True, timeout=300)
    # setuptools warns (BuildBackendWarning, SetuptoolsDeprecationWarning...) about a data folder left
    # out of the packages, a deprecated setting...: none of them.
    assert re.findall(r".*\w+Warning\b.*", build.stdout + build.stderr) == []
    [wheel] = tmp_path.glob(f"secor_intake-{intake.__version__}-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for package in ("intake", "triage", "fetchers")
                for p in (ROOT / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    expected |= {"secor_config/" + p.relative_to(ROOT / "config").as_posix()
                 for p in (ROOT / "config").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert expected - names == set()
    assert {"intake/migrations/env.py", "intake/web/static/app.css", "secor_config/vocabularies/alberta-8.toml"} <= names


def test_the_version_is_written_once_and_shown_by_the_command():
    shown = subprocess.run([sys.executable, "-m", "intake", "--version"], capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
    assert shown.stdout.strip() == f"secor-intake {intake.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", intake.__version__)
    assert not re.search(r"^version\s*=\s*\"", (ROOT / "pyproject.toml").read_text(), re.MULTILINE)  # read from intake
