"""Tracking numbers: `SECOR-<year>-<6 digits>`, allocated from a per-year counter row.

Allocation is one upsert (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`) in the caller's
transaction. The counter row stays locked until that transaction ends, so two daemons sharing one
PostgreSQL take turns and never get the same number; a rolled-back transaction undoes its increment,
and anything else that removes a submission leaves a gap, never a duplicate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pattern is needed by message parsing, which need not load the database layer
    from sqlalchemy import Insert
    from sqlalchemy.orm import Session

PREFIX = "SECOR"
DIGITS = 6
TRACKING_RE = re.compile(rf"(?<![A-Za-z0-9-]){PREFIX}-(\d{{4}})-(\d{{{DIGITS}}})(?![0-9])", re.IGNORECASE)


def format_tracking_number(year: int, value: int) -> str:
    """`SECOR-2026-000042` for (2026, 42)."""
    if not 1000 <= year <= 9999 or not 0 < value < 10**DIGITS:
        raise ValueError(f"no tracking number for year {year}, value {value}")
    return f"{PREFIX}-{year:04d}-{value:0{DIGITS}d}"


def _upsert(dialect_name: str, year: int) -> Insert:
    """INSERT the year's first value, or add one to the existing row; returns the new value."""
    from sqlalchemy.dialects import postgresql, sqlite

    from intake.db import TrackingCounter

    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect_name)
    if module is None:
        raise NotImplementedError(f"tracking numbers need PostgreSQL or SQLite, not {dialect_name}")
    table = TrackingCounter.__table__
    statement = module.insert(table).values(year=year, last_value=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.year], set_={"last_value": table.c.last_value + 1}
    ).returning(table.c.last_value)


def allocate_tracking_number(session: Session, year: int) -> str:
    """The next tracking number for `year`, taken in the session's current transaction."""
    value = session.execute(_upsert(session.get_bind().dialect.name, year)).scalar_one()
    return format_tracking_number(year, value)


def find_tracking_numbers(*texts: str) -> list[str]:
    """Every tracking number in `texts` (subject tags, References, bodies), upper-cased, first seen first."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in TRACKING_RE.finditer(text or ""):
            seen[f"{PREFIX}-{match.group(1)}-{match.group(2)}"] = None
    return list(seen)
