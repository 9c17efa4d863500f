"""A submitted PDF made safe to preview: its JavaScript and actions removed (issue 24).

Chromium's viewer runs a PDF's document JavaScript (an `app.alert` in an /OpenAction fires a
dialog). The preview is served from a copy without any: no /OpenAction, no additional actions
(/AA), no /JavaScript name tree or /JS, no link actions that run script, launch programs, submit or
import forms, and no XFA. The original bytes stay available as a download.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

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
