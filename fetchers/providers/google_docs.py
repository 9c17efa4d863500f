"""Google Docs, Sheets and Slides links, exported as PDF, XLSX and PDF."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fetchers.providers.base import Got, Job, Link, Provider, fetch_file, store, with_query

_DOC_LINK = re.compile(r"^/(document|spreadsheets|presentation)/(u/\d+/)?d/")
_DOC_PATH = re.compile(r"^/(document|spreadsheets|presentation)/(?:u/\d+/)?d/([\w-]+)")
_DOC_EXPORTS = {
    "document": ("export?format=pdf", ".pdf"),
    "spreadsheets": ("export?format=xlsx", ".xlsx"),
    "presentation": ("export/pdf", ".pdf"),
}


def export_url(kind: str, doc_id: str, resourcekey: str | None) -> str:
    """Docs as PDF, Sheets as XLSX, Slides as PDF."""
    suffix, _ = _DOC_EXPORTS[kind]
    url = f"https://docs.google.com/{kind}/d/{doc_id}/{suffix}"
    return with_query(url, resourcekey=resourcekey) if resourcekey else url


def doc_target(url: str) -> tuple[str, str, str | None] | None:
    """(kind, id, resourcekey) of a Docs, Sheets or Slides link, or None."""
    parts = urlsplit(url)
    m = _DOC_PATH.match(parts.path)
    if not m:
        return None
    return m.group(1), m.group(2), parse_qs(parts.query).get("resourcekey", [None])[0]


def fetch_doc(job: Job, url: str, folder: Path, title: str | None = None) -> Path:
    """One document's export into `folder` (also used for the documents of a Drive folder)."""
    kind, doc_id, key = doc_target(url)  # type: ignore[misc]
    got = fetch_file(job, export_url(kind, doc_id, key), url)
    return store(got, folder, (title or doc_id) + _DOC_EXPORTS[kind][1], job)


class GoogleDocs(Provider):
    name = "google_docs"
    display_name = "Google Docs"
    hosts = frozenset({"docs.google.com", ".googleusercontent.com"})
    sign_in_hosts = frozenset({"accounts.google.com"})
    sign_in_paths = (("docs.google.com", "/accounts/"),)
    typed_hosts = ("docs.google.com",)
    advertised = False  # a kind of Google Drive link: "Google Drive" names it to submitters

    def recognises(self, link: Link) -> bool:
        return link.host == "docs.google.com" and bool(_DOC_LINK.match(link.path))

    def fetch(self, job: Job, url: str) -> Got:
        path = fetch_doc(job, url, job.dest)
        return Got(path, path.name)
