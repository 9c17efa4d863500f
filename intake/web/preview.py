"""Previews made safe (issues 21 and 24).

A submitted PDF made safe to preview: its JavaScript and actions removed (issue 24).

Chromium's viewer runs a PDF's document JavaScript (an `app.alert` in an /OpenAction fires a
dialog). The preview is served from a copy without any: no /OpenAction, no additional actions
(/AA), no /JavaScript name tree or /JS, no link actions that run script, launch programs, submit or
import forms, and no XFA. The original bytes stay available as a download.

Word (.docx) and Excel (.xlsx) documents as sanitised HTML for the case page's preview frame.

Nothing from the document runs or fetches: the converter's HTML goes through an allowlist sanitiser
(nh3: no scripts, no event attributes, no styles, links only to http/https/mailto, images only as
embedded data), and the page that carries it has a CSP allowing nothing but its own inline style and
data: images, in a sandbox. The work is bounded: a document whose parts unpack to more than
MAX_UNPACKED_BYTES is not converted, and a workbook shows at most MAX_SHEETS sheets of MAX_ROWS rows
and MAX_COLUMNS columns.
"""

from __future__ import annotations

import html
import io
import logging
import zipfile
from pathlib import Path
from typing import Any

import nh3
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

from triage.text import XML_PART_CAP  # what triage parses of one XML part, the converters too

log = logging.getLogger("secor_intake.web")

MAX_PREVIEW_BYTES = 50_000_000  # a larger PDF is only downloaded: sanitizing costs time and memory
_DROPPED_KEYS = ("/OpenAction", "/AA", "/JavaScript", "/JS", "/XFA")
_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/ResetForm", "/Rendition",
                             "/RichMediaExecute", "/GoToR", "/GoToE"})


class UnsafePdf(Exception):
    """A PDF that could not be read well enough to be made safe; it is not previewed."""


def _runs_something(action: PdfObject) -> bool:
    target = action.get_object() if isinstance(action, IndirectObject) else action
    return isinstance(target, DictionaryObject) and str(target.get("/S")) in _ACTIVE_ACTIONS


def _strip(root: PdfObject) -> int:
    """Remove every script and active action reachable from `root`; the number of entries removed."""
    removed, seen = 0, set()
    stack: list[PdfObject | None] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            for name in _DROPPED_KEYS:
                if NameObject(name) in item:
                    del item[NameObject(name)]
                    removed += 1
            for name in ("/A", "/Next"):
                if NameObject(name) in item and _runs_something(item[NameObject(name)]):
                    del item[NameObject(name)]
                    removed += 1
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return removed


def safe_pdf(path: Path) -> bytes:
    """The PDF at `path` without its scripts and actions; raises UnsafePdf when it cannot be read."""
    if path.stat().st_size > MAX_PREVIEW_BYTES:
        raise UnsafePdf("too large to preview")
    try:
        writer = PdfWriter(clone_from=PdfReader(path))
        _strip(writer._root_object)
        out = io.BytesIO()
        writer.write(out)
    except Exception as exc:  # pypdf raises many kinds on a broken file: none may become a preview
        log.info("preview: %s not previewed: %s", path.name, exc)
        raise UnsafePdf(str(exc)) from None
    return out.getvalue()


# -- Word and Excel as sanitised HTML (issue 21) ------------------------------------------------


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML_PREVIEW_TYPES = frozenset({DOCX, XLSX})
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # a zip bomb stops here, before any converter reads it
MAX_HTML_CHARS = 4_000_000  # what the converter made, before sanitising (embedded pictures are large)
MAX_SHEETS, MAX_ROWS, MAX_COLUMNS = 10, 500, 40
PREVIEW_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; "
               "base-uri 'none'; form-action 'none'; sandbox")
_TAGS = {"p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub", "sup",
         "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "caption", "a", "img", "blockquote",
         "pre", "code", "hr"}
_ATTRIBUTES = {"p": {"class"}, "a": {"href", "title"}, "img": {"src", "alt"}, "td": {"colspan", "rowspan"},
               "th": {"colspan", "rowspan", "scope"}}
_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#1d2327;background:#fff}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #dcdcde;padding:.15rem .4rem;
vertical-align:top}th{background:#eef2f5}img{max-width:100%}.note{color:#646970}"""


class NotPreviewable(Exception):
    """The document cannot be shown (too large, broken): the message says why; it still downloads."""


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    # An image from anywhere but the document itself would be a fetch (a tracking pixel): dropped.
    if tag == "img" and attribute == "src" and not value.startswith("data:image/"):
        return None
    return value


def sanitise(markup: str) -> str:
    """Only structure and text survive: see the module's docstring."""
    return nh3.clean(markup[:MAX_HTML_CHARS], tags=_TAGS, attributes=_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto", "data"}, attribute_filter=_attribute,
                     link_rel="noopener noreferrer nofollow")


def _check_unpacked_size(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise NotPreviewable("the document is not a readable Office file") from exc
    unpacked = sum(info.file_size for info in infos)
    if any(i.filename.endswith((".xml", ".rels")) and i.file_size > XML_PART_CAP for i in infos):
        raise NotPreviewable("a part of the document is too large to preview")
    if unpacked > MAX_UNPACKED_BYTES:
        raise NotPreviewable(f"the document unpacks to {unpacked // 1_000_000} MB, too large to preview")


def _docx(path: Path) -> str:
    import mammoth

    with path.open("rb") as fh:
        result = mammoth.convert_to_html(fh, external_file_access=False)
    return str(result.value)


def _cell(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _xlsx(path: Path) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        parts: list[str] = []
        sheets = workbook.worksheets
        for sheet in sheets[:MAX_SHEETS]:
            parts.append(f"<h2>{html.escape(sheet.title)}</h2><table>")
            rows = 0
            for rows, row in enumerate(sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS,
                                                       values_only=True), start=1):
                if rows > MAX_ROWS:
                    break
                cells = list(row)
                while cells and cells[-1] is None:  # a sheet's declared width is often far wider than its data
                    cells.pop()
                parts.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in cells) + "</tr>")
            parts.append("</table>")
            if rows > MAX_ROWS:
                parts.append(f"<p class=note>Only the first {MAX_ROWS} rows are shown: download the file "
                             "for the rest.</p>")
        if len(sheets) > MAX_SHEETS:
            parts.append(f"<p class=note>Only the first {MAX_SHEETS} of {len(sheets)} sheets are shown.</p>")
        return "".join(parts)
    finally:
        workbook.close()


def office_html(path: Path, mime: str) -> str:
    """The body of the preview page of the document at `path`; raises NotPreviewable."""
    _check_unpacked_size(path)
    try:
        markup = _docx(path) if mime == DOCX else _xlsx(path)
    except NotPreviewable:
        raise
    except Exception as exc:  # a hostile or broken document: any converter error means "download it"
        raise NotPreviewable("the document could not be converted") from exc
    return sanitise(markup)


def preview_page(title: str, body: str) -> str:
    """A whole HTML document around a sanitised body (the `.note` class is ours, kept by the sanitiser)."""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
