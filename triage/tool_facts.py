"""What the evaluation tool states: employer, WCB account, employees, purpose, dates, assessor.

Read from the evaluation tool's own documents only, never from another document of the submission
(an invoice or a letter names other companies and other dates). Each document is turned into rows of
cells that keep where they came from:

- a text PDF: one row per line of text as laid out, a cell per stretch between wide gaps (`page 1,
  line 4`); a fillable PDF's fields too (`form field
  'LegalName'`), labelled by their tooltip or name;
- a Word document: one row per paragraph (`paragraph 7`) and one row per table row, a cell per
  table cell (`table 1, row 2, cell 2`); legacy form checkboxes and Wingdings boxes become ☒/☐;
- an Excel workbook: one row per sheet row, a cell per cell (`Evaluation!B4`), date cells as dates.

A field's label is looked for at the start of a cell, or later in a line when a colon follows it
(`Trade name: X   WCB Account #: 123`). Its value is the rest of that cell, else the next cell of the
row, else the next row (a PDF's value on the line under its label, or a table's value row under a
label row). A value that does not read as its field (a WCB account without digits, a date that is
not one) is no value: a scan without text, or a form left blank, gives nulls, not guesses.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable

from triage.dates import find_dates, parse_date
from triage.formats import FileType
from triage.text import Enough, SharedStringsWalker, SheetWalker, TextCollector, read_capped, walk_xml

if TYPE_CHECKING:
    from triage.submission import Document

FIELDS = ("legal_name", "trade_name", "wcb_account", "employees", "purpose", "evaluation_start",
          "evaluation_end", "submitted_on", "assessor")
PURPOSES = ("certification", "maintenance", "renewal", "action_plan")
MAX_PAGES = 4  # the header of the tool is on its first page or two
MAX_ROWS = 400  # per document: the header is at the top, the questions after it
MAX_SHEETS = 3
MAX_DOCUMENT_BYTES = 50_000_000

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_WA = _W[1:]  # expat names attributes `namespace}local`, without the brace the walker adds to elements
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class Cell:
    text: str
    where: str  # where a person finds it in the document


Row = list[Cell]


@dataclass
class ToolFacts:
    """The facts read, each value or None, and for each value found where it came from."""

    values: dict[str, object] = field(default_factory=lambda: dict.fromkeys(FIELDS))
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {"document", "where"}

    def summary(self) -> dict[str, object]:
        """`summary.tool`: JSON values (dates as ISO strings)."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in self.values.items()}

    def date_value(self, name: str) -> date | None:
        """A date fact (`evaluation_end`, `submitted_on`...), or None when it was not read."""
        value = self.values[name]
        return value if isinstance(value, date) else None

    def int_value(self, name: str) -> int | None:
        """A number fact (`employees`), or None when it was not read."""
        value = self.values[name]
        return value if isinstance(value, int) else None


# -- reading a document into rows ---------------------------------------------------------------


def document_rows(fh: BinaryIO, ftype: FileType) -> list[Row]:
    """The rows of cells of one document (see the module docstring); [] for what has no text."""
    try:
        if ftype.family == "pdf":
            return _pdf_rows(fh)
        if ftype.mime.startswith("application/vnd.openxmlformats-officedocument.wordprocessingml"):
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                walker = _DocxRows()
                walk_xml(read_capped(zf, "word/document.xml"), walker)
                return walker.rows
        if ftype.mime.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml"):
            return _xlsx_rows(fh)
        if ftype.family in ("text", "word", "spreadsheet"):  # RTF, plain text, legacy Office: text lines
            from triage.text import extract_text

            text = extract_text(fh, ftype, max_chars=50_000)
            return [[Cell(line, f"line {n}")] for n, line in enumerate(text.splitlines()[:MAX_ROWS], 1) if line.strip()]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, RuntimeError, EOFError, RecursionError,
            SyntaxError):  # SyntaxError: ElementTree's ParseError on a damaged workbook part
        return []
    return []


def _pdf_rows(fh: BinaryIO) -> list[Row]:
    import pypdf

    rows: list[Row] = []
    try:
        fh.seek(0)
        reader = pypdf.PdfReader(fh, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return []
        rows += _pdf_form_rows(reader)  # first: a filled-in field is the surest answer, and a page's last label
        # must not take a form field for the line under it
        for number, page in enumerate(reader.pages[:MAX_PAGES], start=1):
            lines = [line for line in _page_text(page).splitlines() if line.strip()]
            rows += [_pdf_cells(line, f"page {number}, line {n}") for n, line in enumerate(lines, 1)]
            if len(rows) >= MAX_ROWS:
                break
    except Exception:  # noqa: BLE001 - pypdf raises many kinds on hostile input; a broken PDF states nothing
        return rows
    return rows


def _page_text(page) -> str:
    """The page's text laid out as printed: a table's label and value cells keep the gap between them,
    which the plain extraction closes (`Legal Name of Employer Acme Ltd.`)."""
    try:
        return page.extract_text(extraction_mode="layout") or ""
    except Exception:  # noqa: BLE001 - pypdf's layout mode fails on some pages where the plain one does not
        return page.extract_text() or ""


_COLUMN_GAP = re.compile(r"\s{3,}")


def _pdf_cells(line: str, where: str) -> Row:
    """A laid-out line as cells, split at wide gaps: a table row or two fields side by side."""
    return [Cell(text, where) for text in _COLUMN_GAP.split(line.strip())]


def _pdf_form_rows(reader) -> list[Row]:
    """A fillable PDF's filled-in fields: the field's tooltip (or name) as the label, its value beside
    it; its checkboxes together on one row (`☒ Maintenance ☐ Certification`), as a printed form reads."""
    rows: list[Row] = []
    boxes: list[Cell] = []
    for name, spec in list((reader.get_fields() or {}).items())[:MAX_ROWS]:
        label = str(spec.get("/TU") or name)
        where = f"form field {name!r}"
        value = spec.get("/V")
        if spec.get("/FT") == "/Btn":
            ticked = value is not None and str(value) not in ("/Off", "Off", "")
            boxes.append(Cell(f"{'☒' if ticked else '☐'} {label}", where))
        elif value is not None and str(value).strip():
            rows.append([Cell(label, where), Cell(str(value), where)])
    if boxes:
        ticked_boxes = [c for c in boxes if c.text.startswith("☒")]
        rows.append([Cell(" ".join(c.text for c in boxes),
                          ticked_boxes[0].where if len(ticked_boxes) == 1 else boxes[0].where)])
    return rows


class _DocxRows(TextCollector):
    """word/document.xml into rows: body paragraphs, and table rows with one cell per table cell.

    A table inside a table cell adds its text to that cell. Checkboxes that are not characters
    (legacy form fields, Wingdings symbols) are written as ☒/☐ so the purpose reads the same way.
    """

    def __init__(self) -> None:
        super().__init__(max_chars=200_000)
        self.rows: list[Row] = []
        self.table_depth = 0
        self.tables = self.table_rows = self.paragraphs = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.para: list[str] = []
        self.in_text = False
        self.checkbox: dict[str, bool | None] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_W}t":
            self.in_text = True
        elif name == f"{_W}tab":
            self.para.append("\t")
        elif name in (f"{_W}br", f"{_W}cr"):
            self.para.append(" ")
        elif name == f"{_W}tbl":
            self.table_depth += 1
            if self.table_depth == 1:
                self.tables += 1
                self.table_rows = 0
        elif self.table_depth == 1 and name == f"{_W}tr":
            self.table_rows += 1
            self.row = []
        elif self.table_depth == 1 and name == f"{_W}tc":
            self.cell = []
        elif name == f"{_W}sym":
            char = attrs.get(_WA + "char", "").upper()
            if char in ("F0FE", "F0FD", "F078", "F0FC", "F0FB"):
                self.para.append("☒")
            elif char in ("F0A8", "F06F", "F071", "F072"):
                self.para.append("☐")
        elif name == f"{_W}checkBox":
            self.checkbox = {"default": False, "checked": None}
        elif name == f"{_W}default" and self.checkbox:
            self.checkbox["default"] = attrs.get(_WA + "val", "1") not in ("0", "false")
        elif name == f"{_W}checked" and self.checkbox:
            self.checkbox["checked"] = attrs.get(_WA + "val", "1") not in ("0", "false")

    def end(self, name: str) -> None:
        if name == f"{_W}t":
            self.in_text = False
        elif name == f"{_W}checkBox":
            checked = self.checkbox["checked"]
            self.para.append("☒" if (self.checkbox["default"] if checked is None else checked) else "☐")
            self.checkbox = {}
        elif name == f"{_W}p":
            text = " ".join("".join(self.para).split())
            self.para = []
            if self.table_depth and self.cell is not None:
                if text:
                    self.cell.append(text)
            elif text:
                self.paragraphs += 1
                self._add([Cell(text, f"paragraph {self.paragraphs}")])
        elif self.table_depth == 1 and name == f"{_W}tc" and self.row is not None and self.cell is not None:
            self.row.append(" ".join(self.cell))
            self.cell = None
        elif self.table_depth == 1 and name == f"{_W}tr" and self.row is not None:
            where = f"table {self.tables}, row {self.table_rows}"
            cells = [Cell(text, f"{where}, cell {n}") for n, text in enumerate(self.row, 1)]
            self.row = None
            if any(c.text for c in cells):
                self._add(cells)
        elif name == f"{_W}tbl":
            self.table_depth -= 1

    def data(self, text: str) -> None:
        if self.in_text:
            self.para.append(text)
            self.total += len(text)
            if self.total >= self.max_chars:
                raise Enough

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        if len(self.rows) >= MAX_ROWS:
            raise Enough


# Excel's built-in number formats that show dates, and the letters of a custom date format.
_BUILTIN_DATE_FORMATS = frozenset(range(14, 23)) | {45, 46, 47}
_DATE_FORMAT = re.compile(r"[dmy]", re.I)
_EXCEL_EPOCH = date(1899, 12, 30)


class _StylesWalker(TextCollector):
    """xl/styles.xml: which cell styles (cellXfs index) show a date."""

    def __init__(self) -> None:
        super().__init__(max_chars=1 << 30)
        self.custom: dict[int, bool] = {}
        self.in_xfs = False
        self.date_styles: list[bool] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == f"{_S}numFmt":
            code = re.sub(r'"[^"]*"|\[[^]]*\]|\\.', "", attrs.get("formatCode", ""))
            self.custom[int(attrs.get("numFmtId", "0"))] = bool(_DATE_FORMAT.search(code))
        elif name == f"{_S}cellXfs":
            self.in_xfs = True
        elif name == f"{_S}xf" and self.in_xfs:
            fmt = int(attrs.get("numFmtId", "0"))
            self.date_styles.append(self.custom.get(fmt, fmt in _BUILTIN_DATE_FORMATS))

    def end(self, name: str) -> None:
        if name == f"{_S}cellXfs":
            self.in_xfs = False


class _SheetCells(SheetWalker):
    """One worksheet's cells as rows, each cell with its reference (`Sheet1!B4`), date cells as dates."""

    def __init__(self, sheet: str, shared: list[str], date_styles: list[bool]) -> None:
        super().__init__(200_000, shared)
        self.sheet, self.date_styles = sheet, date_styles
        self.rows: list[Row] = []
        self.row: Row = []

    def cell(self, text: str) -> None:
        text = self._cell_text(text.strip())
        if text:
            self.row.append(Cell(text, f"{self.sheet}!{self.ref}"))

    def row_end(self) -> None:
        if self.row:
            self.rows.append(self.row)
            self.row = []
            if len(self.rows) >= MAX_ROWS:
                raise Enough

    def _cell_text(self, raw: str) -> str:
        number = self.kind in (None, "n")
        if number and raw and 0 <= self.style < len(self.date_styles) and self.date_styles[self.style]:
            try:
                return (_EXCEL_EPOCH + timedelta(days=int(float(raw)))).isoformat()
            except (ValueError, OverflowError):
                return raw
        return raw[:-2] if number and raw.endswith(".0") else raw


def _xlsx_rows(fh: BinaryIO) -> list[Row]:
    from xml.etree import ElementTree

    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        names = set(zf.namelist())
        strings = SharedStringsWalker(1_000_000)
        if "xl/sharedStrings.xml" in names:
            walk_xml(read_capped(zf, "xl/sharedStrings.xml"), strings)
        styles = _StylesWalker()
        if "xl/styles.xml" in names:
            walk_xml(read_capped(zf, "xl/styles.xml"), styles)
        # Sheet names and parts, in the workbook's order (small parts: a tree is fine, no DOCTYPE allowed).
        sheets: list[tuple[str, str]] = []
        workbook = b"".join(read_capped(zf, "xl/workbook.xml", 1 << 20))
        rels = b"".join(read_capped(zf, "xl/_rels/workbook.xml.rels", 1 << 20))
        if b"<!DOCTYPE" in workbook or b"<!DOCTYPE" in rels:
            return []
        targets = {r.get("Id"): r.get("Target", "") for r in ElementTree.fromstring(rels).iter(f"{_PKG_REL}Relationship")}
        for sheet in ElementTree.fromstring(workbook).iter(f"{_S}sheet"):
            target = targets.get(sheet.get(f"{_REL}id"), "").lstrip("/")
            part = target if target.startswith("xl/") else f"xl/{target}"
            if part in names:
                sheets.append((sheet.get("name", "?"), part))
        rows: list[Row] = []
        for name, part in sheets[:MAX_SHEETS]:
            walker = _SheetCells(name, strings.strings, styles.date_styles)
            walk_xml(read_capped(zf, part), walker)
            rows += walker.rows
        return rows


# -- labels and values --------------------------------------------------------------------------

_OF_TOOL = r"(?:\s+of\s+(?:the\s+)?(?:evaluation|audit|self[- ]evaluation))?"
_LABELS: dict[str, str] = {
    "legal_name": r"(?:employer(?:'s)?\s+|company\s+|business\s+)?legal\s+name(?:\s+of\s+(?:the\s+)?(?:employer|company|business))?"
                  r"|(?:company|employer|business)(?:'s)?\s+name|name\s+of\s+(?:the\s+)?(?:employer|company|business)"
                  r"|registered\s+name",
    "trade_name": r"trade\s+name|operating\s+(?:as|name)|doing\s+business\s+as",
    "wcb_account": r"(?:wcb(?:[-\s]*alberta)?|workers'?\s+compensation(?:\s+board)?)\s*(?:employer\s+)?"
                   r"(?:account|acct\.?)(?:\s*(?:number|no\.?|#))?(?:\(s\)|s)?"
                   r"|wcb\s*(?:#|no\.|number)|account\s+(?:number|no\.?|#)\s*\(wcb\)",
    "employees": r"(?:total\s+)?(?:number|no\.?|#)\s*of\s+(?:employees|workers|staff|personnel)"
                 r"|(?:total\s+)?(?:employees|workers)(?:\s+\(total\))?|how\s+many\s+(?:employees|workers)",
    "purpose": r"purpose(?:\s+of\s+(?:the\s+)?(?:evaluation|audit|submission))?"
               r"|(?:type|reason)\s+(?:of|for)\s+(?:the\s+)?(?:evaluation|audit|submission)"
               r"|(?:evaluation|audit|submission)\s+(?:type|purpose)",
    "evaluation_start": rf"(?:evaluation|audit|assessment)\s+start(?:ed)?(?:\s+date)?|(?:start|starting)\s+date{_OF_TOOL}"
                        r"|date\s+(?:the\s+)?(?:evaluation|audit)\s+(?:started|began)",
    "evaluation_end": rf"(?:evaluation|audit|assessment)\s+(?:end|completion|completed(?!\s+by))(?:\s+date)?"
                      rf"|(?:end|ending|completion)\s+date{_OF_TOOL}|date\s+(?:the\s+)?(?:evaluation|audit)\s+(?:ended|completed)",
    "evaluation_period": r"(?:evaluation|audit)\s+(?:period|dates)|dates?\s+of\s+(?:the\s+)?(?:evaluation|audit)",
    "submitted_on": r"(?:date\s+)?submitted(?!\s+by)(?:\s+on)?|submission\s+date|date\s+of\s+submission",
    # A company that assesses itself: `Self-Assessment Completed By`, `Internal Auditor`, `Evaluated by`.
    "assessor": r"(?:name\s+of\s+(?:the\s+)?(?:(?:internal|external|lead|secor)\s+)?(?:assessor|evaluator|auditor))"
                r"|(?:self[-\s]?)?(?:evaluation|assessment|audit)\s+(?:completed|conducted|performed|done)\s+by"
                r"|(?:evaluated|assessed|audited)\s+by"
                r"|(?:(?:internal|external|lead|secor)\s+|self[-\s]?)?(?:assessor|evaluator|auditor)(?:'s)?(?:\s+name|\s*\(name\))?"
                r"(?!\s*(?:'s\s+)?(?:signature|training|trained|certificate|cert\b|qualification|date|phone|e-?mail|number|#|id\b))",
}
# After a label: a note in brackets, `as registered with WCB`, and words up to a colon (`covered by the WCB account:`).
# A bracket a wrapped table cell cut off (`(as registered with` / `WCB)` on the next line) ends the cell.
_TAIL = re.compile(r"\s*(?:\([^)\n]{0,80}(?:\)|$))?\s*(?:as\s+registered\s+with\s+(?:the\s+)?wcb(?:[-\s]alberta)?)?"
                   r"\s*(?:\([^)\n]{0,80}(?:\)|$))?(?:[^:\n\d☐☒☑]{0,60}?:)?\s*(?:[-\u2013=#.]\s*)?", re.I)
_SEPARATOR = re.compile(r"[:=#\t\u2013-]|\s{2,}")
_NUMBERING = re.compile(r"^\s*(?:\d{1,2}[.)]|[a-h][.)]|[ivx]{1,4}[.)])?\s*", re.I)
# Each label once, then a word boundary or a colon, `#` or bracket (`WCB #:`): the pattern written twice
# (`R\b|R(?=...)`) cost twice the compiling, and compiling these is most of this module's import.
_LABEL_RES = {name: re.compile(rf"(?:{regex})(?:\b|(?=\s*[:#(]))", re.I) for name, regex in _LABELS.items()}


@cache
def _any_label_with_colon() -> re.Pattern[str]:
    """Every label, then a colon. Compiled on first use: only a value with a colon in it needs it."""
    return re.compile("|".join(rf"(?:{r})" for r in _LABELS.values()) + r"[^:\n]{0,50}:", re.I)


def _always(m: re.Match[str] | None) -> re.Match[str]:
    """The match of a pattern whose parts are all optional (_NUMBERING, _TAIL): it matches anywhere."""
    assert m is not None
    return m


def _label_at(field_name: str, text: str) -> Iterable[tuple[int, bool]]:
    """Where the value after `field_name`'s label starts in `text`, and whether a separator (colon,
    dash, tab, `#`, a wide gap) stood between: at the start of the cell (numbering allowed), or later
    when a colon follows the label."""
    regex = _LABEL_RES[field_name]
    start = _always(_NUMBERING.match(text)).end()
    m = regex.match(text, start)
    if m:
        tail = _always(_TAIL.match(text, m.end()))
        yield tail.end(), bool(_SEPARATOR.search(text[m.end() - 1:tail.end()]))
    for m in regex.finditer(text, start + 1):
        if text[m.start() - 1].isspace():
            tail = _always(_TAIL.match(text, m.end()))
            if ":" in tail.group():
                yield tail.end(), True


def _cut_at_next_label(value: str) -> str:
    """`Acme Ltd.   Trade name: Acme` -> `Acme Ltd.`: a second label on the same line ends the value."""
    if ":" not in value[1:]:  # the pattern ends in a colon: no colon, no second label
        return value
    m = _any_label_with_colon().search(value, 1)
    return value[:m.start()] if m else value


_DIGITS = re.compile(r"(?<![\d-])(\d[\d -]{4,12}\d)(?![\d])")


def _wcb(value: str) -> str | None:
    """A WCB account number: 6 to 10 digits (spaces and dashes inside dropped); the first of several."""
    for m in _DIGITS.finditer(value):
        digits = re.sub(r"\D", "", m.group(1))
        if 6 <= len(digits) <= 10:
            return digits
    return None


_COUNT = re.compile(r"^\s*(\d{1,3}(?:,\d{3})*|\d{1,6})(?![\d,./-]*\d)")


def _employees(value: str) -> int | None:
    m = _COUNT.match(value)
    return int(m.group(1).replace(",", "")) if m else None


_NAME = re.compile(r"[A-Za-zÀ-ÿ]")
_NOT_A_NAME = re.compile(r"^(?:n/?a|none|tbd|-+|_+|\.+|yes|no|\[\s*\]|☐)$", re.I)


def _name(value: str) -> str | None:
    """A name: letters, at most 150 characters, not a blank-line placeholder or another label."""
    value = " ".join(value.replace("_", " ").split()).strip(" :;,-")
    if not value or len(value) > 150 or not _NAME.search(value) or _NOT_A_NAME.match(value) or _ANY_BOX.search(value):
        return None  # blank, a placeholder, or a row of checkboxes
    if any(_LABEL_RES[f].match(value) for f in FIELDS):
        return None
    return value


def _person(value: str) -> str | None:
    """An assessor's name: the name before any date, certificate number or `Date:`."""
    value = re.split(r"\s{2,}|\t|\s\d|\bdate\b|\bcert", value, maxsplit=1, flags=re.I)[0]
    name = _name(value)
    return name if name and len(name.split()) <= 6 and not re.search(r"\d", name) else None


_CHECKED = r"(?:☒|☑|✔|✓|■|\[\s*[xX✓✔]\s*\]|\(\s*[xX]\s*\))"
_UNCHECKED = r"(?:☐|□|\[\s*\]|\(\s*\))"
_OPTIONS = {
    "action_plan": r"action\s+plan",
    "maintenance": r"maintenance",
    "renewal": r"renewal|re-?certification",
    "certification": r"(?:new\s+|initial\s+)?certification",
}
_OPTION = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _OPTIONS.items()), re.I)
_ANY_BOX = re.compile(f"{_CHECKED}|{_UNCHECKED}")
_TICKED_BEFORE = re.compile(rf"{_CHECKED}\s*(?P<o>{_OPTION.pattern})", re.I)
_TICKED_AFTER = re.compile(rf"(?P<o>{_OPTION.pattern})\s*:?\s*{_CHECKED}", re.I)


def _purpose(value: str) -> str | None:
    """The purpose ticked (`☒ Maintenance`, `[X] Certification`), or the one purpose written out."""
    box = _ANY_BOX.search(value)
    if box:
        option = _OPTION.search(value)
        # `☒ Maintenance` or `Maintenance ☒`: whichever comes first, a box or an option, sets the style
        after = option is not None and option.start() < box.start()
        ticked = {_option_name(m.group("o")) for m in (_TICKED_AFTER if after else _TICKED_BEFORE).finditer(value)}
        return ticked.pop() if len(ticked) == 1 else None  # none or several ticked: no guess
    found = {_option_name(m.group()) for m in _OPTION.finditer(value)}
    return found.pop() if len(found) == 1 else None


def _option_name(text: str) -> str:
    m = re.fullmatch(_OPTION.pattern, text.strip(), re.I)
    return m.lastgroup if m and m.lastgroup else "certification"


_PARSERS: dict[str, Callable[[str], object]] = {
    "legal_name": _name, "trade_name": _name, "wcb_account": _wcb, "employees": _employees,
    "purpose": _purpose, "evaluation_start": parse_date, "evaluation_end": parse_date,
    "submitted_on": parse_date, "assessor": _person,
}


# Fields whose values cannot be mistaken for prose: their label may run on into words before the value.
_TYPED = frozenset({"wcb_account", "employees", "evaluation_start", "evaluation_end", "submitted_on",
                    "evaluation_period"})


def _candidates(rows: list[Row], r: int, c: int, rest: str, separated: bool,
                typed: bool) -> Iterable[tuple[str, str]]:
    """Where a label's value may be: the rest of its cell, the next cells of its row, the row below.

    A label that runs on into words without a separator (`Legal name must match the WCB account.`)
    is prose, not a form field, unless the field's value cannot be mistaken for prose."""
    row = rows[r]
    if rest.strip():
        if separated or typed:
            yield _cut_at_next_label(rest), row[c].where
        if not typed:
            return
    for cell in row[c + 1:]:
        if cell.text.strip():
            yield cell.text, cell.where
            break
    if r + 1 < len(rows):
        below = rows[r + 1]
        cell = below[c] if len(row) > 1 and c < len(below) else below[0]
        yield cell.text, cell.where


def _purpose_text(rows: list[Row], r: int, c: int, rest: str) -> tuple[str, str]:
    """A purpose's options may follow the label on the same row or on the next few rows (one box a
    line); the text of them all, and where the ticked option is."""
    parts = [(rest, rows[r][c].where)] + [(cell.text, cell.where) for cell in rows[r][c + 1:]]
    for row in rows[r + 1:r + 5]:
        line = " ".join(cell.text for cell in row)
        if not _ANY_BOX.search(line) or any(next(iter(_label_at(f, line)), None) for f in FIELDS if f != "purpose"):
            break
        parts += [(cell.text, cell.where) for cell in row]
    text = " ".join(t for t, _ in parts)
    ticked = next((at for t, at in parts if re.search(_CHECKED, t)), None)
    return text, ticked or next((at for t, at in parts if t.strip()), rows[r][c].where)


def read_facts(rows: list[Row]) -> tuple[dict[str, object], dict[str, str]]:
    """The fields found in one document's rows, and where each was found."""
    values: dict[str, object] = {}
    where: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            for name in (*FIELDS, "evaluation_period"):
                if name in values or (name == "evaluation_period" and "evaluation_start" in values):
                    continue
                for offset, separated in _label_at(name, cell.text):
                    rest = cell.text[offset:]
                    if name == "purpose":
                        text, at = _purpose_text(rows, r, c, rest)
                        found = [(_purpose(text), at)] + [(_purpose(t), a) for t, a in
                                                          _candidates(rows, r, c, rest, separated, False)]
                        value, at = next(((v, a) for v, a in found if v), (None, at))
                        if value:
                            values[name], where[name] = value, at
                        break
                    if name == "evaluation_period":
                        if _period(rows, r, c, rest, values, where):
                            break
                        continue
                    for text, at in _candidates(rows, r, c, rest, separated, name in _TYPED):
                        parsed = _PARSERS[name](text)
                        if parsed is not None:
                            values[name], where[name] = parsed, at
                            break
                    if name in values:
                        break
    if "purpose" not in values:  # a checkbox list under a heading that is no label
        for row in rows:
            line = " ".join(cell.text for cell in row)
            if len(_ANY_BOX.findall(line)) >= 2 and (value := _purpose(line)):
                values["purpose"], where["purpose"] = value, row[0].where
                break
    return values, where


def _period(rows: list[Row], r: int, c: int, rest: str, values: dict, where: dict) -> bool:
    """`Evaluation period: 2026-03-02 to 2026-03-13`: a start and an end from one label."""
    for text, at in _candidates(rows, r, c, rest, True, True):
        dates = [d for d, _, _ in find_dates(text)]
        if len(dates) >= 2 and dates[0] <= dates[1]:
            values.setdefault("evaluation_start", dates[0])
            values.setdefault("evaluation_end", dates[1])
            where.setdefault("evaluation_start", at)
            where.setdefault("evaluation_end", at)
            return True
    return False


def read_tool_facts(parts: Iterable[Document]) -> ToolFacts:
    """The facts of the evaluation tool's documents (the first document that states a field wins)."""
    facts = ToolFacts()
    for document in parts:
        if document.size == 0 or document.size > MAX_DOCUMENT_BYTES:
            continue
        try:
            with document.open() as fh:
                rows = document_rows(fh, document.ftype)
        except OSError:
            continue
        values, where = read_facts(rows)
        for name in FIELDS:
            if facts.values[name] is None and values.get(name) is not None:
                facts.values[name] = values[name]
                facts.sources[name] = {"document": document.path, "where": where[name]}
    return facts
