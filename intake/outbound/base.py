"""The outbound transport interface: hand finished RFC 822 bytes to something that delivers them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from intake.config import OutboundConfig


class SendError(Exception):
    """Sending failed; the subclass says whether to try again."""


class TransientSendError(SendError):
    """Try again later (server down, time-out, 4xx).

    `server_down` is true when nothing could be sent to anyone (no connection, login refused), so the
    reply job stops its batch instead of failing every reply in turn.
    """

    def __init__(self, message: str, server_down: bool = False) -> None:
        super().__init__(message)
        self.server_down = server_down


class PermanentSendError(SendError):
    """Never try again (5xx: recipient refused, message refused)."""


class Transport(ABC):
    """One way out for replies; like a Django email backend."""

    @classmethod  # noqa: B027 - an optional hook: most backends accept any settings
    def validate(cls, config: OutboundConfig) -> None:
        """Raise ConfigError, naming the key, for `[outbound]` settings this backend cannot work with."""

    @classmethod
    def from_config(cls, config: OutboundConfig, resolve_path: Callable[[str], Path]) -> Transport:
        """The transport `[outbound]` describes; `resolve_path` makes paths absolute."""
        raise NotImplementedError(f"{cls.__name__} is not built from the configuration")

    @abstractmethod
    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        """Deliver `raw` from `mail_from` ("" is the null sender `<>`) to `recipients`.

        Returns once the message is accepted; raises TransientSendError or PermanentSendError.
        """

    def check(self) -> str:
        """Try the way out for real without sending anything (`secor-intake check`); returns what was
        tried, raises what failed."""
        raise NotImplementedError(f"{type(self).__name__} cannot be checked")

    def close(self) -> None:  # noqa: B027 - an optional hook: most transports have nothing to end
        """End a run of sends (the reply job calls it once its outcomes are recorded)."""
