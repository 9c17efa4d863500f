"""The header block: Message-IDs, addresses and dates, read with mail-parser and the standard library."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from datetime import datetime, timezone
from email.message import Message

import mailparser

from intake.message.charset import BROKEN_NAME_RE, decode_header_text
from intake.message.model import MAX_HEADER_BYTES

MESSAGE_ID_RE = re.compile(r"<[^<>\s]{1,900}>")


def body_start(raw: bytes) -> int:
    """Where the body begins: after the first empty line, or the end when there is none."""
    ends = [(i, n) for i, n in ((raw.find(b"\r\n\r\n"), 4), (raw.find(b"\n\n"), 2)) if i >= 0]
    if not ends:
        return len(raw)
    index, length = min(ends)
    return index + length


def _header_block(raw: bytes) -> bytes:
    """The header section of a raw message, cut at MAX_HEADER_BYTES on a line boundary."""
    block = raw[: body_start(raw)].rstrip(b"\r\n")
    if len(block) > MAX_HEADER_BYTES:
        cut = block.rfind(b"\n", 0, MAX_HEADER_BYTES)
        block = block[: cut if cut > 0 else MAX_HEADER_BYTES]
    return block + b"\r\n\r\n"


def first_header(msg: Message, name: str) -> str | None:
    """The first raw value of a header (as the parser stored it), or None."""
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def all_headers(msg: Message, name: str) -> list[str]:
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


def message_ids_in(values: list[str]) -> list[str]:
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


def header_date(parsed: "mailparser.MailParser | None", msg: Message) -> datetime | None:
    """The Date header as an aware datetime: mail-parser's reading, else the standard library's."""
    if parsed is not None:
        try:
            value = parsed.date
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        except Exception:
            pass
    raw = first_header(msg, "Date")
    if not raw:
        return None
    try:
        value = email.utils.parsedate_to_datetime(decode_header_text(raw))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def headers_without_mime(raw: bytes) -> bytes:
    """The (capped) header block without Content-* and MIME-Version fields, ending in a blank line."""
    kept: list[bytes] = []
    for line in _header_block(raw).rstrip(b"\r\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and kept:
            kept[-1] += b"\n" + line
        else:
            kept.append(line)
    mime = (b"content-", b"mime-version:")
    return b"\n".join(line for line in kept if not line.lower().startswith(mime)) + b"\n\n"


def read_with_mail_parser(raw: bytes, defects: list[str]) -> "mailparser.MailParser | None":
    """mail-parser's reading of the header block (addresses, date, header defects)."""
    try:
        parsed = mailparser.parse_from_bytes(headers_without_mime(raw))
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
        return email.utils.getaddresses([decode_header_text(v) for v in all_headers(msg, name)])
    except Exception:
        return []


def reply_address(parsed: "mailparser.MailParser | None", msg: Message) -> tuple[str | None, str | None]:
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
