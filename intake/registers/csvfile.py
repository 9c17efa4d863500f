"""Reading a register export (CSV, as the association's spreadsheets and membership system write it).

No database here: `RegisterFile` checks the file as a whole (size, binary content, encoding,
separator, header) and then yields its good rows one by one while it collects the bad ones, so
that an import can stream rows into its transaction with bounded memory and still name every bad
row before it rolls back.

- Encoding: UTF-8 (a BOM is fine) when the whole file is valid UTF-8, else Windows-1252 (what Excel
  writes as "CSV (Comma delimited)" on Windows). A file with control bytes (NUL...) is binary.
- Comma-separated, one header row; column names matched without case, surrounding spaces, and with
  inner spaces or dashes taken as `_` (`Member Until` = `member_until`); other columns ignored.
- Dates ISO (`2026-03-31`) or with the month in words (`31-Mar-2026`, `March 31, 2026`); any other
  numeric date (`03/04/2026`) is ambiguous and makes its row bad.
- Blank rows are skipped; a row repeating an earlier row exactly (the same values once read) is
  imported once and its line reported as a duplicate.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from intake.registers.names import ACCOUNT_DIGITS, account_digits, name_key, name_words
from triage.dates import month_number

CHUNK_BYTES = 1 << 16
MAX_CELL_CHARS = 500
PROGRAMS = ("SECOR", "COR")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "account" | "text" | "person" | "date" | "hours" | "program"
    in_header: bool = True  # the header must have it
    filled: bool = True  # every row must give a value


@dataclass(frozen=True)
class Layout:
    register: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.in_header]


LAYOUTS = {
    "members": Layout("members", (
        Column("wcb_account", "account"), Column("legal_name", "text", in_header=False, filled=False),
        Column("member_since", "date"), Column("member_until", "date", filled=False))),
    "training": Layout("training", (
        Column("name", "person"), Column("wcb_account", "account", filled=False), Column("course", "text"),
        Column("completed_on", "date"), Column("hours", "hours", filled=False))),
    "certificates": Layout("certificates", (
        Column("wcb_account", "account"), Column("legal_name", "text", in_header=False, filled=False),
        Column("program", "program"), Column("issued_on", "date"), Column("expires_on", "date"))),
}


class RegisterFileError(Exception):
    """The file cannot be a register at all; the message is one line that says why."""


@dataclass(frozen=True)
class Problem:
    """One bad value of one row (the header is line 1)."""

    line: int
    column: str
    why: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.why}"


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    max_rows: int


_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")  # control bytes no text export holds
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_KNOWN_BINARIES = (
    (b"PK\x03\x04", "a zip file or an Excel workbook (.xlsx), not CSV: save the sheet as 'CSV UTF-8 (Comma delimited)'"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls), not CSV: save the sheet as 'CSV UTF-8 (Comma delimited)'"),
    (b"%PDF", "a PDF, not CSV"),
)


class RegisterFile:
    """One export for one register. Constructing it checks the file as a whole (RegisterFileError);
    `rows()` then yields the good rows and fills `problems` and `duplicates` as it goes."""

    def __init__(self, register: str, path: Path, limits: FileLimits) -> None:
        self.layout = LAYOUTS[register]
        self.path = path
        self.limits = limits
        self.problems: list[Problem] = []
        self.duplicates: list[int] = []  # lines repeating an earlier row: imported once
        self.rows_read = 0
        self.sha256, self.encoding = self._inspect()

    def _inspect(self) -> tuple[str, str]:
        """The file's SHA-256 and encoding, reading it once in chunks."""
        try:
            size = self.path.stat().st_size
            if not self.path.is_file():
                raise RegisterFileError("is not a file")
            if size > self.limits.max_bytes:
                raise RegisterFileError(f"is {_megabytes(size)}, over the {_megabytes(self.limits.max_bytes)} limit "
                                        "([registers] max_file_bytes)")
            digest = hashlib.sha256()
            utf8: Any = codecs.getincrementaldecoder("utf-8")("strict")
            cp1252_ok = True
            read = 0
            with self.path.open("rb") as fh:
                while chunk := fh.read(CHUNK_BYTES):
                    if read == 0:
                        for magic, what in _KNOWN_BINARIES:
                            if chunk.startswith(magic):
                                raise RegisterFileError(f"is {what}")
                    read += len(chunk)
                    if read > self.limits.max_bytes:  # grew while we read it
                        raise RegisterFileError(f"is over the {_megabytes(self.limits.max_bytes)} limit "
                                                "([registers] max_file_bytes)")
                    if _BINARY.search(chunk):
                        raise RegisterFileError("is a binary file, not CSV text")
                    digest.update(chunk)
                    cp1252_ok = cp1252_ok and not _CP1252_UNDEFINED.search(chunk)
                    if utf8 is not None:
                        try:
                            utf8.decode(chunk)
                        except UnicodeDecodeError:
                            utf8 = None
            if utf8 is not None:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = None
        except OSError as exc:
            raise RegisterFileError(f"cannot be read: {exc.strerror or exc}") from None
        if read == 0:
            raise RegisterFileError("is empty")
        if utf8 is None and not cp1252_ok:
            raise RegisterFileError("is neither UTF-8 nor Windows-1252 text")
        return digest.hexdigest(), "utf-8-sig" if utf8 is not None else "cp1252"

    def rows(self) -> Iterator[dict[str, Any]]:
        """The good rows, each a dict of the layout's columns (parsed) and `line`."""
        seen: set[bytes] = set()
        with self.path.open(encoding=self.encoding, newline="") as fh:
            reader = csv.reader(fh)
            last_line = 0
            header: list[str] | None = None
            index: dict[str, int] = {}
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise RegisterFileError(f"line {last_line + 1}: cannot be read as CSV ({exc})") from None
                line, last_line = last_line + 1, reader.line_num
                if header is None:
                    header = cells
                    index = self._columns(header)
                    continue
                if not any(cell.strip() for cell in cells):
                    continue
                self.rows_read += 1
                if self.rows_read > self.limits.max_rows:
                    raise RegisterFileError(f"has more than {self.limits.max_rows:,} rows ([registers] max_rows)")
                values = self._row(line, cells, index)
                if values is None:
                    continue
                fingerprint = hashlib.sha256(repr(_comparable(values, self.layout)).encode()).digest()[:16]
                if fingerprint in seen:
                    self.duplicates.append(line)
                    continue
                seen.add(fingerprint)
                values["line"] = line
                yield values
            if header is None:
                raise RegisterFileError("is empty")

    def _columns(self, header: list[str]) -> dict[str, int]:
        """Column name -> position, from the header row; RegisterFileError when it cannot serve."""
        if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
            separator = "semicolons" if ";" in header[0] else "tabs"
            raise RegisterFileError(f"is separated by {separator}, not commas: save the spreadsheet as "
                                    "'CSV UTF-8 (Comma delimited)'")
        wanted = {c.name for c in self.layout.columns}
        index: dict[str, int] = {}
        for position, title in enumerate(header):
            name = header_name(title)
            if name in wanted and name in index:
                raise RegisterFileError(f"line 1: the header has column {name} twice "
                                        f"(columns {index[name] + 1} and {position + 1})")
            if name in wanted:
                index[name] = position
        missing = [name for name in self.layout.required if name not in index]
        if missing:
            found = ", ".join(repr(t.strip()) for t in header if t.strip()) or "nothing"
            raise RegisterFileError(f"line 1: the header lacks {', '.join(missing)} (a {self.layout.register} "
                                    f"register needs {', '.join(self.layout.required)}; found {found})")
        return index

    def _row(self, line: int, cells: list[str], index: dict[str, int]) -> dict[str, Any] | None:
        """The row's values parsed, or None after adding its problems."""
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for column in self.layout.columns:
            position = index.get(column.name)
            raw = cells[position].strip() if position is not None and position < len(cells) else ""
            if not raw:
                if column.filled and position is not None:
                    problems.append(Problem(line, column.name, "is empty"))
                values[column.name] = None
                continue
            try:
                values[column.name] = parse_value(column.kind, raw)
            except ValueError as exc:
                problems.append(Problem(line, column.name, str(exc)))
        problems += _row_problems(line, values)
        self.problems.extend(problems)
        return None if problems else values


def _row_problems(line: int, values: dict[str, Any]) -> list[Problem]:
    """What is wrong across columns: a period that ends before it starts."""
    for start, end in (("member_since", "member_until"), ("issued_on", "expires_on")):
        if isinstance(values.get(start), date) and isinstance(values.get(end), date) and values[end] < values[start]:
            return [Problem(line, end, f"{values[end].isoformat()} is before {start} {values[start].isoformat()}")]
    return []


def _comparable(values: dict[str, Any], layout: Layout) -> tuple[Any, ...]:
    """A row's values as duplicates compare them: people by name key, text without case or spacing."""
    out: list[Any] = []
    for column in layout.columns:
        value = values[column.name]
        if column.kind == "person":
            value = name_key(value)
        elif isinstance(value, str):
            value = " ".join(value.casefold().split())
        out.append(value)
    return tuple(out)


def header_name(title: str) -> str:
    """A header cell as a column name: `  Member Until ` -> `member_until`."""
    return re.sub(r"[\s\-_]+", "_", title.strip().casefold())


def parse_value(kind: str, raw: str) -> Any:
    """A cell's text as its column's value; ValueError says why it cannot be."""
    if len(raw) > MAX_CELL_CHARS:
        raise ValueError(f"is longer than {MAX_CELL_CHARS} characters")
    if kind == "account":
        digits = account_digits(raw)
        if digits is None:
            low, high = ACCOUNT_DIGITS
            raise ValueError(f"{raw!r} is not a WCB account number ({low} to {high} digits)")
        return digits
    if kind == "date":
        return parse_date(raw)
    if kind == "hours":
        if not re.fullmatch(r"\d{1,4}(?:\.\d{1,2})?", raw):
            raise ValueError(f"{raw!r} is not a number of hours")
        return float(raw)
    if kind == "program":
        if raw.upper() not in PROGRAMS:
            raise ValueError(f"{raw!r} is not a program ({' or '.join(PROGRAMS)})")
        return raw.upper()
    if kind == "person" and not name_words(raw):
        raise ValueError(f"{raw!r} is not a person's name")
    return " ".join(raw.split())


_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?")  # Excel adds the midnight
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[-\s]+([A-Za-z]+\.?)[-\s,]+(\d{4})", re.I)
_MONTH_DAY_YEAR = re.compile(r"([A-Za-z]+\.?)[-\s]+(\d{1,2})(?:st|nd|rd|th)?,?[-\s]+(\d{4})", re.I)
_NUMERIC = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def parse_date(raw: str) -> date:
    """`2026-03-31`, `31-Mar-2026`, `31 March 2026`, `March 31, 2026`; ValueError for anything else,
    a numeric date other than year-first above all (`03/04/2026`: the 3rd of April or March 4th?)."""
    text = " ".join(raw.split())
    if m := _YEAR_FIRST.fullmatch(text):
        year, month, day = m.group(1), m.group(2), m.group(3)
    elif (m := _DAY_MONTH_YEAR.fullmatch(text)) and month_number(m.group(2)):
        year, month, day = m.group(3), str(month_number(m.group(2))), m.group(1)
    elif (m := _MONTH_DAY_YEAR.fullmatch(text)) and month_number(m.group(1)):
        year, month, day = m.group(3), str(month_number(m.group(1))), m.group(2)
    elif _NUMERIC.fullmatch(text):
        raise ValueError(f"{raw!r} is ambiguous (which number is the month?): write it as YYYY-MM-DD "
                         "or with the month in words (31-Mar-2026)")
    else:
        raise ValueError(f"{raw!r} is not a date (write YYYY-MM-DD or 31-Mar-2026)")
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"{raw!r} is not a day of the calendar") from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"{raw!r} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return value


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
