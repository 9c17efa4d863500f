"""Text from bytes in any charset a mail client claims: bodies, encoded-word headers, HTML."""

from __future__ import annotations

import base64
import binascii
import codecs
import html as html_lib
import re
import unicodedata

BROKEN_NAME_RE = re.compile(r"\\udc[89a-f][0-9a-f]|[\udc80-\udcff]", re.IGNORECASE)  # undecoded 8-bit octets


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


def raw_bytes(value: str) -> bytes:
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
        text = decode_bytes(raw_bytes(text), None)
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
