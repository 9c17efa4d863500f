"""Mail sources: where submissions are read from (IMAP, or a local Maildir), behind one interface.

`open_mail_source(config.mailbox, config.resolve_path)` gives a `MailSource` to use as a context
manager; see `intake.mailbox.base` for the interface and the errors. A backend is a `MailSource`
subclass in its own module, registered in MAIL_SOURCES under its `mailbox.kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from intake.backends import Backends
from intake.mailbox.base import (
    FolderState,
    LoginRefused,
    MailboxError,
    MailSource,
    MessageRef,
    MessageTooLarge,
)

if TYPE_CHECKING:
    from intake.config import MailboxConfig

__all__ = ["MAIL_SOURCES", "FolderState", "LoginRefused", "MailboxError", "MailSource", "MessageRef",
           "MessageTooLarge", "open_mail_source"]

MAIL_SOURCES: Backends[MailSource] = Backends({
    "imap": "intake.mailbox.imap:ImapSource",
    "maildir": "intake.mailbox.maildir:MaildirSource",
})


def open_mail_source(config: MailboxConfig, base_dir_resolver: Callable[[str], Path]) -> MailSource:
    """The configured mail source, not yet connected (enter it with `with`).

    `base_dir_resolver` makes configured relative paths absolute (`Config.resolve_path`).
    Raises MailboxError for settings that cannot work (plaintext to a remote host, no credentials).
    """
    if config.kind not in MAIL_SOURCES.kinds:
        raise MailboxError(f"unknown mailbox kind {config.kind!r}")
    return MAIL_SOURCES[config.kind].from_config(config, base_dir_resolver)
