"""The MIME walk: bodies and zip-like attachments (also in forwarded messages and TNEF) to disk."""

from __future__ import annotations

import email.policy
import email.utils
import itertools
import os
from email.message import Message
from email.parser import BytesFeedParser, BytesParser
from pathlib import Path
from typing import Iterator

from fetchers.links import find_links
from intake.message.charset import decode_bytes, decode_header_text
from intake.message.elider import Elided, b64_chunks, payload_chunks, qp_chunks
from intake.message.headers import body_start, first_header, headers_without_mime
from intake.message.model import MAX_ATTACHMENTS, MAX_DEPTH, MAX_TEXT_CHARS, Attachment
from intake.message.tnef import TNEF_MAGIC, TNEF_TYPES, tnef_bounded
from triage.archive import OTHER_ARCHIVE_FORMATS
from triage.paths import numbered, safe_name

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


ZIP_TYPES = {"application/zip", "application/x-zip", "application/x-zip-compressed",
             "application/zip-compressed", "multipart/x-zip"}


ZIP_EXTENSIONS = {".zip"}


# Other archives: not a submission we accept, but a submission attempt triage answers with
# archive.not_zip, so they travel with the message too.
OTHER_ARCHIVE_TYPES = {"application/x-rar-compressed", "application/vnd.rar", "application/x-rar",
                       "application/x-7z-compressed", "application/x-tar", "application/gzip",
                       "application/x-gzip", "application/x-bzip2", "application/x-xz",
                       "application/x-zstd", "application/x-compressed", "application/x-gtar"}


OTHER_ARCHIVE_EXTENSIONS = {".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz",
                            ".zst", ".zipx", ".cab", ".arj", ".lzh", ".ace"}


OTHER_ARCHIVE_MAGICS = tuple(magic for offset, magic, _ in OTHER_ARCHIVE_FORMATS if offset == 0)


def _open_unique(workdir: Path, name: str):
    """Create a new file in workdir named `name`, or `stem (2).ext`...: never overwrites."""
    for candidate in itertools.islice(numbered(name), 10_000):
        path = workdir / candidate
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "wb")
    raise OSError(f"no free file name for {name!r} in {workdir}")


def _archive_kind(filename: str, content_type: str, head: bytes) -> tuple[bool, bool]:
    """(archive-like, is_zip) from content first, then the claimed type and extension."""
    ext = os.path.splitext(filename.lower())[1]
    if head.startswith(ZIP_MAGICS):
        return True, True
    if content_type in ZIP_TYPES or ext in ZIP_EXTENSIONS:
        return True, True  # claims to be a zip: triage decides whether it is one
    if content_type in OTHER_ARCHIVE_TYPES or ext in OTHER_ARCHIVE_EXTENSIONS or head.startswith(OTHER_ARCHIVE_MAGICS):
        return True, False
    return False, False


class PartCollector:
    """Walks the MIME tree once, gathering bodies and writing archive attachments under a byte budget."""

    def __init__(self, workdir: Path, budget: int, defects: list[str], elided: Elided | None = None) -> None:
        self.elided = elided
        self.workdir = workdir
        self.budget = budget
        self.written = 0
        self.defects = defects
        self.text: list[str] = []
        self.html: list[str] = []
        self.text_chars = 0
        self.html_chars = 0
        self.attachments: list[Attachment] = []
        self.content_types: set[str] = set()
        self.report_types: set[str] = set()
        self.enclosed_fields: set[str] = set()
        self.depth_capped = False

    def walk(self, part: Message, depth: int = 0, label: str = "1", forwarded: bool = False) -> None:
        """Visit `part` and its children up to MAX_DEPTH; a part that fails is a defect, not a crash."""
        if depth > MAX_DEPTH:
            if not self.depth_capped:
                self.depth_capped = True
                self.defects.append(f"MIME nesting deeper than {MAX_DEPTH}: inner parts ignored")
            return
        try:
            self._visit(part, depth, label, forwarded)
        except OSError:
            raise  # the disk, not the mail: the caller retries later
        except Exception as exc:  # a part we cannot read must not lose the rest of the message
            self.defects.append(f"part {label}: unreadable ({type(exc).__name__}: {exc})")

    def _visit(self, part: Message, depth: int, label: str, forwarded: bool) -> None:
        for defect in getattr(part, "defects", []) or []:
            self.defects.append(f"part {label}: {type(defect).__name__}")
        content_type = part.get_content_type()
        if not forwarded:  # a bounce a person forwards to us is not itself automatic
            self.content_types.add(content_type)
            if content_type == "multipart/report":
                self.report_types.add(str(part.get_param("report-type") or "").lower())
        if part.is_multipart():
            children = part.get_payload()
            inner = forwarded or content_type == "message/rfc822"
            if content_type == "message/rfc822":
                children = self._encoded_message(part, children, label) or children
                if not forwarded and isinstance(children, list):
                    self.enclosed_fields.update(str(key).lower() for child in children
                                                if isinstance(child, Message) for key in child.keys())
            if isinstance(children, list):
                for i, child in enumerate(children, 1):
                    self.walk(child, depth + 1, f"{label}.{i}", inner)
            return
        where = f"part {label} ({content_type}): "
        filename = self._filename(part, where)
        disposition = (part.get_content_disposition() or "").lower()
        # a multipart whose boundary never shows is text, as a mail client would show it
        as_text = content_type.startswith("multipart/") or content_type in ("text/plain", "text/html")
        if as_text and disposition != "attachment" and not filename:
            self._body(part, "text/html" if content_type == "text/html" else "text/plain", where)
            return
        self._attachment(part, filename or "", content_type, where)

    def _encoded_message(self, part: Message, children: object, label: str) -> list[Message] | None:
        """A forwarded message sent base64 or quoted-printable (Exchange does), decoded and parsed.

        The parser reads such a part as a message without headers whose body is the encoded text.
        """
        cte = str(first_header(part, "Content-Transfer-Encoding") or "").strip().lower()
        if cte not in ("base64", "quoted-printable") or not isinstance(children, list) or len(children) != 1:
            return None
        encoded = children[0]
        body = encoded.get_payload()
        if list(encoded.keys()) or not isinstance(body, str):
            return None
        where = f"part {label} (message/rfc822): "
        if self.elided is not None and self.elided.holds(body):
            body = self.elided.pieces(body) if cte == "base64" else self.elided.restore(encoded)
        chunks = b64_chunks(body, self.defects, where) if cte == "base64" else qp_chunks(body)
        return [parse_tree(b"".join(chunks), self.defects, self.elided)]

    def _filename(self, part: Message, where: str) -> str:
        """The attachment's decoded file name (RFC 2231 and encoded words), or ''."""
        try:
            name = part.get_filename() or part.get_param("name") or ""
        except Exception:
            self.defects.append(f"{where}unreadable file name")
            name = ""
        if isinstance(name, tuple):  # RFC 2231 (charset, language, value) left undecoded
            name = email.utils.collapse_rfc2231_value(name)
        return decode_header_text(name, self.defects, where)

    def _body(self, part: Message, content_type: str, where: str) -> None:
        if self.elided is not None and self.elided.holds(part.get_payload()):
            self.elided.restore(part)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return
        text = decode_bytes(data, part.get_content_charset(), self.defects, where).replace("\r\n", "\n")
        if content_type == "text/html":
            self.html_chars = self._append(self.html, text, self.html_chars, where)
        else:
            self.text_chars = self._append(self.text, text, self.text_chars, where)

    def _append(self, into: list[str], text: str, used: int, where: str) -> int:
        room = MAX_TEXT_CHARS - used
        if len(text) > room:
            self.defects.append(f"{where}body text cut at {MAX_TEXT_CHARS} characters")
            text = text[:max(room, 0)]
        if text:
            into.append(text)
        return used + len(text)

    def _attachment(self, part: Message, filename: str, content_type: str, where: str) -> None:
        chunks = payload_chunks(part, self.defects, where, self.elided)
        head = next(chunks, b"")
        if content_type in TNEF_TYPES or filename.lower() == "winmail.dat" or head.startswith(TNEF_MAGIC):
            data = self._read_whole(head, chunks, where)
            if data is not None:
                self._tnef(data, where)
            return
        archive, is_zip = _archive_kind(filename, content_type, head)
        if archive:
            self._write(filename, content_type, is_zip, self._iter_with(head, chunks))

    @staticmethod
    def _iter_with(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
        yield head
        yield from rest

    def _read_whole(self, head: bytes, rest: Iterator[bytes], where: str) -> bytes | None:
        """A part held in memory (winmail.dat must be parsed whole), or None past the attachment limit."""
        out = bytearray()
        for chunk in self._iter_with(head, rest):
            out += chunk
            if len(out) > self.budget:
                self.defects.append(f"{where}larger than the attachment limit ({self.budget} bytes): not read")
                return None
        return bytes(out)

    def _write(self, filename: str, content_type: str, is_zip: bool, chunks: Iterator[bytes]) -> None:
        """Stream one archive to disk; past the budget keep only what fits and mark it truncated."""
        default = "attachment.zip" if is_zip else "attachment"
        safe = safe_name(filename, default)
        if len(self.attachments) >= MAX_ATTACHMENTS:
            self.defects.append(f"attachment {safe!r}: more than {MAX_ATTACHMENTS} archives, not kept")
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        path, out = _open_unique(self.workdir, safe)
        size = 0
        truncated = False
        with out:
            for chunk in chunks:
                room = self.budget - self.written
                if len(chunk) > room:
                    chunk = chunk[:max(room, 0)]
                    truncated = True
                if chunk:
                    out.write(chunk)
                    size += len(chunk)
                    self.written += len(chunk)
                if truncated:
                    break
        if truncated:
            self.defects.append(f"attachment {safe!r}: attachment limit of {self.budget} bytes reached, "
                                f"kept the first {size} bytes")
        self.attachments.append(Attachment(filename=safe, content_type=content_type, path=path, size=size,
                                           is_zip=is_zip, truncated=truncated))

    def _tnef(self, data: bytes, where: str) -> None:
        """Archives carried inside an Outlook winmail.dat (TNEF), and its text body if the mail had none."""
        from tnefparse.tnef import TNEF  # imported here: only Outlook mail needs it

        try:
            tnef = TNEF(tnef_bounded(data, self.defects, where), do_checksum=False)
        except Exception as exc:
            self.defects.append(f"{where}winmail.dat unreadable ({type(exc).__name__})")
            return
        body = tnef.body
        if body and not self.text:
            text = (body if isinstance(body, str) else decode_bytes(body, "cp1252")).replace("\r\n", "\n")
            self.text_chars = self._append(self.text, text, self.text_chars, where)
        for att in tnef.attachments:
            try:
                name = str(att.long_filename() or "")
                payload = att.data if isinstance(att.data, bytes) else b""
            except Exception:
                self.defects.append(f"{where}winmail.dat attachment unreadable")
                continue
            archive, is_zip = _archive_kind(name, "application/octet-stream", payload[:8])
            if archive:
                kind = "application/zip" if is_zip else "application/octet-stream"
                self._write(name, kind, is_zip, iter([payload]))


def parse_tree(raw: bytes, defects: list[str], elided: Elided | None = None) -> Message:
    """The MIME tree; a message nested past the parser's recursion limit keeps only its headers and raw body.

    With `elided`, long base64 runs of `raw` bypass the parser (see Elided)."""
    if elided is not None:
        raw = elided.skeleton(raw)
    parser = BytesFeedParser(policy=email.policy.default)
    try:
        for start in range(0, len(raw), 1 << 20):
            parser.feed(raw[start:start + (1 << 20)])
        return parser.close()
    except RecursionError:
        defects.append("MIME nesting too deep to parse: body read as plain text")
    except Exception as exc:
        defects.append(f"MIME structure unreadable ({type(exc).__name__}): body read as plain text")
    # Re-read as one text/plain part: the header block without its MIME headers, then the raw body.
    return BytesParser(policy=email.policy.default).parsebytes(headers_without_mime(raw) + raw[body_start(raw):])


def links_in_body(text: str, html: str, defects: list[str]) -> list[str]:
    """Share links in the bodies (fetchers.links.find_links); a failure there is a defect, not a lost email."""
    try:
        return list(find_links(text, html))
    except Exception as exc:  # a bug there must not lose the message
        defects.append(f"link search failed ({type(exc).__name__}: {exc})")
        return []
