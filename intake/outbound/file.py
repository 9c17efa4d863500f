"""FileTransport: a pickup folder with one `.eml` file per reply (the embedded default).

The configuration imports this module to validate `[outbound]` (intake.outbound.TRANSPORTS), and
every command reads the configuration: the email library is imported where it is used.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from intake.outbound.base import TransientSendError, Transport

if TYPE_CHECKING:
    from intake.config import OutboundConfig

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def eml_name(raw: bytes) -> str:
    """The file name for a message: its Message-ID made safe (`SECOR-2026-000042.x7f@acsa.ca.eml`)."""
    from email.parser import BytesHeaderParser
    from email.policy import default as default_policy

    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    message_id = str(headers.get("Message-ID", "")).strip().strip("<>")
    name = _UNSAFE.sub("_", message_id).strip("._")[:200]
    if not name:
        raise ValueError("the message has no Message-ID to name its file after")
    return f"{name}.eml"


class FileTransport(Transport):
    """Writes each message to `<folder>/<Message-ID>.eml` atomically (temporary file, fsync, rename).

    A resend of the same reply rewrites the same file with the same bytes, so the folder holds
    exactly one file per reply whatever happens. The envelope is not recorded: the message's own
    headers name the recipient.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def from_config(cls, config: OutboundConfig, resolve_path: Callable[[str], Path]) -> FileTransport:
        return cls(resolve_path(config.path))

    def check(self) -> str:
        """The folder exists (or can be made) and takes a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".check-"):
            pass
        return f"file outbox {self.folder} writable"

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        target = self.folder / eml_name(raw)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(raw)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientSendError(f"cannot write {target}: {exc}", server_down=True) from exc
