"""The health file: what a monitor needs to know, rewritten after every cycle.

`secor-intake health` reads it and exits 1 when something needs a person (see README); it loads no
database code, which only the writers' counts need.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake.clock import utcnow
from intake.config import Config
from intake.states import MessageState, ReplyStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def counts(sessions: sessionmaker[Session], stuck_after: timedelta, overdue_after: timedelta,
           now: datetime | None = None) -> dict[str, int]:
    """Messages and replies that wait for a retry or for a person, or that are stuck.

    A message is stuck when it has been claimed for longer than `stuck_after` (its worker lost it
    and nobody took it back); a reply is overdue when it was due, or "sending", more than
    `overdue_after` ago (the reply job is not running, or cannot record what it sent).
    """
    # here, not at the top: `secor-intake health` (a monitor's check) reads the file without the database
    from sqlalchemy import and_, func, or_, select

    from intake.db import InboxMessage, Reply

    now = now or utcnow()
    with sessions() as session:
        def count(query: Any) -> int:
            return int(session.scalar(query) or 0)

        overdue = now - overdue_after
        return {
            "failed_messages": count(select(func.count(InboxMessage.id)).where(InboxMessage.state == MessageState.FAILED)),
            "abandoned_messages": count(select(func.count(InboxMessage.id)).where(InboxMessage.state == MessageState.ABANDONED)),
            "stuck_messages": count(select(func.count(InboxMessage.id)).where(
                InboxMessage.state == MessageState.CLAIMED, InboxMessage.claimed_at < now - stuck_after)),
            "unsent_replies": count(select(func.count(Reply.id)).where(Reply.status.in_((ReplyStatus.PENDING, ReplyStatus.SENDING)))),
            "overdue_replies": count(select(func.count(Reply.id)).where(or_(
                and_(Reply.status == ReplyStatus.PENDING, func.coalesce(Reply.next_attempt_at, Reply.created_at) < overdue),
                and_(Reply.status == ReplyStatus.SENDING, Reply.claimed_at < overdue)))),
            "failed_replies": count(select(func.count(Reply.id)).where(Reply.status == ReplyStatus.FAILED)),
        }


class Health:
    """The health file of one deployment; every writer of it in a process goes through one lock."""

    def __init__(self, path: Path, stuck_after: timedelta = timedelta(minutes=20),
                 overdue_after: timedelta = timedelta(minutes=5)) -> None:
        self.path = path
        self.stuck_after = stuck_after
        self.overdue_after = overdue_after
        self._lock = threading.Lock()  # the poll and reply jobs both update the file

    @classmethod
    def for_config(cls, config: Config) -> Health:
        """Thresholds from the schedule: a message may be claimed for one whole link download."""
        schedule = config.schedule
        return cls(config.resolve_path(config.health.path),
                   stuck_after=timedelta(seconds=max(3 * schedule.poll_seconds, 300) + config.links.deadline_seconds),
                   overdue_after=timedelta(seconds=max(3 * schedule.reply_seconds, 300)))

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

    def _update(self, sessions: sessionmaker[Session] | None, values: dict[str, Any],
                counts_may_fail: bool = False) -> None:
        """Merge `values` and fresh counts from `sessions` (when given) into the record; with
        `counts_may_fail` a database that does not answer leaves the old counts in place."""
        with self._lock:
            data = self.read()
            if sessions is not None:
                try:
                    data.update(counts(sessions, self.stuck_after, self.overdue_after))
                except Exception:
                    if not counts_may_fail:
                        raise
            data.update(values, pid=os.getpid())
            self._write(data)

    def record_success(self, sessions: sessionmaker[Session]) -> None:
        self._update(sessions, {"last_success_at": utcnow().isoformat()})

    def record_failure(self, sessions: sessionmaker[Session] | None, error: str) -> None:
        # The database may be what failed: the error is recorded whatever the counts do.
        self._update(sessions, {"last_error": error, "last_error_at": utcnow().isoformat()}, counts_may_fail=True)

    def record_sending(self, sent: int, error: str | None) -> None:
        """What the reply job saw: the last send error (SMTP down...) and when a reply last went out."""
        now = utcnow().isoformat()
        values: dict[str, Any] = {}
        if sent:
            values["last_sent_at"] = now
        if error:
            values.update(last_send_error=error, last_send_error_at=now)
        if values:
            self._update(None, values)


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
    last_send_error_at, last_sent_at = data.get("last_send_error_at"), data.get("last_sent_at")
    if last_send_error_at and (not last_sent_at or
                               datetime.fromisoformat(last_send_error_at) >= datetime.fromisoformat(last_sent_at)):
        found.append(f"replies are not going out: {data.get('last_send_error')}")
    for key in ("abandoned_messages", "failed_replies"):
        if data.get(key):
            found.append(f"{data[key]} {key.replace('_', ' ')} need a person")
    if data.get("stuck_messages"):
        found.append(f"{data['stuck_messages']} messages claimed by a worker for too long (stuck)")
    if data.get("overdue_replies"):
        found.append(f"{data['overdue_replies']} replies overdue (the reply job is not sending)")
    return found
