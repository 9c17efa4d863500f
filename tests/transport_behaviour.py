"""Behaviour every outbound transport shares, tested once here and run by each backend's test module
on its own fixtures (imported there: pytest collects the imported test functions in each module).

`transport` is a working Transport; `outbox()` lists the messages it delivered, as the far side
received them; `unreachable` is a Transport of the same kind whose destination cannot be reached.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from typing import Callable

import pytest

from intake.outbound import TransientSendError, Transport

RECIPIENT = "jane.doe@acme-roofing.ca"
Outbox = Callable[[], list[bytes]]


def make_reply(message_id: str = "<SECOR-2026-000042.0a1b2c3d4e5f6789@youracsa.ca>") -> bytes:
    """A reply as the outbox stores it, with a line holding a lone dot (SMTP dot-stuffing)."""
    msg = EmailMessage()
    msg["From"] = "ACSA COR Department <COR@youracsa.ca>"
    msg["To"] = RECIPIENT
    msg["Subject"] = "Re: SECOR submission [SECOR-2026-000042]"
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Your tracking number is SECOR-2026-000042.\n.\nA line with a lone dot above.\n")
    return msg.as_bytes(policy=policy.SMTP)


def _bodies(messages: list[bytes]) -> list[bytes]:
    """Messages compared without the final line end (SMTP's DATA terminator may add or take one)."""
    return sorted(m.rstrip(b"\r\n") for m in messages)


def test_each_message_arrives_once_with_its_bytes_unchanged(transport: Transport, outbox: Outbox) -> None:
    first, second = make_reply(), make_reply("<SECOR-2026-000043.1111@youracsa.ca>")
    transport.send(first, "", [RECIPIENT])  # "" is the null sender of an automatic reply
    transport.send(second, "", [RECIPIENT])
    transport.close()
    assert _bodies(outbox()) == _bodies([first, second])


def test_close_ends_a_run_and_the_next_send_starts_another(transport: Transport, outbox: Outbox) -> None:
    transport.close()  # a run with nothing to send
    transport.send(make_reply(), "", [RECIPIENT])
    transport.close()
    transport.close()  # closing twice is harmless
    transport.send(make_reply("<SECOR-2026-000043.1111@youracsa.ca>"), "", [RECIPIENT])
    transport.close()
    assert len(outbox()) == 2


def test_unreachable_is_transient_and_marks_the_server_down(unreachable: Transport) -> None:
    with pytest.raises(TransientSendError) as caught:
        unreachable.send(make_reply(), "", [RECIPIENT])
    assert caught.value.server_down  # the reply job stops its batch instead of failing every reply
    unreachable.close()
