"""Outbound transports for replies: one interface (`Transport`), two backends (SMTP, pickup folder).

A backend is a `Transport` subclass in its own module, registered in TRANSPORTS under its
`outbound.kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from intake.backends import Backends
from intake.outbound.base import PermanentSendError, SendError, TransientSendError, Transport

if TYPE_CHECKING:
    from intake.config import OutboundConfig

__all__ = ["TRANSPORTS", "PermanentSendError", "SendError", "TransientSendError", "Transport", "open_transport"]

TRANSPORTS: Backends[Transport] = Backends({
    "smtp": "intake.outbound.smtp:SmtpTransport",
    "file": "intake.outbound.file:FileTransport",
})


def open_transport(config: OutboundConfig, resolve_path: Callable[[str], Path] = Path) -> Transport:
    """The transport `config.kind` names; `resolve_path` makes configured paths absolute
    (pass `Config.resolve_path`)."""
    if config.kind not in TRANSPORTS.kinds:
        raise ValueError(f"outbound.kind must be {' or '.join(TRANSPORTS.kinds)}, not {config.kind!r}")
    return TRANSPORTS[config.kind].from_config(config, resolve_path)
