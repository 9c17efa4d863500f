"""The health file: what a monitor needs to know, rewritten after every cycle.

`secor-intake health` reads it and exits 1 when something needs a person (see README).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.db import Message, Reply, utcnow


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Messages and replies that wait for a retry or for a person."""
    with sessions() as session:
        def count(query: Any) -> int:
            return int(session.scalar(query) or 0)

        return {
            "failed_messages": count(select(func.count(Message.id)).where(Message.state == "failed")),
            "abandoned_messages": count(select(func.count(Message.id)).where(Message.state == "abandoned")),
            "unsent_replies": count(select(func.count(Reply.id)).where(Reply.status.in_(("pending", "sending")))),
            "failed_replies": count(select(func.count(Reply.id)).where(Reply.status == "failed")),
        }


class Health:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A name of our own: two daemons sharing a health file must not rename each other's file.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def record_success(self, sessions: sessionmaker[Session]) -> None:
        data = self.read()
        data.update(counts(sessions), last_success_at=utcnow().isoformat(), pid=os.getpid())
        self._write(data)

    def record_failure(self, sessions: sessionmaker[Session] | None, error: str) -> None:
        data = self.read()
        if sessions is not None:
            try:
                data.update(counts(sessions))
            except Exception:  # the database may be what failed
                pass
        data.update(last_error=error, last_error_at=utcnow().isoformat(), pid=os.getpid())
        self._write(data)


def problems(data: dict[str, Any], poll_seconds: float, now: datetime | None = None) -> list[str]:
    """What in a health record needs a person; empty when all is well."""
    now = now or utcnow()
    found = []
    last_success = data.get("last_success_at")
    last_error_at = data.get("last_error_at")
    if not last_success:
        found.append("no successful poll recorded yet")
    else:
        age = now - datetime.fromisoformat(last_success)
        if age > timedelta(seconds=max(3 * poll_seconds, 300)):
            found.append(f"last successful poll {int(age.total_seconds())} s ago")
    if last_error_at and (not last_success or datetime.fromisoformat(last_error_at) > datetime.fromisoformat(last_success)):
        found.append(f"last cycle failed: {data.get('last_error')}")
    for key in ("abandoned_messages", "failed_replies"):
        if data.get(key):
            found.append(f"{data[key]} {key.replace('_', ' ')} need a person")
    return found
