"""The mailbox interface: where submissions come from, whatever the store (IMAP or Maildir).

A `MailSource` is a context manager (connect on enter, log out on exit) that lists messages with
what deduplication and size limits need (UID, size, internal date, Message-ID) before any body is
read, streams a message's raw bytes in chunks, and files messages into folders. Folder names use
"/" as the hierarchy separator whatever the store's own delimiter is ("SECOR/Processed").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Callable, Self

if TYPE_CHECKING:
    from intake.config import MailboxConfig

HEADER_MAX_BYTES = 256 * 1024  # more header than this is not mail we need to read


class MailboxError(Exception):
    """The mailbox cannot be used now (dropped connection, BYE, time-out...): end the cycle, retry later."""


class LoginRefused(MailboxError):
    """The server refused the credentials or the OAuth2 token: an operator must act."""


class MessageTooLarge(MailboxError):
    """A message is over the size limit; nothing of it was fetched."""


@dataclass(frozen=True)
class FolderState:
    """What tells whether remembered UIDs are still valid for a folder."""

    uidvalidity: str  # IMAP UIDVALIDITY as str; Maildir: a stable id kept in the folder
    uidnext: str | None  # IMAP UIDNEXT; None for Maildir


@dataclass(frozen=True)
class MessageRef:
    """One message as listed, before its body is read."""

    folder: str
    uidvalidity: str
    uid: str  # IMAP UID as decimal str; Maildir: the message key
    size: int  # RFC822.SIZE / file size
    internal_date: datetime  # aware, UTC: when the server received it
    message_id: str | None  # from the header alone


class MailSource(ABC):
    """A mailbox: use as `with source:`; every method may raise MailboxError."""

    account: str  # stable identity for database keys: "imap://user@host:port", "maildir:/abs/path"

    @classmethod  # noqa: B027 - an optional hook: most backends accept any settings
    def validate(cls, config: MailboxConfig) -> None:
        """Raise ConfigError, naming the key, for `[mailbox]` settings this backend cannot work with."""

    @classmethod
    @abstractmethod
    def from_config(cls, config: MailboxConfig, resolve_path: Callable[[str], Path]) -> MailSource:
        """The source `[mailbox]` describes, not yet connected; `resolve_path` makes paths absolute."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def open(self) -> None:
        """Connect and log in (IMAP) or check the folder (Maildir)."""

    @abstractmethod
    def close(self) -> None:
        """Log out and release the connection; never raises."""

    def folder_exists(self, folder: str) -> bool:
        """Whether `folder` is there, creating nothing (`secor-intake check`)."""
        raise NotImplementedError(f"{type(self).__name__} cannot tell whether a folder exists")

    @abstractmethod
    def folder_state(self, folder: str) -> FolderState:
        """The folder's UIDVALIDITY (and UIDNEXT where known)."""

    @abstractmethod
    def list_messages(self, folder: str, after_uid: str | None = None) -> list[MessageRef]:
        """Messages in `folder`, oldest UID first; IMAP: only UIDs above `after_uid` when given."""

    @abstractmethod
    def fetch(self, ref: MessageRef, out: BinaryIO, max_bytes: int) -> int:
        """Write the raw RFC 822 message to `out` in chunks, without marking it seen.

        Returns the number of bytes written. Raises MessageTooLarge, before fetching anything,
        when `ref.size > max_bytes`.
        """

    @abstractmethod
    def fetch_header(self, ref: MessageRef, max_bytes: int = HEADER_MAX_BYTES) -> bytes:
        """The message's header block (up to `max_bytes`), without its body and without marking it
        seen: enough to answer the sender of a message too large to fetch."""

    @abstractmethod
    def move(self, ref: MessageRef, target_folder: str) -> None:
        """Move one message to `target_folder`, creating the folder (and its parents) if missing."""

    @abstractmethod
    def wait_for_mail(self, folder: str, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the store reported new mail in `folder`."""


def check_size(ref: MessageRef, max_bytes: int) -> None:
    """Raise MessageTooLarge when the listed size is over the limit."""
    if ref.size > max_bytes:
        raise MessageTooLarge(f"message {ref.uid} in {ref.folder} is {ref.size} bytes, over the {max_bytes}-byte limit")


def split_folder(folder: str) -> list[str]:
    """A contract folder name ("SECOR/Processed") as its path components; refuses empty parts."""
    parts = folder.split("/")
    if not folder or any(not p for p in parts):
        raise MailboxError(f"invalid folder name {folder!r}")
    return parts
