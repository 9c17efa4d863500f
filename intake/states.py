"""The states a message row and a reply row go through, a message's outcomes, and a case's QA states
and decisions with their transitions: one vocabulary for the pipeline, the outbox, health, the
commands and the workbench (no database code here, so the command line can use it without loading
SQLAlchemy)."""

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


class LabelledChoice(StrEnum):
    """A choice the workbench shows: its label is its value in words ("in_review": "In review")."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class QAState(LabelledChoice):
    """Where a case is in QA's review."""

    NEW = "new"
    IN_REVIEW = "in_review"
    AWAITING_DOCUMENTS = "awaiting_documents"
    RESUBMITTED = "resubmitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"

    @property
    def is_open(self) -> bool:
        return self in OPEN_QA_STATES


class QADecision(LabelledChoice):
    """What an analyst decides about a case."""

    ACCEPT = "accept"
    RETURN = "return"
    REQUEST_DOCUMENTS = "request_documents"

    @property
    def state_after(self) -> QAState:
        return STATE_AFTER[self]


# The transitions, in one place. A decision moves the case to its state; assigning an analyst takes a
# waiting case into review; a new version of a case makes it `resubmitted` (undecided again).
STATE_AFTER = {QADecision.ACCEPT: QAState.ACCEPTED, QADecision.RETURN: QAState.RETURNED,
               QADecision.REQUEST_DOCUMENTS: QAState.AWAITING_DOCUMENTS}
WAITING_FOR_ANALYST = (QAState.NEW, QAState.RESUBMITTED)  # assigning one moves the case to IN_REVIEW
# Undecided, in the queue's order: cases that came back first, then new ones, then those in hand.
OPEN_QA_STATES = (QAState.RESUBMITTED, QAState.NEW, QAState.IN_REVIEW, QAState.AWAITING_DOCUMENTS)
DECIDED_QA_STATES = (QAState.ACCEPTED, QAState.RETURNED)  # retention counts from these
QUEUE_RANK = {state: rank for rank, state in enumerate(OPEN_QA_STATES + DECIDED_QA_STATES)}
