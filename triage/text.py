"""The text of a document, bounded in characters, bytes read and pages parsed.

Rules read this text (is this the evaluation tool? how many employees does it state?). Every
extractor stops early: a hostile file costs at most a few MB of reading, never a crash. A document
whose text cannot be read gives "".
"""

from __future__ import annotations

import logging
import re
import zipfile
from typing import BinaryIO, Iterator
from xml.parsers import expat

from triage.formats import FileType

MAX_PDF_PAGES = 50  # the evaluation tool's facts are on its first pages
XML_PART_CAP = 8 * 1024 * 1024  # uncompressed bytes of one XML part we are willing to parse
TEXT_BYTES_PER_CHAR = 4  # raw bytes read per wanted character (UTF-8 worst case)
BINARY_SCAN_BYTES = 4 * 1024 * 1024  # legacy .doc/.xls/.ppt: printable-text scan of the first 4 MB
RTF_RAW_BYTES = 4 * 1024 * 1024  # raw RTF read at most (markup and pictures outweigh the text)
READ_CHUNK = 64 * 1024

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"

logging.getLogger("pypdf").setLevel(logging.ERROR)  # hostile PDFs make pypdf chatty, not wrong


def extract_text(fh: BinaryIO, ftype: FileType, max_chars: int = 100_000) -> str:
    """Text of the document open as `fh` (at most `max_chars` characters); "" when it has none we can read.

    `fh` is a seekable binary file (on disk, a temporary file or a BytesIO): each extractor seeks
    to its start, whatever the position it was handed at.

    OOXML and OpenDocument text is read by MIME type whatever the family, macro-bearing ones too:
    reading XML runs nothing, and the rules can then say "the evaluation tool has macros". Images,
    archives, paper-era formats, programs and unknown content give "".
    """
    try:
        if ftype.family == "pdf":
            text = _pdf_text(fh, max_chars)
        elif ftype.mime.startswith("application/vnd.openxmlformats-officedocument.wordprocessingml"):
            text = _docx_text(fh, max_chars)
        elif ftype.mime.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml"):
            text = _xlsx_text(fh, max_chars)
        elif ftype.mime.startswith("application/vnd.oasis.opendocument."):
            text = _odf_text(fh, max_chars)
        elif ftype.family in ("word", "spreadsheet", "presentation"):
            text = _binary_strings(fh, max_chars)  # legacy OLE Office files
        elif ftype.family == "text":
            if ftype.mime in ("text/rtf", "application/rtf"):
                # Font tables, styles and pictures come first and yield no text: read more raw RTF.
                text = rtf_to_text(_plain_text(fh, max_chars, max(max_chars * TEXT_BYTES_PER_CHAR, RTF_RAW_BYTES)))
            else:
                text = _plain_text(fh, max_chars)
        else:
            return ""  # images, archives, paper-era, unsafe, empty, unknown: no text we trust
    except (OSError, zipfile.BadZipFile, expat.ExpatError, ValueError, KeyError,
            NotImplementedError, RuntimeError, EOFError, RecursionError):
        return ""
    return text[:max_chars]


# ---------------------------------------------------------------------------------------------
# PDF


def _pdf_text(fh: BinaryIO, max_chars: int) -> str:
    """Text of the first pages, until `max_chars` or MAX_PDF_PAGES. Broken or locked PDFs give ""."""
    import pypdf  # imported here: only PDF extraction pays for it

    try:
        fh.seek(0)
        reader = pypdf.PdfReader(fh, strict=False)
        if reader.is_encrypted:
            # Owner-password-only PDFs open with the empty password; anything else stays locked.
            if not reader.decrypt(""):
                return ""
        parts: list[str] = []
        total = 0
        for number in range(MAX_PDF_PAGES):
            try:
                page = reader.pages[number]
            except IndexError:
                break
            page_text = page.extract_text() or ""
            parts.append(page_text)
            total += len(page_text)
            if total >= max_chars:
                break
        return "\n".join(parts)
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on hostile input; a broken PDF has no text
        return ""


# ---------------------------------------------------------------------------------------------
# XML parts inside zips (OOXML, ODF): streamed through expat, no tree kept, DOCTYPEs refused


class Enough(Exception):
    """Raised inside a parser callback once enough text is collected (or a DOCTYPE appears)."""


def read_capped(zf: zipfile.ZipFile, member: str, cap: int = XML_PART_CAP) -> Iterator[bytes]:
    """Chunks of one zip member, stopping after `cap` uncompressed bytes whatever its header claims."""
    read = 0
    with zf.open(member) as fh:
        while read < cap:
            chunk = fh.read(min(READ_CHUNK, cap - read))
            if not chunk:
                return
            read += len(chunk)
            yield chunk


class TextCollector:
    """Base of the per-format XML walkers: collects text pieces up to a character budget."""

    def __init__(self, max_chars: int) -> None:
        self.out: list[str] = []
        self.total = 0
        self.max_chars = max_chars

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.total += len(text)
        if self.total >= self.max_chars:
            raise Enough

    def start(self, name: str, attrs: dict[str, str]) -> None: ...

    def end(self, name: str) -> None: ...

    def data(self, text: str) -> None: ...

    def text(self) -> str:
        return "".join(self.out)


def walk_xml(chunks: Iterator[bytes], walker: TextCollector) -> str:
    """Feed XML chunks to expat with `walker`'s callbacks; the text collected, even from a damaged part.

    No tree is built, so memory is the collected text plus one chunk. Office XML never carries a
    DOCTYPE; one is refused outright, which also rules out entity-expansion tricks.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler = lambda name, attrs: walker.start("{" + name if "}" in name else name, attrs)
    parser.EndElementHandler = lambda name: walker.end("{" + name if "}" in name else name)
    parser.CharacterDataHandler = walker.data

    def refuse_doctype(*_args: object) -> None:
        raise Enough

    parser.StartDoctypeDeclHandler = refuse_doctype
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
    except (Enough, expat.ExpatError):
        pass  # enough text, or a damaged/truncated part: keep what came before
    return walker.text()


class _DocxWalker(TextCollector):
    """word/document.xml: text runs, tabs and breaks; a newline at each paragraph's end."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.in_text = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_W}t":
            self.in_text = True
        elif name == f"{_W}tab":
            self.emit("\t")
        elif name in (f"{_W}br", f"{_W}cr"):
            self.emit("\n")

    def end(self, name: str) -> None:
        if name == f"{_W}t":
            self.in_text = False
        elif name == f"{_W}p":
            self.emit("\n")

    def data(self, text: str) -> None:
        if self.in_text:
            self.emit(text)


class SharedStringsWalker(TextCollector):
    """xl/sharedStrings.xml: one string per <si>, rich-text runs joined, phonetic hints (<rPh>) left out."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.strings: list[str] = []
        self.current: list[str] = []
        self.in_text = False
        self.in_phonetic = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_S}si":
            self.current = []
        elif name == f"{_S}rPh":
            self.in_phonetic = True
        elif name == f"{_S}t" and not self.in_phonetic:
            self.in_text = True

    def end(self, name: str) -> None:
        if name == f"{_S}t":
            self.in_text = False
        elif name == f"{_S}rPh":
            self.in_phonetic = False
        elif name == f"{_S}si":
            self.strings.append("".join(self.current))

    def data(self, text: str) -> None:
        if self.in_text:
            self.current.append(text)
            self.total += len(text)
            if self.total >= self.max_chars:
                self.strings.append("".join(self.current))
                raise Enough


class SheetWalker(TextCollector):
    """xl/worksheets/sheetN.xml: each row a tab-separated line; shared strings resolved.

    Each cell's text goes to `cell` (its reference, type and style are at hand in `ref`, `kind`,
    `style`) and each row's end to `row_end`: the evaluation tool's reader keeps cells apart instead."""

    def __init__(self, max_chars: int, shared: list[str]) -> None:
        super().__init__(max_chars)
        self.shared = shared
        self.cells: list[str] = []
        self.kind: str | None = None
        self.ref = ""
        self.style = 0
        self.value: list[str] = []
        self.value_chars = 0
        self.capture = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_S}row":
            self.cells = []
        elif name == f"{_S}c":
            self.kind, self.value, self.value_chars = attrs.get("t"), [], 0
            self.ref, style = attrs.get("r", "?"), attrs.get("s", "0")
            self.style = int(style) if style.isdigit() else 0
        elif name == f"{_S}v" or (name == f"{_S}t" and self.kind == "inlineStr"):
            self.capture = True

    def end(self, name: str) -> None:
        if name in (f"{_S}v", f"{_S}t"):
            self.capture = False
        elif name == f"{_S}c":
            raw = "".join(self.value)
            if self.kind == "s":
                index = int(raw) if raw.strip().isdigit() else -1
                raw = self.shared[index] if 0 <= index < len(self.shared) else ""
            self.cell(raw)
        elif name == f"{_S}row":
            self.row_end()

    def cell(self, text: str) -> None:
        self.cells.append(text)

    def row_end(self) -> None:
        line = "\t".join(self.cells).rstrip("\t")
        if line:
            self.emit(line + "\n")

    def data(self, text: str) -> None:
        if self.capture:
            self.value.append(text)
            self.value_chars += len(text)
            if self.value_chars > self.max_chars:  # one giant cell: keep its head and stop
                self.out.append("".join(self.value)[:max(self.max_chars - self.total, 0)])
                raise Enough


class _OdfWalker(TextCollector):
    """content.xml of an OpenDocument file: paragraphs and headings, one per line."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.depth = 0  # nesting inside text:p / text:h

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"):
            self.depth += 1
        elif self.depth and name == f"{_ODF_TEXT}tab":
            self.emit("\t")
        elif self.depth and name == f"{_ODF_TEXT}s":
            self.emit(" ")
        elif self.depth and name == f"{_ODF_TEXT}line-break":
            self.emit("\n")

    def end(self, name: str) -> None:
        if name in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"):
            self.depth -= 1
            if not self.depth:
                self.emit("\n")

    def data(self, text: str) -> None:
        if self.depth:
            self.emit(text)


def _docx_text(fh: BinaryIO, max_chars: int) -> str:
    """word/document.xml: one line per paragraph, tabs and breaks kept."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        return walk_xml(read_capped(zf, "word/document.xml"), _DocxWalker(max_chars))


def _xlsx_text(fh: BinaryIO, max_chars: int) -> str:
    """Each sheet's rows as tab-separated lines: shared strings resolved, inline strings and values kept."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        names = set(zf.namelist())
        strings = SharedStringsWalker(max_chars * 4)
        if "xl/sharedStrings.xml" in names:
            walk_xml(read_capped(zf, "xl/sharedStrings.xml"), strings)
        sheets = sorted((n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                        key=lambda n: int(re.sub(r"\D", "", n.rsplit("/", 1)[1])))
        if not sheets:  # no sheet parts: the strings alone are better than nothing
            return "\n".join(strings.strings)
        out: list[str] = []
        total = 0
        for sheet in sheets:
            text = walk_xml(read_capped(zf, sheet), SheetWalker(max_chars - total, strings.strings))
            out.append(text)
            total += len(text)
            if total >= max_chars:
                break
        return "".join(out)


def _odf_text(fh: BinaryIO, max_chars: int) -> str:
    """content.xml of an OpenDocument file: one line per paragraph or heading."""
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        return walk_xml(read_capped(zf, "content.xml"), _OdfWalker(max_chars))


# ---------------------------------------------------------------------------------------------
# Plain text, RTF, legacy binaries


def _plain_text(fh: BinaryIO, max_chars: int, raw_bytes: int | None = None) -> str:
    """Decode the head of a text file: BOM-marked UTF-16/UTF-8, else UTF-8, else Windows-1252."""
    fh.seek(0)
    raw = fh.read(raw_bytes or max_chars * TEXT_BYTES_PER_CHAR)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", "replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # only the last character was cut by the byte limit
            return raw[:exc.start].decode("utf-8")
    return raw.decode("cp1252", "replace")


_RTF_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}]+)", re.S)
_RTF_SKIP_DESTINATIONS = {"fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header", "footer",
                          "headerl", "headerr", "footerl", "footerr", "listtable", "listoverridetable",
                          "rsidtbl", "generator", "xmlnstbl", "themedata", "colorschememapping",
                          "latentstyles", "datastore", "mmathPr", "fldinst"}


def rtf_to_text(rtf: str) -> str:
    """Visible text of an RTF document: a small tokenizer, not a renderer.

    Paragraph marks become newlines, \\'hh and \\uN escapes become characters, and groups that hold
    no visible text (font tables, pictures, {\\* ...} destinations) are skipped.
    """
    out: list[str] = []
    stack: list[tuple[bool, int]] = []
    skip = False
    uc_skip = 1  # characters to drop after a \uN (its ANSI fallback)
    pending_skip = 0
    group_start = False
    for word, arg, hexcode, symbol, brace, text in _RTF_TOKEN.findall(rtf):
        if brace == "{":
            stack.append((skip, uc_skip))
            group_start = True
            continue
        if brace == "}":
            skip, uc_skip = stack.pop() if stack else (False, 1)
            group_start = False
            continue
        first_in_group, group_start = group_start, False
        if symbol == "*" and first_in_group:
            skip = True
            continue
        if word:
            if first_in_group and word in _RTF_SKIP_DESTINATIONS:
                skip = True
            elif skip:
                continue
            elif word in ("par", "line", "row", "sect", "page"):
                out.append("\n")
            elif word in ("tab", "cell"):
                out.append("\t")
            elif word == "uc" and arg:
                uc_skip = int(arg)
            elif word == "u" and arg:
                code = int(arg)
                out.append(chr(code + 65536 if code < 0 else code))
                pending_skip = uc_skip
            continue
        if skip:
            continue
        if hexcode:
            if pending_skip:
                pending_skip -= 1
                continue
            out.append(bytes([int(hexcode, 16)]).decode("cp1252", "replace"))
        elif symbol:
            if symbol in "\\{}":
                out.append(symbol)
            elif symbol == "~":
                out.append("\u00a0")
        elif text:
            text = text.replace("\r", "").replace("\n", "")
            if pending_skip:
                dropped = min(pending_skip, len(text))
                text, pending_skip = text[dropped:], pending_skip - dropped
            out.append(text)
    return "".join(out)


_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e\x91-\x97\xa0-\xff\t\r\n]{4,}")
_UTF16_RUN = re.compile(rb"(?:[\x20-\x7e\xa0-\xff\t\r\n]\x00){4,}")


def _binary_strings(fh: BinaryIO, max_chars: int) -> str:
    """Legacy Office (OLE) text by a crude scan of the first BINARY_SCAN_BYTES, not a real parser.

    Word 97-2003 stores its text as either cp1252 bytes or UTF-16LE; both show up as runs of
    printable characters. The scan also picks up style names and other noise, which is acceptable
    for finding facts like "Number of employees: 7", not for quoting.
    """
    fh.seek(0)
    data = fh.read(BINARY_SCAN_BYTES)
    runs: list[tuple[int, str]] = [(m.start(), m.group().decode("utf-16-le", "replace"))
                                   for m in _UTF16_RUN.finditer(data)]
    runs += [(m.start(), m.group().decode("cp1252", "replace")) for m in _PRINTABLE_RUN.finditer(data)]
    runs.sort()
    out: list[str] = []
    total = 0
    for _start, run in runs:
        run = run.replace("\r", "\n").strip()
        if not run:
            continue
        out.append(run)
        total += len(run) + 1
        if total >= max_chars:
            break
    return "\n".join(out)
