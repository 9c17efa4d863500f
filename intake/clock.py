"""The current time as the project records it: aware, in UTC.

Its own module so that what needs the time without the database (`secor-intake health`, run by
monitors and Docker's HEALTHCHECK) does not load SQLAlchemy for it."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)
