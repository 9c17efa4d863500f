"""MemoryTransport: replies kept in a list, for tests (Django's locmem backend, httpx's MockTransport).

It lives in tests/, so it never ships; tests/test_outbound_memory.py runs the transport contract on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.outbound import SendError, TransientSendError, Transport


@dataclass(frozen=True)
class Sent:
    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]


class MemoryTransport(Transport):
    """Appends each message to `sent`.

    `refuse` maps a recipient to the error a send to it raises (PermanentSendError for a 550...);
    `down` makes every send fail as a server that cannot be reached does. `runs` counts `close()` calls.
    """

    def __init__(self, down: bool = False) -> None:
        self.sent: list[Sent] = []
        self.refuse: dict[str, SendError] = {}
        self.down = down
        self.runs = 0

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        if self.down:
            raise TransientSendError("the in-memory transport is down", server_down=True)
        for recipient in recipients:
            if recipient in self.refuse:
                raise self.refuse[recipient]
        self.sent.append(Sent(bytes(raw), mail_from, tuple(recipients)))

    def close(self) -> None:
        self.runs += 1
