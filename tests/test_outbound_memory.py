"""The in-memory transport the tests use keeps the transport contract, so what it shows holds for the real ones."""

from __future__ import annotations

import pytest

from intake.outbound import PermanentSendError, Transport
from tests.memory_transport import MemoryTransport, Sent
from tests.transport_behaviour import (
    RECIPIENT,
    Outbox,
    make_reply,
    test_close_ends_a_run_and_the_next_send_starts_another,  # noqa: F401 (shared test)
    test_each_message_arrives_once_with_its_bytes_unchanged,  # noqa: F401 (shared test)
    test_unreachable_is_transient_and_marks_the_server_down,  # noqa: F401 (shared test)
)


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def outbox(transport: MemoryTransport) -> Outbox:
    return lambda: [sent.raw for sent in transport.sent]


@pytest.fixture
def unreachable() -> Transport:
    return MemoryTransport(down=True)


def test_it_keeps_the_envelope_and_refuses_whom_it_is_told_to(transport: MemoryTransport) -> None:
    raw = make_reply()
    transport.refuse["robot@acme-roofing.ca"] = PermanentSendError("550 no such user")
    with pytest.raises(PermanentSendError):
        transport.send(raw, "", ["robot@acme-roofing.ca"])
    transport.send(raw, "", [RECIPIENT])
    transport.close()
    assert transport.sent == [Sent(raw, "", (RECIPIENT,))] and transport.runs == 1
