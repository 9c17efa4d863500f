"""Mail sources: where submissions are read from (IMAP, or a local Maildir), behind one interface.

`open_mail_source(config.mailbox, config.resolve_path)` gives a `MailSource` to use as a context
manager; see `intake.mailbox.base` for the interface and the errors.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Callable

from intake.config import MailboxConfig
from intake.mailbox.base import (
    FolderState,
    LoginRefused,
    MailboxError,
    MailSource,
    MessageRef,
    MessageTooLarge,
)
from intake.tls import client_context

__all__ = ["FolderState", "LoginRefused", "MailboxError", "MailSource", "MessageRef",
           "MessageTooLarge", "open_mail_source"]


def open_mail_source(config: MailboxConfig, base_dir_resolver: Callable[[str], Path]) -> MailSource:
    """The configured mail source, not yet connected (enter it with `with`).

    `base_dir_resolver` makes configured relative paths absolute (`Config.resolve_path`).
    Raises MailboxError for settings that cannot work (plaintext to a remote host, no credentials).
    """
    if config.kind == "maildir":
        from intake.mailbox.maildir import MaildirSource

        return MaildirSource(base_dir_resolver(config.path))
    if config.kind != "imap":
        raise MailboxError(f"unknown mailbox kind {config.kind!r}")
    from intake.mailbox.imap import ImapSource

    try:
        context = client_context(str(base_dir_resolver(config.ca_bundle)) if config.ca_bundle else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"mailbox.ca_bundle: cannot load {config.ca_bundle}: {exc}") from exc
    token = None
    if config.auth == "oauth2":
        from intake.mailbox.oauth2 import token_source

        token = token_source(config, base_dir_resolver)
    return ImapSource(config.host, config.port, config.username, security=config.security,
                      password=None if token else config.password, token_source=token,
                      timeout=config.timeout_seconds, ssl_context=context,
                      chunk_bytes=config.fetch_chunk_bytes,
                      allow_plaintext_remote=config.allow_plaintext_remote)
