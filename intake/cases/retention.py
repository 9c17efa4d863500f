"""Retention: stored submissions and raw emails deleted a configured time after a case's last decision.

Only decided cases count: DECIDED_QA_STATES with at least one recorded decision (a case that came
back after its decision is QAState.RESUBMITTED, so undecided again). The database keeps
the case, its versions, findings and replies (the record that it existed and what was decided);
what goes is the stored files (`[retention] submissions_years`) and, possibly sooner, the raw
emails (`[retention] raw_email_years`). Each deletion is written to the append-only audit trail.
`secor-intake housekeeping --dry-run` lists what would go; without it, it goes.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.cases.layout import Storage, raw_emails
from intake.clock import utcnow
from intake.config import RetentionConfig
from intake.db import AuditEntry, Case, Decision
from intake.states import DECIDED_QA_STATES

log = logging.getLogger("secor_intake.retention")

YEAR = timedelta(days=365.25)


@dataclass
class Expired:
    """What retention takes from one case."""

    tracking_number: str
    submission_id: int
    decided_at: datetime
    what: str  # "case files" (the case's whole storage folder) or "raw emails"
    paths: list[Path] = field(default_factory=list)
    bytes: int = 0

    def to_dict(self) -> dict:
        return {"tracking_number": self.tracking_number, "last_decision_at": self.decided_at.isoformat(),
                "deletes": self.what, "files": len(self.paths), "bytes": self.bytes}


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def expired(session: Session, storage_root: Path, config: RetentionConfig, now: datetime | None = None) -> list[Expired]:
    """The decided cases whose files or raw emails are past their retention, oldest decision first."""
    now = now or utcnow()
    horizons = [years for years in (config.submissions_years, config.raw_email_years) if years > 0]
    if not horizons:
        return []
    last_decision = (select(Decision.submission_id, func.max(Decision.decided_at).label("decided_at"))
                     .group_by(Decision.submission_id).subquery())
    rows = session.execute(
        select(Case.id, Case.tracking_number, last_decision.c.decided_at)
        .join(last_decision, last_decision.c.submission_id == Case.id)
        .where(Case.qa_state.in_(DECIDED_QA_STATES), last_decision.c.decided_at < now - min(horizons) * YEAR)
        .order_by(last_decision.c.decided_at)).all()
    found = []
    for submission_id, number, decided_at in rows:
        folder = Storage(storage_root).case_dir(number)
        if not folder.is_dir():
            continue
        age = now - decided_at
        if config.submissions_years > 0 and age > config.submissions_years * YEAR:
            item = Expired(number, submission_id, decided_at, "case files", _files_under(folder))
        elif config.raw_email_years > 0 and age > config.raw_email_years * YEAR:
            item = Expired(number, submission_id, decided_at, "raw emails", raw_emails(folder))
        else:
            continue
        if item.paths:
            item.bytes = sum(p.stat().st_size for p in item.paths if p.is_file())
            found.append(item)
    return found


def apply(sessions: sessionmaker[Session], storage_root: Path, config: RetentionConfig,
          dry_run: bool, now: datetime | None = None) -> list[Expired]:
    """Delete what is past retention (unless `dry_run`); returns what was (or would be) deleted."""
    with sessions() as session:
        found = expired(session, storage_root, config, now)
    if dry_run:
        return found
    for item in found:
        # The audit entry first: a crash after it leaves files that the next run deletes again.
        with sessions.begin() as session:
            session.add(AuditEntry(action="retention_delete", submission_id=item.submission_id,
                                   detail=item.to_dict()))
        if item.what == "case files":
            shutil.rmtree(Storage(storage_root).case_dir(item.tracking_number), ignore_errors=True)
        else:
            for path in item.paths:
                path.unlink(missing_ok=True)
        log.info("retention: %s: deleted %s (%d files, %d bytes), last decision %s", item.tracking_number,
                 item.what, len(item.paths), item.bytes, item.decided_at.date())
    return found
