"""Retention (`secor-intake housekeeping [--dry-run]`): only decided cases, counted from the last decision."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from intake import users
from intake.clock import utcnow
from intake.db import AuditEntry, Case, Decision, User
from intake.mailbox.maildir import MaildirSource
from intake.service import open_services, poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import run_cli, tracking_numbers, write_config


@pytest.fixture
def cases(tmp_path: Path, db_url: str):
    """Four cases from a real poll: decided 8 years ago, decided 2 years ago, decided 8 years ago but
    resubmitted since, never decided (received 10 years ago)."""
    sections = {"mailbox": {"kind": "maildir", "path": str(tmp_path / "maildir")},
                "outbound": {"kind": "file", "path": str(tmp_path / "outbox")},
                "database": {"url": db_url}, "storage": {"path": str(tmp_path / "submissions")},
                "health": {"path": str(tmp_path / "health.json")},
                "retention": {"submissions_years": 7.0, "raw_email_years": 1.0}}
    config_file = write_config(tmp_path / "secor-intake.toml", sections)
    from intake.config import load_config

    config = load_config(config_file, env={})
    services = open_services(config)
    with MaildirSource(tmp_path / "maildir") as source:
        for n in range(4):
            source.append("INBOX", mailfactory.submission_with_zip(message_id=f"<case{n}@acme-roofing.ca>",
                                                                   subject=f"SECOR 2026 company {n}"))
    poll_cycle(services)
    numbers = tracking_numbers(services.sessions)
    now = utcnow()
    with services.sessions.begin() as session:
        users.add_user(session, "ana", "analyst", "correct horse battery staple")
        ana = session.scalar(select(User.id))
        for number, state, years in ((numbers[0], "accepted", 8), (numbers[1], "returned", 2),
                                     (numbers[2], "resubmitted", 8)):
            case = session.scalar(select(Case).where(Case.tracking_number == number))
            case.qa_state = state
            session.add(Decision(submission_id=case.id, version_id=case.versions[-1].id, sequence=1,
                                 idempotency_key=f"k-{number}", decision="accept" if state == "accepted" else "return",
                                 reasons={}, decided_by=ana, decided_at=now - timedelta(days=365 * years)))
        session.execute(update(Case).where(Case.tracking_number == numbers[3])
                        .values(received_at=now - timedelta(days=3650)))
    yield config_file, services, numbers
    services.close()


def test_dry_run_lists_and_deletes_nothing_then_the_real_run_deletes_only_decided_cases(cases):
    config_file, services, (old, recent, resubmitted, undecided) = cases
    root = services.storage.root
    before = {number: sorted(p for p in (root / number).rglob("*")) for number in (old, recent, resubmitted, undecided)}

    dry = run_cli(config_file, "housekeeping", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    listed = {item["tracking_number"]: item["deletes"] for item in json.loads(dry.stdout)["expired"]}
    assert listed == {old: "case files", recent: "raw emails"}
    assert {number: sorted(p for p in (root / number).rglob("*")) for number in before} == before  # nothing gone

    done = run_cli(config_file, "housekeeping")
    assert done.returncode == 0, done.stderr
    assert f"{old}: deleted case files" in done.stdout and f"{recent}: deleted raw emails" in done.stdout
    assert not (root / old).exists()
    assert not (root / recent / "1" / "message.eml").exists()  # the email as received is gone...
    assert (root / recent / "1" / "report.json").exists() and any((root / recent / "1" / "files").iterdir())  # ...not the files
    for number in (resubmitted, undecided):  # not decided (any more): untouched
        assert sorted(p for p in (root / number).rglob("*")) == before[number]
    with services.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_delete")).all()
        assert sorted(a.detail["tracking_number"] for a in audit) == sorted([old, recent])
        assert session.scalar(select(Case).where(Case.tracking_number == old)) is not None  # the record stays

    again = run_cli(config_file, "housekeeping", "--json")
    assert json.loads(again.stdout)["expired"] == []


def test_retention_off_deletes_nothing(tmp_path: Path, cases):
    config_file, services, numbers = cases
    text = config_file.read_text().replace("submissions_years = 7.0", "submissions_years = 0.0") \
                                  .replace("raw_email_years = 1.0", "raw_email_years = 0.0")
    config_file.write_text(text)
    result = run_cli(config_file, "housekeeping")
    assert result.returncode == 0 and "retention is off" in result.stdout
    assert all((services.storage.root / number / "1" / "message.eml").exists() for number in numbers)


def test_housekeeping_with_an_unreachable_database_exits_2(tmp_path: Path):
    config_file = write_config(tmp_path / "c.toml", {
        "database": {"url": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "m")}, "storage": {"path": str(tmp_path / "s")}})
    result = run_cli(config_file, "housekeeping", "--dry-run")
    assert result.returncode == 2 and "database unreachable" in result.stderr
