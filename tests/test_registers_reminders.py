"""Maintenance reminders: opt-in, N days before each of a certificate's two maintenance anniversaries,
one email to the company's latest submitter through the outbox, never twice, never to a company that
never wrote, never when that year's case exists; sent once on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from intake.clock import utcnow
from intake.config import RegistersConfig
from intake.db import MaintenanceReminder
from intake.registers.checks import shift_years
from intake.registers.csvfile import FileLimits, RegisterFile
from intake.registers.reminders import queue_reminders
from intake.registers.store import import_register, reminders_of
from intake.service import poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import body_text, outbox_messages
from tests.test_company import deliver_and_poll, tool_folder, zip_of

ON = RegistersConfig(maintenance_reminders=True, maintenance_reminder_days=30)


def certificates(sessions, tmp_path: Path, rows: list[tuple[str, date]]) -> None:
    path = tmp_path / "certificates.csv"
    path.write_text("wcb_account,legal_name,program,issued_on,expires_on\n" + "".join(
        f"{account},Holder {account},SECOR,{issued.isoformat()},{shift_years(issued, 3).isoformat()}\n"
        for account, issued in rows), encoding="utf-8")
    import_register(sessions, RegisterFile("certificates", path, FileLimits(10_000_000, 1000)), path.name, "test")


def a_case(config, services, tmp_path: Path, account: str, year: int, sender: str) -> None:
    root = tool_folder(tmp_path / f"src-{account}", year, "Acme Roofing Ltd.", account, "Certification")
    deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(root), sender=sender,
                                                                       message_id=f"<{account}.{year}@acme>"))


def reminders(config) -> list:
    return [m for m in outbox_messages(config.resolve_path(config.outbound.path))
            if m["Subject"].startswith("SECOR maintenance")]


def test_reminders_are_sent_once_through_the_outbox(setup, tmp_path):
    config, services = setup
    today = utcnow().date()
    soon = today + timedelta(days=10)  # an anniversary within the 30 days
    # 1111111 wrote in 2024 and 2025 (latest submitter: the 2025 one); 2222222 never wrote;
    # 3333333 has this anniversary's year already; 4444444's anniversary is 40 days away.
    a_case(config, services, tmp_path, "1111111", soon.year - 2, "old@acme.example")
    a_case(config, services, tmp_path, "1111111", soon.year - 1, "new@acme.example")
    a_case(config, services, tmp_path, "3333333", soon.year, "x@three.example")
    a_case(config, services, tmp_path, "4444444", soon.year - 1, "x@four.example")
    issued = shift_years(soon, -1)
    rows = [("1111111", issued), ("2222222", issued), ("3333333", issued),
            ("4444444", shift_years(today + timedelta(days=40), -1))]
    certificates(services.sessions, tmp_path, rows)
    before = len(outbox_messages(config.resolve_path(config.outbound.path)))

    poll_cycle(services)  # off by default
    assert reminders(config) == []
    services.config = replace(config, registers=ON)
    poll_cycle(services)
    poll_cycle(services)
    [reminder] = reminders(config)
    assert reminder["To"] == "new@acme.example"
    assert reminder["Subject"] == f"SECOR maintenance {soon.year}: Acme Roofing Ltd."
    text = body_text(reminder)
    words = " ".join(text.split())
    assert "Acme Roofing Ltd. (WCB account 1111111) holds a SECOR certificate issued on " + issued.isoformat() in words
    assert f"Its anniversary is on {soon.isoformat()}: in {soon.year} the certificate needs a maintenance" in words
    assert len(outbox_messages(config.resolve_path(config.outbound.path))) == before + 1
    with services.sessions() as session:
        [listed] = reminders_of(session, "1111111")
        assert (listed["year"], listed["recipient"], listed["status"]) == (soon.year, "new@acme.example", "sent")
        assert reminders_of(session, "2222222") == reminders_of(session, "3333333") == []


def test_which_anniversaries_are_reminded(db_sessions, tmp_path):
    """By the day: 30 days before each of the two maintenance anniversaries, not the third (expiry)."""
    from intake.config import Config

    config = Config(registers=ON)
    with db_sessions.begin() as session:
        from intake.db import Case, Company, CompanyCase

        company = Company(wcb_account="1111111", legal_name="Acme")
        case = Case(tracking_number="SECOR-2020-000001", submitter="a@acme.example", received_at=utcnow())
        session.add_all([company, case, CompanyCase(submission=case, company=company, year=2020,
                                                    linked_by="tool")])
    certificates(db_sessions, tmp_path, [("1111111", date(2024, 3, 1))])  # anniversaries 2025, 2026; expires 2027
    for day, expected in [(date(2025, 1, 29), []), (date(2025, 1, 30), [2025]), (date(2025, 2, 28), []),
                          (date(2026, 1, 30), [2026]), (date(2026, 1, 31), []), (date(2027, 1, 30), [])]:
        assert [r.year for r in queue_reminders(db_sessions, config, day)] == expected, day
    with db_sessions() as session:
        assert session.scalar(select(func.count(MaintenanceReminder.id))) == 2
