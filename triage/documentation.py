"""Dating the documentation: when each supporting document was made, and the span they cover.

A document's date comes from its file name first (`2026-03-14 Site Inspection.pdf`, `Toolbox Talk
March 3 2026.pdf`, `FLHA_20260402.pdf`, `Minutes 2026-06.pdf`), which costs nothing. Only when the
name has none is the document read: the first date on its first page, else the date its metadata says
it was created (PDF /CreationDate, Office docProps/core.xml); at most MAX_CONTENT_READS documents are
read, so a 5,000-file submission of undated names stays fast. Photos and scans without text keep no
date. The evaluation tool itself is not documentation.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from triage.dates import months_between, name_date, parse_date
from triage.formats import FileType
from triage.text import extract_text

if TYPE_CHECKING:
    from triage.submission import Document, Submission

MAX_CONTENT_READS = 100  # documents without a dated name whose first page or metadata is read
MAX_CONTENT_BYTES = 20_000_000
FIRST_PAGE_CHARS = 3_000
_CONTENT_FAMILIES = frozenset({"pdf", "word", "spreadsheet", "text", "presentation"})
_CORE_CREATED = re.compile(rb"<dcterms:created[^>]*>\s*(\d{4}-\d\d-\d\d)")


class Dated(NamedTuple):  # a tuple: 5,000 of them cost a third of what frozen dataclasses do
    """One supporting document's date and how it was found: "name", "text" or "metadata"."""

    path: str
    date: date
    how: str
    element: int | None


def date_documents(sub: Submission) -> list[Dated]:
    """The dated supporting documents of a submission (see the module docstring)."""
    tool = {d.path for d in sub.evaluation_tool.parts}
    dated: list[Dated] = []
    elements: dict[str, int | None] = {}  # by folder: one look-up per folder, not per document
    reads = 0
    for document in sub.documents:
        if document.path in tool:
            continue
        found = name_date(document.name)
        how = "name"
        if found is None and reads < MAX_CONTENT_READS and _readable(document):
            reads += 1
            found, how = _content_date(document)
        if found is not None:
            if document.folder not in elements:
                elements[document.folder] = sub.element_of(document.path)
            dated.append(Dated(document.path, found, how, elements[document.folder]))
    return dated


def _readable(document: Document) -> bool:
    return 0 < document.size <= MAX_CONTENT_BYTES and document.ftype.family in _CONTENT_FAMILIES


def _content_date(document: Document) -> tuple[date | None, str]:
    """The first date on the first page, else the creation date in the metadata."""
    try:
        with document.open() as fh:
            if document.ftype.family == "pdf":
                return _pdf_date(fh)
            found = parse_date(extract_text(fh, document.ftype, max_chars=FIRST_PAGE_CHARS))
            if found is not None:
                return found, "text"
            return _office_created(fh, document.ftype), "metadata"
    except Exception:  # noqa: BLE001 - a damaged document has no date; the format rules report it
        return None, "metadata"


def _pdf_date(fh: BinaryIO) -> tuple[date | None, str]:
    """The first page only (a scan of 40 pages must not be walked for text it does not have)."""
    import pypdf

    fh.seek(0)
    reader = pypdf.PdfReader(fh, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        return None, "metadata"
    if len(reader.pages):
        found = parse_date((reader.pages[0].extract_text() or "")[:FIRST_PAGE_CHARS])
        if found is not None:
            return found, "text"
    info = reader.metadata
    created = info.creation_date if info is not None else None
    return (created.date() if created is not None and 2000 <= created.year <= 2099 else None), "metadata"


def _office_created(fh: BinaryIO, ftype: FileType) -> date | None:
    """docProps/core.xml's dcterms:created of an OOXML document."""
    if not ftype.mime.startswith("application/vnd.openxmlformats-officedocument."):
        return None
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        if "docProps/core.xml" not in zf.namelist():
            return None
        with zf.open("docProps/core.xml") as core:
            m = _CORE_CREATED.search(core.read(64_000))
    return parse_date(m.group(1).decode()) if m else None


def _span(dates: list[date]) -> dict[str, Any]:
    if not dates:
        return {"earliest": None, "latest": None, "months": None, "dated": 0}
    earliest, latest = min(dates), max(dates)
    return {"earliest": earliest.isoformat(), "latest": latest.isoformat(),
            "months": months_between(earliest, latest), "dated": len(dates)}


def documentation_summary(sub: Submission) -> dict[str, Any]:
    """`summary.documentation`: earliest, latest, months, how many were dated and how, and per element."""
    dated = sub.documentation
    out = _span([d.date for d in dated])
    out["documents"] = len(sub.documents) - len(sub.evaluation_tool.parts)
    out["dated_by"] = {how: sum(1 for d in dated if d.how == how) for how in ("name", "text", "metadata")}
    by_element: dict[int | None, list[date]] = {}
    for d in dated:
        by_element.setdefault(d.element, []).append(d.date)
    out["elements"] = {str(e.number): _span(by_element.get(e.number, [])) for e in sub.vocabulary.elements}
    return out
