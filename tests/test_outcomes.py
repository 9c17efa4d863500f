"""The table of message outcomes: each handler described, and the first that applies wins."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from intake import disposition
from intake import message as email_parser
from intake.mailbox.base import MessageRef
from intake.outcomes import HANDLERS, Correspondence, Ignored, Incoming, NewVersion, TooLarge, handler_for

REF = MessageRef(folder="INBOX", uidvalidity="1", uid="7", size=1000,
                 internal_date=datetime(2026, 3, 1, tzinfo=timezone.utc), message_id="<a@b>")


def incoming(kind: str | None, *, zips: int = 0, case_number: str | None = None, too_large: bool = False) -> Incoming:
    parsed = email_parser.ParsedMessage(subject="SECOR", sender="a@b.example")
    parsed.attachments = [email_parser.Attachment(filename=f"{i}.zip", content_type="application/zip",
                                                  path=Path(f"{i}.zip"), size=1, is_zip=True)
                          for i in range(zips)]
    return Incoming(REF, parsed, "0" * 64, Path("."), too_large=too_large, kind=kind, case_number=case_number,
                    backlog=False)


def test_every_handler_has_a_name_and_a_one_line_description():
    names = [h.name for h in HANDLERS]
    assert len(set(names)) == len(names) and all(names)
    assert all(h.description and "\n" not in h.description for h in HANDLERS)


@pytest.mark.parametrize("email, expected", [
    (incoming(None, too_large=True), TooLarge),
    (incoming(disposition.FOLLOW_UP, case_number="SECOR-2026-000001"), Correspondence),
    (incoming(disposition.FOLLOW_UP, zips=1, case_number="SECOR-2026-000001"), NewVersion),
    (incoming(disposition.AUTOMATIC), Ignored),
    (incoming(disposition.OTHER), Ignored),
    (incoming(disposition.SUBMISSION, zips=1), NewVersion),
    (incoming(disposition.NO_SUBMISSION), NewVersion),
], ids=["too-large", "reply-without-files", "reply-with-files", "automatic", "other", "submission", "question"])
def test_the_first_handler_that_applies_takes_the_email(email, expected):
    assert type(handler_for(email)) is expected


def test_cycle_counts_are_keyed_by_plain_outcome_names():
    from intake.pipeline import CycleStats
    from intake.states import MessageOutcome

    stats = CycleStats()
    stats.count(MessageOutcome.PROCESSED)
    assert repr(stats.outcomes) == "{'processed': 1}"  # as the cycle's log line shows them
