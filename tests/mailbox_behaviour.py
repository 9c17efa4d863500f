"""Behaviour every mail source shares, tested once here and run by each backend's test module on its
own `source` and `deliver` fixtures (imported there: pytest collects the imported test functions in
each module). `deliver(folder, raw)` puts a message in the store the way mail arrives there: seeding
is not part of the MailSource interface."""

from __future__ import annotations

import io
from typing import Callable

import pytest

from intake.mailbox import MailSource, MessageTooLarge

Deliver = Callable[[str, bytes], None]


def make_message(message_id: str, body_bytes: int = 40) -> bytes:
    """A small RFC 822 message with CRLF line ends and a body of exactly `body_bytes` bytes."""
    line = b"SECOR submission text, line of padding.\r\n"
    full = body_bytes // len(line)
    body = line * full + b"x" * (body_bytes - full * len(line))  # no bare CR at the cut
    return (f"From: Acme <safety@acme.example>\r\nTo: COR@youracsa.ca\r\n"
            f"Subject: SECOR 2026\r\nMessage-ID: <{message_id}>\r\n"
            f"Date: Thu, 26 Nov 2026 06:00:00 +0000\r\n\r\n").encode() + body


def test_too_large_raises_before_fetching(source: MailSource, deliver: Deliver) -> None:
    deliver("INBOX", make_message("huge@acme.example", 5000))
    (ref,) = source.list_messages("INBOX")
    out = io.BytesIO()
    with pytest.raises(MessageTooLarge):
        source.fetch(ref, out, max_bytes=1000)
    assert out.getvalue() == b""
    header = source.fetch_header(ref)  # what the sender of a too-large message is answered from
    assert header.startswith(b"From: Acme") and header.endswith(b"\r\n\r\n")
    assert b"Message-ID: <huge@acme.example>" in header and b"padding" not in header


def test_move_of_a_message_already_gone_is_a_no_op(source: MailSource, deliver: Deliver) -> None:
    deliver("INBOX", make_message("once@acme.example"))
    (ref,) = source.list_messages("INBOX")
    source.move(ref, "SECOR/Processed")
    source.move(ref, "SECOR/Processed")
    assert len(source.list_messages("SECOR/Processed")) == 1


def test_folder_exists_creates_nothing(source: MailSource, deliver: Deliver) -> None:
    assert source.folder_exists("INBOX")
    assert not source.folder_exists("SECOR/Processed")
    assert not source.folder_exists("SECOR/Processed")  # asking made nothing
    deliver("INBOX", make_message("exists@acme.example"))
    (ref,) = source.list_messages("INBOX")
    source.move(ref, "SECOR/Processed")
    assert source.folder_exists("SECOR/Processed")
