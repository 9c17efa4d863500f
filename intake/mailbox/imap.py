"""IMAP mail source (imapclient): SSL, STARTTLS or plain; password or XOAUTH2; MOVE or COPY+EXPUNGE.

Folder names arrive in the contract's form ("SECOR/Processed") and are mapped to the server's
hierarchy delimiter and personal namespace prefix; imapclient encodes non-ASCII names in modified
UTF-7. Every library or socket failure leaves this module as MailboxError (LoginRefused for
refused credentials), so the caller's cycle ends cleanly and reconnects next time.
"""

from __future__ import annotations

import contextlib
import email.parser
import imaplib
import ipaddress
import logging
import ssl
import time
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from intake.config import ConfigError, MailboxConfig
from intake.mailbox.base import (
    HEADER_MAX_BYTES,
    FolderState,
    LoginRefused,
    MailboxError,
    MailSource,
    MessageRef,
    check_size,
    split_folder,
)
from intake.tls import client_context

if TYPE_CHECKING:
    from intake.oauth2 import TokenSource

log = logging.getLogger(__name__)

FETCH_BATCH = 200  # UIDs per FETCH when listing
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
LIST_ITEMS = [b"RFC822.SIZE", b"INTERNALDATE", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
HEADER_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


def is_loopback(host: str) -> bool:
    """True for "localhost" and loopback IP literals (the only hosts plaintext IMAP may reach)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def imap_errors(what: str) -> Iterator[None]:
    """Turn imapclient/imaplib/socket failures into MailboxError (LoginRefused for logins)."""
    try:
        yield
    except MailboxError:
        raise
    except LoginError as exc:
        raise LoginRefused(f"IMAP login refused ({what}): {exc}") from exc
    except imaplib.IMAP4.abort as exc:  # BYE, EOF, protocol abort
        raise MailboxError(f"IMAP connection lost during {what}: {exc}") from exc
    except imaplib.IMAP4.error as exc:  # NO/BAD answers
        raise MailboxError(f"IMAP {what} failed: {exc}") from exc
    except (OSError, EOFError) as exc:  # time-outs, resets, TLS errors
        raise MailboxError(f"IMAP connection error during {what}: {exc!r}") from exc


def message_id_from_header(raw: bytes | None) -> str | None:
    """The Message-ID value from a header-only fetch, whitespace unfolded; None when absent."""
    if not raw:
        return None
    value = email.parser.BytesHeaderParser().parsebytes(raw).get("Message-ID")
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


class ImapSource(MailSource):
    """An IMAP account. `use_move = False` forces the COPY + \\Deleted + UID EXPUNGE path."""

    def __init__(self, host: str, port: int, username: str, *, security: str = "ssl",
                 password: str | None = None, token_source: TokenSource | None = None,
                 timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None,
                 chunk_bytes: int = 1_000_000, allow_plaintext_remote: bool = False) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise MailboxError(f"unknown IMAP security {security!r}")
        if security == "none" and not allow_plaintext_remote and not is_loopback(host):
            raise MailboxError(f"refusing plaintext IMAP to {host}: use ssl or starttls "
                               "(or set mailbox.allow_plaintext_remote)")
        if (password is None) == (token_source is None):
            raise MailboxError("IMAP needs exactly one of a password or an OAuth2 token source")
        self.host, self.port, self.username, self.security = host, port, username, security
        # No port: the same mailbox reached another way (993 or 143, a proxy) keeps its keys.
        self.account = f"imap://{username}@{host}"
        self.use_move = True
        self.use_idle = True
        self._password = password
        self._token_source = token_source
        self._timeout = timeout
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._chunk = max(1, chunk_bytes)
        self._client: IMAPClient | None = None
        self._delimiter = "/"
        self._prefix = ""
        self._selected: str | None = None  # server name of the selected folder
        self._selected_uidvalidity = ""
        self._known_folders: set[str] = set()

    @classmethod
    def validate(cls, config: MailboxConfig) -> None:
        """A host, a user name, and the password or the OAuth2 token source `auth` asks for."""
        for key in ("host", "username"):
            if not getattr(config, key):
                raise ConfigError(f"mailbox.{key}: required when mailbox.kind = \"imap\"")
        if config.auth == "password" and not config.password:
            raise ConfigError("mailbox.password: required when mailbox.auth = \"password\" "
                              "(or give mailbox.password_file)")
        if config.auth == "oauth2":
            from intake import oauth2

            oauth2.validate("mailbox", config)

    @classmethod
    def from_config(cls, config: MailboxConfig, resolve_path: Callable[[str], Path]) -> ImapSource:
        """TLS checked against the system's roots plus `ca_bundle`; a password, or an OAuth2 token source."""
        try:
            context = client_context(str(resolve_path(config.ca_bundle)) if config.ca_bundle else None)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(f"mailbox.ca_bundle: cannot load {config.ca_bundle}: {exc}") from exc
        token = None
        if config.auth == "oauth2":
            from intake.oauth2 import settings_for, shared_token_source

            token = shared_token_source(settings_for(config, resolve_path), "mailbox")
        return cls(config.host, config.port, config.username, security=config.security,
                   password=None if token else config.password, token_source=token,
                   timeout=config.timeout_seconds, ssl_context=context, chunk_bytes=config.fetch_chunk_bytes,
                   allow_plaintext_remote=config.allow_plaintext_remote)

    # -- connection -------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, secure, log in, and learn the folder delimiter and namespace prefix."""
        with imap_errors("connect"):
            client = IMAPClient(self.host, self.port, ssl=self.security == "ssl",
                                ssl_context=self._ssl_context, timeout=self._timeout)
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            # IMAPClient sets imaplib's debug level to 5 for its logger, and imaplib then formats the
            # repr of every literal before that logger drops it: ~12% of a poll of 4 MB emails.
            client._imap.debug = 0
        self._client = client
        try:
            with imap_errors("login"):
                client.normalise_times = False  # aware INTERNALDATEs
                if self.security == "starttls":
                    client.starttls(self._ssl_context)
                if self._token_source is not None:
                    self._oauth2_login(client, self._token_source)
                else:
                    client.login(self.username, self._password or "")
                self._learn_hierarchy(client)
        except BaseException:
            self.close()
            raise

    def _oauth2_login(self, client: IMAPClient, source: TokenSource) -> None:
        """XOAUTH2 with the shared token; once refused (revoked early, expired by the server's
        clock), again with a newly fetched one."""
        token = source.token()
        try:
            client.oauth2_login(self.username, token)
            return
        except LoginError:
            log.info("XOAUTH2 login for %s refused: trying once more with a new token", self.username)
        try:
            client.oauth2_login(self.username, source.renew(token))
        except LoginError as exc:
            raise LoginRefused(f"XOAUTH2 login for {self.username} refused (token expired "
                               f"or not valid for this mailbox): {exc}") from exc

    def _learn_hierarchy(self, client: IMAPClient) -> None:
        """The personal namespace prefix and delimiter ("INBOX." on Courier-style servers)."""
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            if personal:
                prefix, delimiter = personal[0]
                self._prefix = prefix or ""
                if delimiter:
                    self._delimiter = delimiter
                return
        listing = client.list_folders("", "")
        if listing and listing[0][1]:
            delimiter = listing[0][1]
            self._delimiter = delimiter.decode() if isinstance(delimiter, bytes) else delimiter

    def close(self) -> None:
        """Log out; a connection that is already broken is just dropped."""
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # already broken: nothing more to say to the server
            with contextlib.suppress(Exception):
                client.shutdown()

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxError("IMAP source is not connected (use it as a context manager)")
        return self._client

    # -- folders ----------------------------------------------------------------------------------

    def server_name(self, folder: str) -> str:
        """The server's name for a contract folder name ("SECOR/Processed" -> "SECOR.Processed")."""
        if folder.upper() == "INBOX":
            return "INBOX"
        parts = split_folder(folder)
        if self._delimiter != "/" and any(self._delimiter in p for p in parts):
            raise MailboxError(f"folder {folder!r} contains the server's delimiter {self._delimiter!r}")
        name = self._delimiter.join(parts)
        if self._prefix and not name.startswith(self._prefix):
            name = self._prefix + name
        return name

    def _ensure_folder(self, folder: str) -> str:
        """The folder's server name, creating it and its parents (subscribed) when missing."""
        name = self.server_name(folder)
        if name == "INBOX" or name in self._known_folders:
            return name
        parts = split_folder(folder)
        with imap_errors(f"create {folder}"):
            for depth in range(1, len(parts) + 1):
                path = self.server_name("/".join(parts[:depth]))
                if path not in self._known_folders and not self.client.folder_exists(path):
                    try:
                        self.client.create_folder(path)
                    except imaplib.IMAP4.error:
                        # Another daemon may have created it since we looked (RFC 5530 ALREADYEXISTS).
                        if not self.client.folder_exists(path):
                            raise
                    with contextlib.suppress(imaplib.IMAP4.error):
                        self.client.subscribe_folder(path)
                self._known_folders.add(path)
        return name

    def _select(self, folder: str) -> str:
        """Select (read-write) a folder unless it is already; returns its UIDVALIDITY."""
        name = self.server_name(folder)
        if self._selected != name:
            with imap_errors(f"select {folder}"):
                response = self.client.select_folder(name)
            self._selected = name
            self._selected_uidvalidity = str(response.get(b"UIDVALIDITY", ""))
        return self._selected_uidvalidity

    def _select_for(self, ref: MessageRef) -> None:
        """Select the message's folder and refuse to act on UIDs from an older UIDVALIDITY."""
        current = self._select(ref.folder)
        if current != ref.uidvalidity:
            raise MailboxError(f"UIDVALIDITY of {ref.folder} changed ({ref.uidvalidity} -> {current}): "
                               "list the folder again")

    def folder_exists(self, folder: str) -> bool:
        with imap_errors(f"list {folder}"):
            return bool(self.client.folder_exists(self.server_name(folder)))

    def folder_state(self, folder: str) -> FolderState:
        """STATUS (UIDVALIDITY UIDNEXT)."""
        with imap_errors(f"status {folder}"):
            status = self.client.folder_status(self.server_name(folder), [b"UIDVALIDITY", b"UIDNEXT"])
        uidnext = status.get(b"UIDNEXT")
        return FolderState(uidvalidity=str(status[b"UIDVALIDITY"]),
                           uidnext=None if uidnext is None else str(uidnext))

    # -- messages ---------------------------------------------------------------------------------

    def list_messages(self, folder: str, after_uid: str | None = None) -> list[MessageRef]:
        """Undeleted messages with UID > after_uid, with size, date and Message-ID, no bodies."""
        uidvalidity = self._select(folder)
        floor = int(after_uid) if after_uid else 0
        criteria = ["UID", f"{floor + 1}:*", "UNDELETED"] if floor else ["UNDELETED"]
        with imap_errors(f"search {folder}"):
            # "n+1:*" always matches the highest UID, even when it is <= n: filter.
            uids = sorted(uid for uid in self.client.search(criteria) if uid > floor)
        refs: list[MessageRef] = []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start:start + FETCH_BATCH]
            with imap_errors(f"fetch headers in {folder}"):
                response = self.client.fetch(batch, LIST_ITEMS)
            for uid in batch:
                data = response.get(uid)
                if data is None:  # expunged by someone else since the SEARCH
                    continue
                refs.append(MessageRef(
                    folder=folder,
                    uidvalidity=uidvalidity,
                    uid=str(uid),
                    size=int(data[b"RFC822.SIZE"]),
                    internal_date=data[b"INTERNALDATE"].astimezone(timezone.utc),
                    message_id=message_id_from_header(data.get(HEADER_KEY)),
                ))
        return refs

    def fetch(self, ref: MessageRef, out: BinaryIO, max_bytes: int) -> int:
        """BODY.PEEK[]<offset.chunk> until a short chunk; never sets \\Seen."""
        check_size(ref, max_bytes)
        self._select_for(ref)
        uid, written = int(ref.uid), 0
        while True:
            with imap_errors(f"fetch {ref.uid} from {ref.folder}"):
                response = self.client.fetch([uid], [f"BODY.PEEK[]<{written}.{self._chunk}>"])
            if uid not in response:
                raise MailboxError(f"message {ref.uid} is no longer in {ref.folder}")
            data = response[uid].get(f"BODY[]<{written}>".encode()) or b""
            out.write(data)
            written += len(data)
            if written > max(max_bytes, ref.size):
                raise MailboxError(f"message {ref.uid} grew past its listed size {ref.size}")
            if len(data) < self._chunk:
                return written

    def fetch_header(self, ref: MessageRef, max_bytes: int = HEADER_MAX_BYTES) -> bytes:
        """BODY.PEEK[HEADER]<0.max_bytes>; never sets \\Seen."""
        self._select_for(ref)
        uid = int(ref.uid)
        with imap_errors(f"fetch header of {ref.uid} from {ref.folder}"):
            response = self.client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{max_bytes}>"])
        if uid not in response:
            raise MailboxError(f"message {ref.uid} is no longer in {ref.folder}")
        return response[uid].get(b"BODY[HEADER]<0>") or b""

    def move(self, ref: MessageRef, target_folder: str) -> None:
        """MOVE, else COPY + \\Deleted + UID EXPUNGE of that UID only; a message already gone is left be."""
        self._select_for(ref)
        target = self._ensure_folder(target_folder)
        uid = int(ref.uid)
        with imap_errors(f"move {ref.uid} to {target_folder}"):
            if not self.client.search(["UID", str(uid)]):
                log.warning("message %s is no longer in %s; not moving it", ref.uid, ref.folder)
                return
            if self.use_move and self.client.has_capability("MOVE"):
                try:
                    self.client.move([uid], target)
                except IMAPClientError as exc:
                    if "EXPUNGEISSUED" not in str(exc):
                        raise
                    # Another daemon moved it between our SEARCH and MOVE: the outcome is the same.
                    log.warning("message %s was moved by another session meanwhile", ref.uid)
                return
            self.client.copy([uid], target)
            self.client.add_flags([uid], [b"\\Deleted"], silent=True)
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge([uid])
            else:  # a plain EXPUNGE could remove other clients' deleted mail: leave it flagged
                log.warning("server lacks UIDPLUS: message %s copied to %s and flagged \\Deleted, "
                            "not expunged", ref.uid, target_folder)

    def wait_for_mail(self, folder: str, timeout: float) -> bool:
        """IDLE until EXISTS/RECENT (True) or time-out (False), renewed every 25 minutes.

        Without IDLE this just sleeps and returns False: the caller polls.
        """
        if not (self.use_idle and self.client.has_capability("IDLE")):
            time.sleep(max(0.0, timeout))
            return False
        try:
            return self._idle(folder, timeout)
        except LoginRefused:
            raise
        except MailboxError as exc:
            # A dropped IDLE connection (BYE, reset, time-out) is reopened at once rather than after a
            # poll interval; when the server is really gone, open() raises and the caller polls.
            log.warning("IDLE connection lost (%s): reconnecting", exc)
            from intake import metrics  # only a daemon, which serves the metrics, waits for mail

            metrics.IMAP_RECONNECTS.inc()
            self.close()
            self.open()
            self._select(folder)
            return True  # mail may have arrived while the connection was down: poll now

    def _idle(self, folder: str, timeout: float) -> bool:
        self._select(folder)
        deadline = time.monotonic() + max(0.0, timeout)
        with imap_errors(f"idle on {folder}"):
            while True:
                self.client.idle()
                arrived = False
                try:
                    renew_at = min(deadline, time.monotonic() + IDLE_RENEW_SECONDS)
                    while not arrived and (left := renew_at - time.monotonic()) > 0:
                        responses = self.client.idle_check(timeout=left)
                        arrived = _says_new_mail(responses)
                        if not responses:
                            break  # time-out, or EOF: idle_done() below tells which
                finally:
                    _, responses = self.client.idle_done()
                if arrived or _says_new_mail(responses):
                    return True
                if time.monotonic() >= deadline:
                    return False


def _says_new_mail(responses: list) -> bool:
    """True when IDLE responses announce messages (EXISTS/RECENT); BYE raises."""
    for item in responses:
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        if item[0] == b"BYE":
            raise MailboxError(f"IMAP server said BYE: {item[1:]!r}")
        if isinstance(item[0], int) and item[1] in (b"EXISTS", b"RECENT") and item[0] > 0:
            return True
    return False
