"""Maintenance reminders (opt-in: `[registers] maintenance_reminders`).

A SECOR certificate is valid three years; in each of the two years between its issue and its expiry
the holder submits a maintenance evaluation (or an action plan). `maintenance_reminder_days` before
each of those anniversaries, one email goes to the company's latest submitter, through the outbox:
only to companies that have written to the inbox before (they have a case), never twice for one
certificate and year (a unique row per certificate and year), and never when the company already
has a case of that year. The sending job queues them just before it sends (`run` and `poll`).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fetchers.providers import supported_services_phrase
from intake.cases.outbox import queue_reply, render_maintenance_reminder
from intake.config import Config
from intake.db import CertificateRecord, Company, MaintenanceReminder
from intake.registers.checks import shift_years

log = logging.getLogger(__name__)
MAINTENANCE_YEARS = (1, 2)  # anniversaries that start a maintenance year


def queue_reminders(sessions: sessionmaker[Session], config: Config, today: date) -> list[MaintenanceReminder]:
    """Queue the reminders due on `today` (none unless `[registers] maintenance_reminders`)."""
    settings = config.registers
    if not settings.maintenance_reminders:
        return []
    ahead = timedelta(days=settings.maintenance_reminder_days)
    queued: list[MaintenanceReminder] = []
    with sessions.begin() as session:
        certificates = session.scalars(select(CertificateRecord).where(
            CertificateRecord.program == "SECOR", CertificateRecord.issued_on < today,
            CertificateRecord.expires_on > today).order_by(CertificateRecord.id)).all()
        for certificate in certificates:
            for n in MAINTENANCE_YEARS:
                anniversary = shift_years(certificate.issued_on, n)
                if anniversary < certificate.expires_on and anniversary - ahead <= today < anniversary:
                    reminder = _remind(session, config, certificate, anniversary)
                    if reminder is not None:
                        queued.append(reminder)
    return queued


def _remind(session: Session, config: Config, certificate: CertificateRecord,
            anniversary: date) -> MaintenanceReminder | None:
    year = anniversary.year
    account, issued_on = certificate.wcb_account, certificate.issued_on
    if session.scalar(select(MaintenanceReminder.id).where(
            MaintenanceReminder.wcb_account == account, MaintenanceReminder.issued_on == issued_on,
            MaintenanceReminder.year == year)) is not None:
        return None
    company = session.scalar(select(Company).where(Company.wcb_account == account))
    if company is None or not company.cases or any(link.year == year for link in company.cases):
        return None  # never wrote to us, or that year's case is here already
    latest = max((link.submission for link in company.cases), key=lambda case: (case.received_at, case.id))
    msg = render_maintenance_reminder(config.outbound, latest.submitter, latest.submitter_name,
                                      company.legal_name or certificate.legal_name, account, issued_on,
                                      anniversary, year, services=supported_services_phrase())
    try:
        with session.begin_nested():
            reply = queue_reply(session, None, None, msg, latest.submitter, config.outbound)
            reminder = MaintenanceReminder(wcb_account=account, issued_on=issued_on, year=year,
                                           recipient=latest.submitter, reply_id=reply.id if reply else None)
            session.add(reminder)
    except IntegrityError:
        return None  # another sender queued it at the same time
    log.info("maintenance reminder for WCB account %s (%d) queued to %s", account, year, latest.submitter)
    return reminder
