"""The states a message row and a reply row go through, and a message's outcomes: one vocabulary
for the pipeline, the outbox, health, the commands and the workbench (no database code here, so the
command line can use it without loading SQLAlchemy)."""

from __future__ import annotations

from enum import StrEnum


class MessageState(StrEnum):
    """Where a message row is in its life (see intake.pipeline)."""

    CLAIMED = "claimed"  # a worker is on it
    DONE = "done"  # its outcome is recorded
    FAILED = "failed"  # waiting for a retry
    ABANDONED = "abandoned"  # out of attempts: left for a person


class MessageOutcome(StrEnum):
    """What a recorded message came to; it decides the outcome folder."""

    PROCESSED = "processed"
    RETURNED = "returned"
    IGNORED = "ignored"
    TOO_LARGE = "too_large"


class ReplyStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


# What `submissions --status` offers besides the verdicts: emails that could not be processed.
UNPROCESSED_STATES = (MessageState.FAILED, MessageState.ABANDONED)
