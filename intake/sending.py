"""The daemon's reply job: send every due outbox row (intake.cases.outbox queues them).

Each row is sent with the bytes stored when it was queued, so every attempt is the same email with
the same Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.backoff import backoff
from intake.claims import claim_is_stale, hold, let_go, worker_identity
from intake.clock import utcnow
from intake.config import OutboundConfig
from intake.db import Reply
from intake.faults import crash_point
from intake.outbound.base import PermanentSendError, TransientSendError, Transport
from intake.states import ReplyStatus

log = logging.getLogger("intake.replies")  # its name before the split: operators filter on it

STALE_SENDING = timedelta(minutes=15)  # a "sending" claim older than this was lost in a crash;
# it must outlast one send: the SMTP steps (connect, TLS, AUTH, MAIL, RCPT, DATA) each wait
# at most outbound.timeout_seconds (default 60 s).
MAX_BACKOFF = timedelta(hours=6)
BATCH_SIZE = 50


@dataclass
class SendStats:
    sent: int = 0
    deferred: int = 0  # transient failure, will be retried
    failed: int = 0  # permanent failure or out of attempts
    last_error: str | None = field(default=None, compare=False)  # of the last failed send, for the health record


@dataclass(frozen=True)
class _Claimed:
    id: int
    recipient: str
    raw: bytes
    attempts: int


def _due(now: datetime, stale_ids: list[int]) -> Any:
    """Rows ready to send: pending and due, or left "sending" by a sender that is gone."""
    return or_(
        and_(Reply.status == ReplyStatus.PENDING, or_(Reply.next_attempt_at.is_(None), Reply.next_attempt_at <= now)),
        and_(Reply.status == ReplyStatus.SENDING, Reply.id.in_(stale_ids)),
    )


def _abandoned_sends(session: Session, now: datetime) -> list[int]:
    """Rows left "sending" by a process that died here, or by any sender past STALE_SENDING."""
    rows = session.execute(select(Reply.id, Reply.claimed_by, Reply.claimed_at).where(Reply.status == ReplyStatus.SENDING)).all()
    return [r.id for r in rows if claim_is_stale(r.claimed_by, r.claimed_at, now, STALE_SENDING, ("reply", r.id))]


def _due_count(sessions: sessionmaker[Session], now: datetime) -> int:
    """How many rows are due now (the bound of one sending run)."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Reply).where(
            _due(now, _abandoned_sends(session, now)))) or 0


def _claim_one(sessions: sessionmaker[Session], now: datetime, worker_id: str) -> _Claimed | None:
    """Mark the oldest due row "sending" in one short transaction, or None when nothing is due.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so a second daemon takes the next row instead of waiting;
    SQLite: BEGIN IMMEDIATE (see intake.db) already lets one writer in at a time.
    """
    with sessions.begin() as session:
        row = session.execute(
            select(Reply.id, Reply.recipient, Reply.raw, Reply.attempts).where(_due(now, _abandoned_sends(session, now)))
            .order_by(Reply.id).limit(1).with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        session.execute(update(Reply).where(Reply.id == row.id).values(
            status=ReplyStatus.SENDING, claimed_at=now, claimed_by=worker_id, attempts=Reply.attempts + 1))
        hold("reply", row.id)  # before the commit: no thread here may see our claim unheld
    crash_point("reply_claimed")
    return _Claimed(row.id, row.recipient, bytes(row.raw), row.attempts + 1)


def _finish(sessions: sessionmaker[Session], reply_id: int, **values: Any) -> None:
    """Record the outcome of a claimed row (only if it is still ours to finish)."""
    with sessions.begin() as session:
        session.execute(update(Reply).where(Reply.id == reply_id, Reply.status == ReplyStatus.SENDING).values(**values))


def _retry_later(sessions: sessionmaker[Session], row: _Claimed, config: OutboundConfig, now: datetime,
                 error: str, stats: SendStats) -> None:
    """Back to "pending" with backoff, or "failed" once `config.max_attempts` tries are spent."""
    if row.attempts >= config.max_attempts:
        log.error("reply %d to %s failed after %d attempts: %s", row.id, row.recipient, row.attempts, error)
        _finish(sessions, row.id, status=ReplyStatus.FAILED, last_error=error, claimed_at=None)
        stats.failed += 1
    else:
        log.warning("reply %d to %s deferred (attempt %d): %s", row.id, row.recipient, row.attempts, error)
        _finish(sessions, row.id, status=ReplyStatus.PENDING, last_error=error, claimed_at=None,
                next_attempt_at=now + backoff(config.retry_base_seconds, row.attempts, MAX_BACKOFF))
        stats.deferred += 1


def send_pending(session_factory: sessionmaker[Session], transport: Transport, config: OutboundConfig,
                 now: datetime | None = None, worker_id: str | None = None) -> SendStats:
    """The reply job: send every due outbox row once through `transport`.

    Rows are taken one at a time (as many per run as were due when it began, at least BATCH_SIZE,
    so that `poll` sends everything it queued and a run still ends): each is claimed ("sending") in a
    short transaction, sent with its stored bytes outside any transaction, then marked "sent". So a
    claim is never older than one send, and two daemons share the outbox without sending a row twice.
    A transient failure puts the row back to "pending" with exponential backoff until
    `config.max_attempts`, then "failed"; a permanent failure is "failed" at once. When the server is
    unreachable the run stops and the other rows stay untouched: an SMTP outage delays replies and
    loses none.

    At-least-once: a crash after the server accepted a message but before "sent" is committed leaves
    the row "sending"; it is sent again once its sender is known to be gone (at once when that process
    ran on this host, after STALE_SENDING otherwise). That resend is byte-identical, with the
    same Message-ID, so receivers and their mail clients can drop the duplicate. This is the one
    window no design can close without the server's help; it is kept as short as one commit.
    """
    now = now or utcnow()
    worker_id = worker_id or worker_identity()
    stats = SendStats()
    try:
        for _ in range(max(BATCH_SIZE, _due_count(session_factory, now))):
            row = _claim_one(session_factory, now, worker_id)
            if row is None:
                break
            try:
                if not _send_one(session_factory, transport, config, now, row, stats):
                    break  # the rest would fail the same way: leave them untouched for the next run
            finally:
                let_go("reply", row.id)
    finally:
        transport.close()  # after the outcomes are recorded: a QUIT is not part of the unrecorded window
    return stats


def _send_one(sessions: sessionmaker[Session], transport: Transport, config: OutboundConfig, now: datetime,
              row: _Claimed, stats: SendStats) -> bool:
    """Send one claimed row and record the outcome; False when the server is down."""
    try:
        transport.send(row.raw, "", [row.recipient])  # MAIL FROM:<> for auto-replies (RFC 3834)
    except PermanentSendError as exc:
        log.error("reply %d to %s failed for good: %s", row.id, row.recipient, exc)
        _finish(sessions, row.id, status=ReplyStatus.FAILED, last_error=str(exc), claimed_at=None)
        stats.failed += 1
        stats.last_error = str(exc)
    except Exception as exc:  # TransientSendError, or a bug: retried with backoff, never lost
        if not isinstance(exc, TransientSendError):
            log.exception("reply %d to %s: unexpected error while sending", row.id, row.recipient)
        _retry_later(sessions, row, config, now, str(exc), stats)
        stats.last_error = str(exc)
        return not (isinstance(exc, TransientSendError) and exc.server_down)
    else:
        _finish(sessions, row.id, status=ReplyStatus.SENT, sent_at=utcnow(), last_error=None, claimed_at=None)
        stats.sent += 1
    return True
