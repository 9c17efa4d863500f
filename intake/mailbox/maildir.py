"""Maildir mail source (the embedded default), laid out like Dovecot's Maildir++.

The root folder is INBOX; "SECOR/Processed" is the subfolder `<root>/.SECOR.Processed` (parents are
created too), names with non-ASCII characters are stored in IMAP modified UTF-7
(`.SECOR.Retourn&AOk-`). So the same tree can later be served by Dovecot with
`mail_location = maildir:<root>`. A "." inside a folder name component is refused (it is the
Maildir++ separator).

Messages are the files' bytes as stored (Dovecot stores LF line ends; `append` keeps what it is
given), and sizes are file sizes. UIDs are Maildir message keys (the file name before ":2,"), the
internal date is the file's mtime (Dovecot sets it to the INTERNALDATE), and each folder keeps a
random UIDVALIDITY in `secor-uidvalidity`. Messages are moved by rename, so their bytes and mtime
never change; fetching never touches flags. Folders are created mode 0700 (Python's mailbox).

The configuration imports this module to validate `[mailbox]` (intake.mailbox.MAIL_SOURCES), and every
command reads the configuration: the email and mailbox libraries are imported where they are used.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

from intake.mailbox.base import (
    HEADER_MAX_BYTES,
    FolderState,
    MailboxError,
    MailSource,
    MessageRef,
    check_size,
    split_folder,
)

if TYPE_CHECKING:
    import mailbox

    from intake.config import MailboxConfig

UIDVALIDITY_FILE = "secor-uidvalidity"
POLL_SECONDS = 0.2  # wait_for_mail's look at new/ and cur/
COPY_CHUNK = 1 << 20


def folder_dir_name(folder: str) -> str:
    """The Maildir++ directory name of a non-INBOX folder ("SECOR/Processed" -> ".SECOR.Processed")."""
    parts = split_folder(folder)
    if any("." in p for p in parts):
        raise MailboxError(f"folder {folder!r}: '.' is the Maildir++ separator and cannot be in a name")
    from imapclient import imap_utf7  # imported on use: reading the configuration imports this module

    return "." + ".".join(imap_utf7.encode(p).decode("ascii") for p in parts)


def read_header(path: Path, max_bytes: int = HEADER_MAX_BYTES) -> bytes:
    """The file's header block up to and including the blank line (at most `max_bytes`)."""
    with path.open("rb") as f:
        head = f.read(max_bytes)
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := head.find(sep)) >= 0]
    return head[:min(ends)] if ends else head


def read_message_id(path: Path) -> str | None:
    """The Message-ID from the file's header block, without reading the body."""
    from email.parser import BytesHeaderParser

    value = BytesHeaderParser().parsebytes(read_header(path)).get("Message-ID")
    value = " ".join(str(value).split()) if value is not None else ""
    return value or None


class MaildirSource(MailSource):
    """A Maildir++ tree on local disk."""

    def __init__(self, path: Path, poll_seconds: float = POLL_SECONDS) -> None:
        self.root = Path(path).resolve()
        self.account = f"maildir:{self.root}"
        self.poll_seconds = poll_seconds
        self._box: mailbox.Maildir | None = None

    @classmethod
    def from_config(cls, config: MailboxConfig, resolve_path: Callable[[str], Path]) -> MaildirSource:
        return cls(resolve_path(config.path))

    def open(self) -> None:
        """Open the root (INBOX), creating it (and missing parents) when missing."""
        import mailbox

        try:
            for sub in ("cur", "new", "tmp"):  # mailbox.Maildir would not create parents
                (self.root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.root, factory=None, create=False)
        except OSError as exc:
            raise MailboxError(f"cannot open Maildir {self.root}: {exc}") from exc

    def close(self) -> None:
        self._box = None

    @property
    def box(self) -> mailbox.Maildir:
        if self._box is None:
            raise MailboxError("Maildir source is not open (use it as a context manager)")
        return self._box

    # -- folders ----------------------------------------------------------------------------------

    def folder_path(self, folder: str) -> Path:
        """The folder's directory (whether or not it exists)."""
        return self.root if folder.upper() == "INBOX" else self.root / folder_dir_name(folder)

    def folder_exists(self, folder: str) -> bool:
        path = self.folder_path(folder)
        return (path / "cur").is_dir() and (path / "new").is_dir()

    def _existing(self, folder: str) -> Path:
        path = self.folder_path(folder)
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise MailboxError(f"no folder {folder!r} in {self.root}")
        return path

    def _ensure_folder(self, folder: str) -> Path:
        """The folder's directory, creating it and its parents as Maildir++ subfolders."""
        if folder.upper() == "INBOX":
            return self.root
        parts = split_folder(folder)
        try:
            for depth in range(1, len(parts) + 1):
                name = folder_dir_name("/".join(parts[:depth]))[1:]  # add_folder adds the dot
                if not (self.root / f".{name}" / "cur").is_dir():
                    self.box.add_folder(name)
        except OSError as exc:
            raise MailboxError(f"cannot create folder {folder!r}: {exc}") from exc
        return self.folder_path(folder)

    def _uidvalidity(self, path: Path) -> str:
        """The folder's stored id, created once: written aside, then linked in (the first writer wins)."""
        file = path / UIDVALIDITY_FILE
        try:
            with contextlib.suppress(FileNotFoundError):
                return file.read_text(encoding="ascii").strip()
            import secrets

            tmp = path / f".{UIDVALIDITY_FILE}.{secrets.token_hex(6)}"
            tmp.write_text(f"{secrets.randbelow(2**31 - 1) + 1}\n", encoding="ascii")
            try:
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, file)  # never a half-written file for a concurrent reader
            finally:
                tmp.unlink()
            return file.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise MailboxError(f"cannot keep the UIDVALIDITY of {path}: {exc}") from exc

    def folder_state(self, folder: str) -> FolderState:
        return FolderState(uidvalidity=self._uidvalidity(self._existing(folder)), uidnext=None)

    # -- messages ---------------------------------------------------------------------------------

    @staticmethod
    def _files(path: Path) -> dict[str, Path]:
        """Message key -> file, for new/ and cur/ (dot files are delivery leftovers: skipped)."""
        found: dict[str, Path] = {}
        for sub in ("new", "cur"):
            with os.scandir(path / sub) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    found[entry.name.split(":", 1)[0]] = Path(entry.path)
        return found

    def _file_of(self, ref: MessageRef) -> Path | None:
        path = self._existing(ref.folder)
        current = self._uidvalidity(path)
        if current != ref.uidvalidity:
            raise MailboxError(f"UIDVALIDITY of {ref.folder} changed ({ref.uidvalidity} -> {current}): "
                               "list the folder again")
        return self._files(path).get(ref.uid)

    def list_messages(self, folder: str, after_uid: str | None = None) -> list[MessageRef]:
        """Every message in new/ and cur/, oldest first; `after_uid` is ignored (keys are unordered)."""
        path = self._existing(folder)
        uidvalidity = self._uidvalidity(path)
        refs: list[MessageRef] = []
        for key, file in self._files(path).items():
            try:
                stat = file.stat()
                message_id = read_message_id(file)
            except FileNotFoundError:  # moved by another process meanwhile
                continue
            refs.append(MessageRef(folder=folder, uidvalidity=uidvalidity, uid=key, size=stat.st_size,
                                   internal_date=datetime.fromtimestamp(stat.st_mtime, timezone.utc),
                                   message_id=message_id))
        return sorted(refs, key=lambda r: (r.internal_date, r.uid))

    def fetch(self, ref: MessageRef, out: BinaryIO, max_bytes: int) -> int:
        """Copy the file's bytes to `out` in chunks."""
        check_size(ref, max_bytes)
        file = self._file_of(ref)
        if file is None:
            raise MailboxError(f"message {ref.uid} is no longer in {ref.folder}")
        written = 0
        try:
            with file.open("rb") as f:
                while chunk := f.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > max(max_bytes, ref.size):
                        raise MailboxError(f"message {ref.uid} grew past its listed size {ref.size}")
                    out.write(chunk)
        except OSError as exc:
            raise MailboxError(f"cannot read message {ref.uid}: {exc}") from exc
        return written

    def fetch_header(self, ref: MessageRef, max_bytes: int = HEADER_MAX_BYTES) -> bytes:
        """The file's header block."""
        file = self._file_of(ref)
        if file is None:
            raise MailboxError(f"message {ref.uid} is no longer in {ref.folder}")
        try:
            return read_header(file, max_bytes)
        except OSError as exc:
            raise MailboxError(f"cannot read message {ref.uid}: {exc}") from exc

    def move(self, ref: MessageRef, target_folder: str) -> None:
        """Rename the file into the target folder's same subdirectory; a message already gone is left be."""
        file = self._file_of(ref)
        if file is None:
            return
        target = self._ensure_folder(target_folder) / file.parent.name / file.name
        try:
            os.rename(file, target)
        except FileNotFoundError:
            return  # moved by another process meanwhile
        except OSError as exc:
            raise MailboxError(f"cannot move message {ref.uid} to {target_folder}: {exc}") from exc

    def append(self, folder: str, raw: bytes, when: datetime | None = None) -> None:
        """Deliver `raw` (bytes unchanged) to the folder's new/; `when` becomes the mtime (demo and tests)."""
        import mailbox

        path = self._ensure_folder(folder)
        box = self.box if path == self.root else mailbox.Maildir(path, factory=None, create=False)
        try:
            key = box.add(raw)
            if when is not None:
                stamp = when.timestamp()
                os.utime(path / "new" / key, (stamp, stamp))  # add() delivers bytes to new/<key>
        except OSError as exc:
            raise MailboxError(f"cannot deliver to {folder!r}: {exc}") from exc

    def wait_for_mail(self, folder: str, timeout: float) -> bool:
        """Poll the folder's new/ and cur/ until a message key not seen before appears (True)."""
        path = self._existing(folder)
        seen = set(self._files(path))
        deadline = time.monotonic() + max(0.0, timeout)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(self.poll_seconds, left))
            if set(self._files(path)) - seen:
                return True
        return False
