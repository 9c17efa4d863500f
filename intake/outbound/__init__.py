"""Outbound transports for replies: one interface (`Transport`), two backends (SMTP, pickup folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from intake.config import OutboundConfig
from intake.outbound.base import PermanentSendError, SendError, TransientSendError, Transport
from intake.outbound.file import FileTransport
from intake.outbound.smtp import SmtpTransport
from intake.tls import client_context

__all__ = ["FileTransport", "PermanentSendError", "SendError", "SmtpTransport", "TransientSendError",
           "Transport", "open_transport"]


def open_transport(config: OutboundConfig, resolve_path: Callable[[str], Path] = Path) -> Transport:
    """The transport `config.kind` names; `resolve_path` makes configured paths absolute
    (pass `Config.resolve_path`)."""
    if config.kind == "file":
        return FileTransport(resolve_path(config.path))
    if config.kind == "smtp":
        context = client_context(str(resolve_path(config.ca_bundle)) if config.ca_bundle else None)
        return SmtpTransport(config.host, config.port, config.security, config.username, config.password,
                             config.timeout_seconds, context)
    raise ValueError(f"outbound.kind must be smtp or file, not {config.kind!r}")
