"""Content-transfer decoding in bounded steps, and the elider: long base64 runs are cut out before the
MIME parser (which would hold every line as a string) and streamed from the file when decoded."""

from __future__ import annotations

import binascii
import re
import uuid
from email.message import Message
from pathlib import Path
from typing import Iterable, Iterator

from intake.message.charset import raw_bytes
from intake.message.headers import first_header

CHUNK_CHARS = 1024 * 1024  # encoded characters decoded per step (a multiple of 4)


ELIDE_MIN_BYTES = 256 * 1024  # runs of base64 lines at least this long bypass the MIME parser


READ_BLOCK = 1024 * 1024  # raw bytes read per step


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


def b64_chunks(payload: str | Iterable[str], defects: list[str], where: str) -> Iterator[bytes]:
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


def qp_chunks(payload: str) -> Iterator[bytes]:
    """Decode quoted-printable a block of whole lines at a time."""
    start = 0
    while start < len(payload):
        end = payload.find("\n", start + CHUNK_CHARS)
        end = len(payload) if end < 0 else end + 1
        yield binascii.a2b_qp(raw_bytes(payload[start:end]))
        start = end


def payload_chunks(part: Message, defects: list[str], where: str,
                    elided: "Elided | None" = None) -> Iterator[bytes]:
    """The decoded bytes of a leaf part, a chunk at a time."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return
    cte = str(first_header(part, "Content-Transfer-Encoding") or "").strip().lower()
    if elided is not None and elided.holds(payload):
        if cte == "base64":  # streamed from the raw message, never held whole
            yield from b64_chunks(elided.pieces(payload), defects, where)
            return
        payload = elided.restore(part)
    if cte == "base64":
        yield from b64_chunks(payload, defects, where)
    elif cte == "quoted-printable":
        yield from qp_chunks(payload)
    elif cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        data = part.get_payload(decode=True)
        yield data if isinstance(data, bytes) else b""
    else:
        for start in range(0, len(payload), CHUNK_CHARS):
            yield raw_bytes(payload[start:start + CHUNK_CHARS])


class Elided:
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
        payload = part.get_payload()
        assert isinstance(payload, str), "restore() is for leaf parts, whose payload is text"
        text = "".join(self.pieces(payload))
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
