"""Each command loads only what it uses: a module a command never calls still costs every run of it
its import (see README, Performance). Each test runs the command in a fresh interpreter and lists
which of the modules it must not need were loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from intake.samples import evaluation_tool_lines, minimal_pdf

# What the daemon's cycle, the workbench and the share links need, and no short command does.
CYCLE_ONLY = ("intake.pipeline", "intake.sending", "intake.cases.outbox", "jinja2", "mailparser", "requests", "imapclient",
              "apscheduler", "starlette", "triage.engine", "pypdf", "magic")


def loaded(tmp_path: Path, args: list[str], unused: tuple[str, ...]) -> tuple[int, list[str]]:
    """Run `secor-intake ARGS` in a fresh interpreter in `tmp_path`: its exit status, and which of
    `unused` it loaded."""
    code = ("import json, sys; from intake.entry import main; status = main(sys.argv[1:]); "
            f"print(json.dumps([status, [m for m in {unused!r} if m in sys.modules]]), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    status, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return status, modules


def test_triage_loads_no_database_web_mail_or_libmagic(tmp_path):
    """A zip whose files are told by their signatures needs neither libmagic nor the database, and
    without `[scan] clamd` no scanner client."""
    zip_path = tmp_path / "one.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("SECOR Evaluation Tool 2026.pdf", minimal_pdf(evaluation_tool_lines(employer="Acme")))
    unused = ("magic", "sqlalchemy", "jinja2", "starlette", "imapclient", "apscheduler", "fetchers.net",
              "intake.scan", "intake.registers.csvfile", "csv", "getpass")
    assert loaded(tmp_path, ["triage", str(zip_path)], unused) == (0, [])


def test_health_loads_no_database_code(tmp_path):
    """`health` (a monitor's check, Docker's HEALTHCHECK) reads the health file only."""
    status, found = loaded(tmp_path, ["health"], ("sqlalchemy", "alembic", *CYCLE_ONLY))
    assert status == 1  # no successful poll recorded yet
    assert found == []


def test_listing_cases_loads_no_cycle_code_nor_alembic_once_migrated(tmp_path):
    """`submissions` reads the database: no mail, triage, templates or providers; and Alembic only
    when the schema is behind (it is checked against the newest revision first)."""
    assert loaded(tmp_path, ["db", "upgrade"], ())[0] == 0
    assert loaded(tmp_path, ["submissions"], ("alembic", *CYCLE_ONLY)) == (0, [])


def test_a_database_behind_the_newest_revision_is_still_migrated_on_start(tmp_path):
    """The shortcut reads the revision; a fresh database (no revision yet) is migrated as before."""
    status, found = loaded(tmp_path, ["submissions"], ("alembic",))
    assert status == 0 and found == ["alembic"]
    assert loaded(tmp_path, ["submissions"], ("alembic",)) == (0, [])


def test_the_workbench_loads_no_download_stack_nor_sending_job(tmp_path):
    """The workbench queues QA's decisions but never fetches a link nor sends: the outbox is handed
    the share-link services phrase by the daemon, so the web process loads neither."""
    assert loaded(tmp_path, ["db", "upgrade"], ())[0] == 0
    code = ("import json, sys; from intake.commands import with_services; from intake.config import load_config; "
            "from intake.web.app import create_app; config = load_config(); "
            "with_services(config, lambda services: create_app(config, services)); "
            "print(json.dumps([m for m in sys.modules if m.startswith(('fetchers.providers', 'fetchers.net', "
            "'requests', 'intake.sending', 'intake.pipeline'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_command_line_loads_with_the_collector_paused_and_leaves_it_running(tmp_path):
    """`intake.entry` pauses the cyclic collector only while the command line loads (issue 26)."""
    probe = ("import builtins, gc, intake.entry\n"
             "seen = []\n"
             "real = builtins.__import__\n"
             "def spy(name, *a, **k):\n"
             "    if name == 'intake.cli': seen.append(gc.isenabled())\n"
             "    return real(name, *a, **k)\n"
             "builtins.__import__ = spy\n"
             "status = intake.entry.main(['health'])\n"
             "print(seen, gc.isenabled(), gc.get_freeze_count() > 1000, status)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1].split() == ["[False]", "True", "True", "1"], done.stderr
