"""The wheel that `pip install .` builds carries every module and data file the code loads."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.pipeline_helpers import ROOT


def test_the_wheel_holds_every_module_template_migration_and_vocabulary(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("secor_intake-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for package in ("intake", "triage", "fetchers")
                for p in (ROOT / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    expected |= {"secor_config/" + p.relative_to(ROOT / "config").as_posix()
                 for p in (ROOT / "config").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert expected - names == set()
