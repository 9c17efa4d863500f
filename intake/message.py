"""Parse one raw email into what it says about itself (`intake.disposition` decides what it is).

`parse_message` never raises on bad input: broken MIME, lying charsets, bad base64, 8-bit or
garbage headers and absurd nesting all end up as entries in `ParsedMessage.defects`.
Zip-like attachments (also inside forwarded messages and Outlook winmail.dat) are streamed to
disk under `workdir`, never more than `max_attachment_bytes` in total.

mail-parser reads the addresses and the date (its parsers are hardened and report defects);
the standard library's `email` (policy=default) gives the MIME tree, which we walk ourselves
with a depth cap, decoding bodies and attachments with our own charset and base64 fallbacks.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.policy
import email.utils
import html as html_lib
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from email.parser import BytesFeedParser, BytesParser
from pathlib import Path
from typing import Iterable, Iterator

import mailparser

from fetchers.links import find_links

TRACKING_RE = re.compile(r"(?<![A-Za-z0-9])SECOR-\d{4}-\d{6}(?!\d)", re.IGNORECASE)

MAX_DEPTH = 20  # MIME nesting we descend into; real mail rarely goes past 5
MAX_HEADER_BYTES = 256 * 1024  # header block handed to mail-parser
MAX_TEXT_CHARS = 2_000_000  # decoded body text kept (text and html each)
MAX_DEFECTS = 200
MAX_HEADERS = 1000  # header fields kept for the disposition rules
MAX_FILENAME_CHARS = 120
MAX_FILENAME_BYTES = 200  # UTF-8, leaving room for " (n)" under the usual 255-byte limit
MAX_ATTACHMENTS = 50  # archives kept from one message; more is not a submission anyone sends
CHUNK_CHARS = 1024 * 1024  # encoded characters decoded per step (a multiple of 4)
ELIDE_MIN_BYTES = 256 * 1024  # runs of base64 lines at least this long bypass the MIME parser
READ_BLOCK = 1024 * 1024  # raw bytes read per step

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
OTHER_ARCHIVE_MAGICS = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}

MESSAGE_ID_RE = re.compile(r"<[^<>\s]{1,900}>")
BROKEN_NAME_RE = re.compile(r"\\udc[89a-f][0-9a-f]|[\udc80-\udcff]", re.IGNORECASE)  # undecoded 8-bit octets


@dataclass(frozen=True)
class Attachment:
    """One archive-like attachment, written to disk."""

    filename: str  # decoded and sanitised base name (the name on disk may carry " (2)")
    content_type: str
    path: Path
    size: int  # bytes on disk
    is_zip: bool  # zip by content, or claims to be a zip by type or extension
    truncated: bool = False  # the attachment cap was reached: `path` holds only a prefix (maybe 0 bytes)


@dataclass
class ParsedMessage:
    """What one email says about itself. Built by `parse_message`."""

    message_id: str | None = None
    subject: str = ""
    sender: str | None = None
    sender_name: str | None = None
    date: datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    tracking_numbers: list[str] = field(default_factory=list)
    visible_html: str = ""  # the HTML body's text, for keyword searches
    headers: list[tuple[str, str]] = field(default_factory=list)  # top-level fields, decoded, in order
    content_types: set[str] = field(default_factory=set)  # of the parts, forwarded messages excepted
    report_types: set[str] = field(default_factory=set)  # report-type of each multipart/report
    enclosed_fields: set[str] = field(default_factory=set)  # header names of the messages it encloses
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first decoded value of a header field, or None."""
        lname = name.lower()
        return next((value for key, value in self.headers if key.lower() == lname), None)


# --- text decoding -------------------------------------------------------------------------

def _codec(charset: str | None) -> str | None:
    """The Python codec for a MIME charset name, or None when unknown."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None, defects: list[str] | None = None, where: str = "") -> str:
    """Decode text bytes: the declared charset if it fits, else UTF-8, else Windows-1252 with replacement."""
    codec = _codec(charset)
    if charset and codec is None and defects is not None:
        defects.append(f"{where}unknown charset {charset!r}")
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if defects is not None:
                defects.append(f"{where}bytes do not fit charset {charset!r}")
        except Exception:  # exotic codecs can raise anything on garbage
            if defects is not None:
                defects.append(f"{where}charset {charset!r} failed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _raw_bytes(value: str) -> bytes:
    """Header or payload text as the parser kept it: 8-bit octets survive as surrogate escapes."""
    return value.encode("utf-8", errors="surrogateescape")


ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _decode_encoded_word(match: re.Match[str], defects: list[str] | None, where: str) -> str:
    """One RFC 2047 encoded word as text; a word that will not decode stays as it was."""
    charset, kind, payload = match.group(1).split("*")[0], match.group(2).upper(), match.group(3)
    try:
        if kind == "B":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
        else:
            data = binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        if defects is not None:
            defects.append(f"{where}undecodable encoded-word")
        return match.group(0)
    return decode_bytes(data, charset, defects, where)


def decode_header_text(value: object, defects: list[str] | None = None, where: str = "") -> str:
    """A header value as readable text: 8-bit octets and RFC 2047 encoded words decoded, never raising."""
    if value is None:
        return ""
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit header: UTF-8 or a legacy charset
        text = decode_bytes(_raw_bytes(text), None)
    text = re.sub(r"\r?\n[ \t]*", " ", text)  # unfold
    if "=?" in text:
        # whitespace between two adjacent encoded words is not part of the text (RFC 2047 6.2)
        text = re.sub(r"(\?=)\s+(?==\?)", r"\1", text)
        text = ENCODED_WORD_RE.sub(lambda m: _decode_encoded_word(m, defects, where), text)
    return "".join(ch if ch in "\t " or unicodedata.category(ch) != "Cc" else " " for ch in text).strip()


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body, good enough for keyword and tracking-number searches."""
    markup = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", markup)
    return html_lib.unescape(re.sub(r"<[^<>]*>", " ", markup))  # [^<>]: linear on unclosed tags


# --- headers -------------------------------------------------------------------------------

def _body_start(raw: bytes) -> int:
    """Where the body begins: after the first empty line, or the end when there is none."""
    ends = [(i, n) for i, n in ((raw.find(b"\r\n\r\n"), 4), (raw.find(b"\n\n"), 2)) if i >= 0]
    if not ends:
        return len(raw)
    index, length = min(ends)
    return index + length


def _header_block(raw: bytes) -> bytes:
    """The header section of a raw message, cut at MAX_HEADER_BYTES on a line boundary."""
    block = raw[: _body_start(raw)].rstrip(b"\r\n")
    if len(block) > MAX_HEADER_BYTES:
        cut = block.rfind(b"\n", 0, MAX_HEADER_BYTES)
        block = block[: cut if cut > 0 else MAX_HEADER_BYTES]
    return block + b"\r\n\r\n"


def _first(msg: Message, name: str) -> str | None:
    """The first raw value of a header (as the parser stored it), or None."""
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def _all(msg: Message, name: str) -> list[str]:
    lname = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == lname]


def normalise_message_id(value: str | None) -> str | None:
    """The first `<...>` token of a Message-ID-like header, or the bare token wrapped in `<>`."""
    if not value:
        return None
    text = decode_header_text(value)
    found = MESSAGE_ID_RE.search(text)
    if found:
        return found.group(0)
    token = text.strip().strip("<>").split()
    return f"<{token[0][:900]}>" if token else None


def _message_ids(values: list[str]) -> list[str]:
    """Every `<...>` message id in In-Reply-To / References values, in order, without repeats."""
    out: list[str] = []
    for value in values:
        for found in MESSAGE_ID_RE.findall(decode_header_text(value)):
            if found not in out:
                out.append(found)
    return out


def _clean_address(address: str | None) -> str | None:
    """`local@domain` with the domain lower-cased, or None when it is not a usable address."""
    if not address:
        return None
    address = address.strip().strip("<>").strip()
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain or ("." not in domain and domain != "localhost"):
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in address) or len(address) > 320:
        return None
    return f"{local}@{domain.lower()}"


def _addresses(parsed: "mailparser.MailParser", attr: str) -> list[tuple[str, str]]:
    """(name, address) pairs mail-parser read from an address header; empty on any failure."""
    try:
        pairs = getattr(parsed, attr) or []
        return [(str(n or ""), str(a or "")) for n, a in pairs] if isinstance(pairs, list) else []
    except Exception:
        return []


def _date(parsed: "mailparser.MailParser | None", msg: Message) -> datetime | None:
    """The Date header as an aware datetime: mail-parser's reading, else the standard library's."""
    if parsed is not None:
        try:
            value = parsed.date
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        except Exception:
            pass
    raw = _first(msg, "Date")
    if not raw:
        return None
    try:
        value = email.utils.parsedate_to_datetime(decode_header_text(raw))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --- attachments ---------------------------------------------------------------------------

def sanitise_filename(name: str | None, default: str = "attachment") -> str:
    """A safe base name: no folders, no control or reserved characters, at most MAX_FILENAME_CHARS."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join("_" if unicodedata.category(ch)[0] == "C" or ch in '<>:"|?*' else ch for ch in name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        name = default
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    while len(name.encode("utf-8")) > MAX_FILENAME_BYTES:  # long non-Latin names: cut the stem
        stem, dot, ext = name.rpartition(".")
        name = (stem[:-1] + dot + ext) if dot and stem else name[:-1]
    return name


def _open_unique(workdir: Path, name: str):
    """Create a new file in workdir named `name`, or `stem (2).ext`...: never overwrites."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    for n in range(1, 10_000):
        candidate = name if n == 1 else f"{stem} ({n}){dot}{ext}"
        path = workdir / candidate
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "wb")
    raise OSError(f"no free file name for {name!r} in {workdir}")


_B64_INVALID = re.compile(r"[^A-Za-z0-9+/=\s]")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what \s matches in ASCII


def _slices(text: str) -> Iterator[str]:
    for start in range(0, len(text), CHUNK_CHARS):
        yield text[start:start + CHUNK_CHARS]


def _b64_clean(piece: str) -> tuple[bytes, bool]:
    """(the piece's base64 alphabet and padding, whether it held characters outside base64 and space)."""
    if piece.isascii():  # the usual case, done with bytes.translate at C speed
        data = piece.encode("ascii")
        if not data.translate(None, _B64_ALPHABET + _ASCII_SPACE):
            return data.translate(None, _ASCII_SPACE), False
    invalid = _B64_INVALID.search(piece) is not None
    return re.sub(r"[^A-Za-z0-9+/=]", "", piece).encode("ascii"), invalid


def _b64_chunks(payload: str | Iterable[str], defects: list[str], where: str) -> Iterator[bytes]:
    """Decode base64 a chunk at a time, skipping characters outside the alphabet, stopping at padding.

    `payload` is the encoded text, or that text in pieces (a part whose body bypassed the parser)."""
    rest = b""
    warned = False
    for piece in _slices(payload) if isinstance(payload, str) else payload:
        cleaned, invalid = _b64_clean(piece)
        if not warned and invalid:
            warned = True
            defects.append(f"{where}invalid characters in base64 skipped")
        clean = rest + cleaned
        end = clean.find(b"=")
        if end >= 0:  # padding ends the data; anything after it is junk
            if clean[end:].strip(b"="):
                defects.append(f"{where}data after base64 padding ignored")
            rest = clean[:end]
            break
        usable = len(clean) - len(clean) % 4
        rest = clean[usable:]
        if usable:
            yield binascii.a2b_base64(clean[:usable])
    if len(rest) % 4 == 1:
        defects.append(f"{where}base64 ends with a stray character")
        rest = rest[:-1]
    if rest:
        yield binascii.a2b_base64(rest + b"=" * (-len(rest) % 4))


def _qp_chunks(payload: str) -> Iterator[bytes]:
    """Decode quoted-printable a block of whole lines at a time."""
    start = 0
    while start < len(payload):
        end = payload.find("\n", start + CHUNK_CHARS)
        end = len(payload) if end < 0 else end + 1
        yield binascii.a2b_qp(_raw_bytes(payload[start:end]))
        start = end


def _payload_chunks(part: Message, defects: list[str], where: str,
                    elided: "_Elided | None" = None) -> Iterator[bytes]:
    """The decoded bytes of a leaf part, a chunk at a time."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return
    cte = str(_first(part, "Content-Transfer-Encoding") or "").strip().lower()
    if elided is not None and elided.holds(payload):
        if cte == "base64":  # streamed from the raw message, never held whole
            yield from _b64_chunks(elided.pieces(payload), defects, where)
            return
        payload = elided.restore(part)
    if cte == "base64":
        yield from _b64_chunks(payload, defects, where)
    elif cte == "quoted-printable":
        yield from _qp_chunks(payload)
    elif cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        data = part.get_payload(decode=True)
        yield data if isinstance(data, bytes) else b""
    else:
        for start in range(0, len(payload), CHUNK_CHARS):
            yield _raw_bytes(payload[start:start + CHUNK_CHARS])


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


# tnefparse trusts the counts in MAPI property lists and loops over them (a crafted count of 2**32
# hangs it), so each property list is checked against its own length before tnefparse sees it.
TNEF_MAPI_LISTS = {0x9003, 0x9005}  # attMAPIProps, attAttachment
TNEF_DROPPED = {0x9004, 0x0006, 0x0007, 0x8005, 0x8006, 0x8012, 0x8013, 0x8020}  # recipients, dates: unused
MAPI_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8,
                    0x0014: 8, 0x0040: 8, 0x0048: 16, 0x0001: 0}
MAPI_VARIABLE = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}
IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


def _mapi_list_is_sane(data: bytes) -> bool:
    """Whether every count in a MAPI property list fits in the bytes that follow it."""
    def u32(at: int) -> int:
        return int.from_bytes(data[at:at + 4], "little") if at + 4 <= len(data) else -1

    count, at = u32(0), 4
    if count < 0 or count > len(data) // 4:
        return False
    for _ in range(count):
        if at + 4 > len(data):
            return True  # tnefparse skips what is missing
        prop_type, prop_name = int.from_bytes(data[at:at + 2], "little"), int.from_bytes(data[at + 2:at + 4], "little")
        at += 4
        if prop_name >= 0x8000:  # named property: GUID, kind, id or name
            kind = u32(at + 16)
            at += 20
            if kind == 0:
                at += 4
            else:
                length = u32(at)
                if length < 0 or length > len(data):
                    return False
                at += 4 + length + (-length % 4)
        multi = bool(prop_type & 0x1000)
        prop_type &= ~0x1000
        values = 1
        if multi:
            values = u32(at)
            at += 4
            if values < 0 or values > len(data):
                return False
        if prop_type in MAPI_FIXED_SIZES:
            size = values * MAPI_FIXED_SIZES[prop_type]
            if at + size > len(data):
                return False
            at += size + (2 if values % 2 and prop_type in (0x0002, 0x000B) else 0)
        elif prop_type in MAPI_VARIABLE:
            if values > (len(data) - at) // 4:
                return False
            for _ in range(values):
                items = 1
                if not multi:  # a single value still carries its own count of items
                    items = u32(at)
                    at += 4
                if items < 0 or items > (len(data) - at) // 4:
                    return False
                for _ in range(items):
                    length = u32(at)
                    if length < 0 or at + 4 + length > len(data):
                        return False
                    if prop_type == 0x000D and data[at + 4:at + 20] == IMESSAGE_SIG:
                        return False  # an attached Outlook message: tnefparse would parse it unchecked
                    at += 4 + length + (-length % 4)
        else:
            return True  # tnefparse stops at an unknown type
        if at > len(data):
            return True
    return True


def _tnef_bounded(data: bytes, defects: list[str], where: str) -> bytes:
    """The TNEF stream without attributes we do not need and without property lists that lie."""
    out = bytearray(data[:6])
    offset = 6
    while offset + 12 < len(data):
        name = int.from_bytes(data[offset + 1:offset + 3], "little")
        length = min(len(data) - offset, int.from_bytes(data[offset + 5:offset + 9], "little") + 11)
        obj = data[offset:offset + length]
        offset += length
        if name in TNEF_DROPPED:
            continue
        if name in TNEF_MAPI_LISTS and not _mapi_list_is_sane(obj[9:-2]):
            defects.append(f"{where}winmail.dat property list skipped (inconsistent counts or an attached message)")
            continue
        out += obj
    return bytes(out)


class _Elided:
    """Long runs of base64 lines, cut out of the raw message before the MIME parser sees it.

    The standard library's parser holds every body line as a string, then the whole body joined: a
    40 MB email costs ~150 MB and most of the parse time. A run of lines made only of base64
    characters can never be a boundary or a header, so cutting it out changes no structure: each run
    of at least ELIDE_MIN_BYTES becomes one placeholder line (letters and digits, like the lines it
    replaces, keeping the run's last line end, which a following boundary takes) and the part's body
    is read back from the source (the raw file, or bytes) when the part is decoded.
    """

    def __init__(self) -> None:
        self.token = "SECORELIDED" + uuid.uuid4().hex.upper()
        self.pattern = re.compile(re.escape(self.token) + r"([0-9]{8})")
        self.runs: list[tuple[Path | bytes, int, int]] = []  # (source, start, end) of each run's text

    def holds(self, payload: object) -> bool:
        return bool(self.runs) and isinstance(payload, str) and self.token in payload

    def skeleton(self, source: Path | bytes) -> bytes:
        """The raw message with its long base64 runs replaced by placeholders."""
        out = bytearray()
        run: list = []  # [start, end, bytes kept while short, last line end]
        offset = 0

        def flush() -> None:
            if not run:
                return
            start, end, kept, eol = run
            if kept is None:
                out.extend(f"{self.token}{len(self.runs):08d}".encode() + eol)
                self.runs.append((source, start, end - len(eol)))
            else:
                out.extend(kept)
            run.clear()

        for block in _line_blocks(source):
            pos = 0
            for match in _RUN_RE.finditer(block):
                s, e = match.span()
                if not (run and offset + s == run[1]):  # else the run goes on from the previous block
                    flush()
                    out.extend(block[pos:s])
                    run[:] = [offset + s, offset + s, b"", b""]
                run[1] = offset + e
                if run[2] is not None:
                    run[2] += block[s:e]
                    if len(run[2]) >= ELIDE_MIN_BYTES:
                        run[2] = None
                run[3] = b"\r\n" if block[e - 2:e] == b"\r\n" else b"\n"
                pos = e
            if pos < len(block):
                flush()
                out.extend(block[pos:])
            offset += len(block)
        flush()
        return bytes(out)

    def _read(self, index: int) -> Iterator[str]:
        source, start, end = self.runs[index]
        if not isinstance(source, Path):
            for at in range(start, end, CHUNK_CHARS):
                yield bytes(source[at:min(at + CHUNK_CHARS, end)]).decode("ascii")
            return
        with open(source, "rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                data = handle.read(min(CHUNK_CHARS, left))
                if not data:
                    raise OSError(f"{source} changed while it was parsed")
                left -= len(data)
                yield data.decode("ascii")

    def pieces(self, payload: str) -> Iterator[str]:
        """The payload's original text in pieces of at most CHUNK_CHARS characters."""
        at = 0
        for found in self.pattern.finditer(payload):
            yield from _slices(payload[at:found.start()])
            yield from self._read(int(found.group(1)))
            at = found.end()
        yield from _slices(payload[at:])

    def restore(self, part: Message) -> str:
        """Put the part's original body back (for the rare text or non-base64 part this large)."""
        text = "".join(self.pieces(part.get_payload()))
        part.set_payload(text)
        return text


_RUN_RE = re.compile(rb"(?m)^(?:[A-Za-z0-9+/]{40,}={0,2}\r?\n)+")


def _line_blocks(source: Path | bytes) -> Iterator[bytes]:
    """The source in blocks of about READ_BLOCK bytes, each ending at a line end (but the last)."""
    if not isinstance(source, Path):
        start = 0
        while start < len(source):
            cut = source.find(b"\n", start + READ_BLOCK)
            end = len(source) if cut < 0 else cut + 1
            yield bytes(source[start:end])
            start = end
        return
    with open(source, "rb") as handle:
        carry = b""
        while data := handle.read(READ_BLOCK):
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield data[:cut]
        if carry:
            yield carry


class _Collector:
    """Walks the MIME tree once, gathering bodies and writing archive attachments under a byte budget."""

    def __init__(self, workdir: Path, budget: int, defects: list[str], elided: _Elided | None = None) -> None:
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
                    self.enclosed_fields.update(str(key).lower() for child in children for key in child.keys())
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
        cte = str(_first(part, "Content-Transfer-Encoding") or "").strip().lower()
        if cte not in ("base64", "quoted-printable") or not isinstance(children, list) or len(children) != 1:
            return None
        encoded = children[0]
        body = encoded.get_payload()
        if list(encoded.keys()) or not isinstance(body, str):
            return None
        where = f"part {label} (message/rfc822): "
        if self.elided is not None and self.elided.holds(body):
            body = self.elided.pieces(body) if cte == "base64" else self.elided.restore(encoded)
        chunks = _b64_chunks(body, self.defects, where) if cte == "base64" else _qp_chunks(body)
        return [_parse_tree(b"".join(chunks), self.defects, self.elided)]

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
        chunks = _payload_chunks(part, self.defects, where, self.elided)
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
        safe = sanitise_filename(filename, default)
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
            tnef = TNEF(_tnef_bounded(data, self.defects, where), do_checksum=False)
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


# --- the message as a whole ----------------------------------------------------------------

def _parse_tree(raw: bytes, defects: list[str], elided: _Elided | None = None) -> Message:
    """The MIME tree; a message nested past the parser's recursion limit keeps only its headers and raw body.

    With `elided`, long base64 runs of `raw` bypass the parser (see _Elided)."""
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
    return BytesParser(policy=email.policy.default).parsebytes(_headers_without_mime(raw) + raw[_body_start(raw):])


def _headers_without_mime(raw: bytes) -> bytes:
    """The (capped) header block without Content-* and MIME-Version fields, ending in a blank line."""
    kept: list[bytes] = []
    for line in _header_block(raw).rstrip(b"\r\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and kept:
            kept[-1] += b"\n" + line
        else:
            kept.append(line)
    mime = (b"content-", b"mime-version:")
    return b"\n".join(line for line in kept if not line.lower().startswith(mime)) + b"\n\n"


def _mail_parser(raw: bytes, defects: list[str]) -> "mailparser.MailParser | None":
    """mail-parser's reading of the header block (addresses, date, header defects)."""
    try:
        parsed = mailparser.parse_from_bytes(_headers_without_mime(raw))
    except Exception as exc:
        defects.append(f"headers unreadable by mail-parser ({type(exc).__name__})")
        return None
    try:  # only address and date defects: the header block alone says nothing about MIME
        for entry in list(parsed.address_header_defects) + list(parsed.date_header_defects):
            defects.append(f"header {entry.get('header')}: {entry.get('reason')}")
    except Exception:
        pass
    return parsed


def _stdlib_addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs read by the standard library from the decoded header text."""
    try:
        return email.utils.getaddresses([decode_header_text(v) for v in _all(msg, name)])
    except Exception:
        return []


def _sender(parsed: "mailparser.MailParser | None", msg: Message) -> tuple[str | None, str | None]:
    """(reply address, display name): Reply-To if it holds a usable address, else From.

    mail-parser reads the addresses; where it gave up or could not decode a display name
    (raw 8-bit octets), the standard library reads the header we decoded ourselves.
    """
    mp_from = _addresses(parsed, "from_") if parsed is not None else []
    mp_reply = _addresses(parsed, "reply_to") if parsed is not None else []
    from_pairs = mp_from or _stdlib_addresses(msg, "From")
    reply_pairs = mp_reply or _stdlib_addresses(msg, "Reply-To")

    def readable(name: str, header: str, address: str) -> str:
        if not BROKEN_NAME_RE.search(name):
            return decode_header_text(name)
        for other_name, other_address in _stdlib_addresses(msg, header):
            if other_address.lower() == address.lower():
                return other_name
        return ""

    from_name = next((readable(n, "From", a) for n, a in from_pairs if n), None)
    for header, pairs in (("Reply-To", reply_pairs), ("From", from_pairs)):
        for name, address in pairs:
            cleaned = _clean_address(address)
            if cleaned:
                return cleaned, (readable(name, header, address) if name else "") or from_name or None
    return None, from_name or None


def find_tracking_numbers(*texts: str) -> list[str]:
    """Every tracking number in `texts`, upper-cased, in order of appearance, without repeats."""
    out: list[str] = []
    for text in texts:
        for found in TRACKING_RE.findall(text or ""):
            number = found.upper()
            if number not in out:
                out.append(number)
    return out


def _find_links(text: str, html: str, defects: list[str]) -> list[str]:
    """Share links in the bodies (fetchers.links.find_links); a failure there is a defect, not a lost email."""
    try:
        return list(find_links(text, html))
    except Exception as exc:  # a bug there must not lose the message
        defects.append(f"link search failed ({type(exc).__name__}: {exc})")
        return []


def parse_message(raw: Path | bytes, workdir: Path, max_attachment_bytes: int) -> ParsedMessage:
    """Read one raw email. Never raises on malformed mail; problems are listed in `defects`.

    Archive attachments are written under `workdir` (created if needed), at most
    `max_attachment_bytes` in total across the message.
    """
    # The raw message is never read whole: its long base64 runs (attachments) stay in the file and
    # are streamed from it when decoded (see _Elided), so memory does not grow with the attachments.
    elided = _Elided()
    data = elided.skeleton(Path(raw) if isinstance(raw, (str, Path)) else bytes(raw))
    defects: list[str] = []
    msg = _parse_tree(data, defects)
    parsed = _mail_parser(data, defects)
    subject = decode_header_text(_first(msg, "Subject"), defects, "subject: ")
    sender, sender_name = _sender(parsed, msg)
    collector = _Collector(Path(workdir), max(int(max_attachment_bytes), 0), defects, elided)
    collector.walk(msg)
    text = "\n\n".join(collector.text)
    html = "\n\n".join(collector.html)
    visible_html = html_to_text(html) if html else ""
    in_reply_to = _message_ids(_all(msg, "In-Reply-To"))
    references = _message_ids(_all(msg, "References"))
    result = ParsedMessage(
        message_id=normalise_message_id(_first(msg, "Message-ID")),
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        date=_date(parsed, msg),
        in_reply_to=in_reply_to,
        references=references,
        text=text,
        html=html,
        attachments=collector.attachments,
        links=_find_links(text, html, defects),
        tracking_numbers=find_tracking_numbers(subject, " ".join(in_reply_to + references), text, visible_html),
        visible_html=visible_html,
        headers=[(str(key), decode_header_text(value)) for key, value in msg.raw_items()][:MAX_HEADERS],
        content_types=collector.content_types,
        report_types=collector.report_types,
        enclosed_fields=collector.enclosed_fields,
        defects=defects[:MAX_DEFECTS],
    )
    if len(defects) > MAX_DEFECTS:
        result.defects.append(f"... and {len(defects) - MAX_DEFECTS} more defects")
    return result
