"""Google Drive: file and folder links (folders walked file by file), /open, /uc and short forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from fetchers.net import Fetched, LinkProblem, not_found, sanitize_name, unavailable
from fetchers.providers.base import Got, Job, Link, Provider, expand, page_problem, store, unique_path
from fetchers.providers.google_docs import doc_target, fetch_doc

MAX_FOLDER_DEPTH = 20
_DRIVE_LINK = re.compile(r"^/(file/(u/\d+/)?d/|drive/(u/\d+/)?(mobile/)?folders/|folderview|embeddedfolderview)")


def _drive_target(url: str) -> tuple[str, str, str | None]:
    """('file' | 'folder' | 'open', id, resourcekey) of a Drive link."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    key = query.get("resourcekey", [None])[0]
    if m := re.match(r"^/file/(?:u/\d+/)?d/([\w-]+)", parts.path):
        return "file", m.group(1), key
    if m := re.match(r"^/drive/(?:u/\d+/)?(?:mobile/)?folders/([\w-]+)", parts.path):
        return "folder", m.group(1), key
    ident = query.get("id", [""])[0]
    if parts.path in ("/folderview", "/embeddedfolderview"):
        return "folder", ident, key
    if parts.path == "/open":
        return "open", ident, key
    return "file", ident, key


def drive_download_url(file_id: str, resourcekey: str | None) -> str:
    params = {"id": file_id, "export": "download"}
    if resourcekey:
        params["resourcekey"] = resourcekey
    return "https://drive.google.com/uc?" + urlencode(params)


class _Form(HTMLParser):
    """Google's virus-scan warning form: <form id="download-form" action=...> and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == "download-form":
            self.action, self._inside = a.get("action") or "", True
        elif tag == "input" and self._inside and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"] or "", a.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def fetch_drive_file(job: Job, file_id: str, resourcekey: str | None, original: str, folder: Path,
                     fallback: str) -> Path:
    """One Drive file; the large-file virus-scan warning form is submitted with its hidden fields."""
    url = drive_download_url(file_id, resourcekey)
    for _ in range(3):
        got = job.dl.fetch(url)
        assert isinstance(got, Fetched)
        if not got.is_html():
            return store(got, folder, fallback, job)
        form = _Form()
        form.feed(got.text())
        if form.action is None or not form.fields:
            raise page_problem(original, got)
        got.discard()
        url = urljoin(got.url, form.action) + "?" + urlencode(form.fields)
    raise unavailable(original, "Google Drive kept asking to confirm the download")


@dataclass
class Entry:
    url: str
    title: str


class _Listing(HTMLParser):
    """A Drive folder's embedded view: <title>, and per <div class="flip-entry"> its link and title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.entries: list[Entry] = []
        self.is_listing = False
        self._href: str | None = None
        self._capture: str | None = None
        self._buffer = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "flip-entries" in classes:
            self.is_listing = True
        if tag == "title":
            self._capture, self._buffer = "title", ""
        elif "flip-entry" in classes:
            self._href = None
        elif tag == "a" and self._href is None and a.get("href"):
            self._href = a["href"]
        elif "flip-entry-title" in classes:
            self._capture, self._buffer = "entry", ""

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._buffer += data

    def handle_endtag(self, tag: str) -> None:
        if self._capture == "title" and tag == "title":
            self.title, self._capture = self._buffer.strip(), None
        elif self._capture == "entry" and tag == "div":
            if self._href:
                self.entries.append(Entry(self._href, self._buffer.strip()))
            self._capture, self._href = None, None


def list_drive_folder(job: Job, folder_id: str, resourcekey: str | None, original: str) -> _Listing:
    params = {"id": folder_id}
    if resourcekey:
        params["resourcekey"] = resourcekey
    got = job.dl.fetch("https://drive.google.com/embeddedfolderview?" + urlencode(params), page=True)
    assert isinstance(got, Fetched)
    listing = _Listing()
    listing.feed(got.text())
    if not listing.is_listing:
        raise page_problem(original, got, " (not a folder listing)")
    got.discard()
    return listing


def fetch_drive_folder(job: Job, folder_id: str, resourcekey: str | None, original: str, folder: Path | None,
                       depth: int = 0, seen: set[str] | None = None) -> Got:
    """A Drive folder, its sub-folders and files, file by file into the same tree."""
    seen = set() if seen is None else seen
    if folder_id in seen or depth > MAX_FOLDER_DEPTH:
        raise LinkProblem("link.unsupported", f"The Google Drive folder at {original} contains itself or is "
                                              "nested too deeply. Zip the folder and attach the zip instead.")
    seen.add(folder_id)
    listing = list_drive_folder(job, folder_id, resourcekey, original)
    if folder is None:
        folder = unique_path(job.dest / sanitize_name(listing.title, "Google Drive folder"))
    folder.mkdir(parents=True, exist_ok=True)
    for entry in listing.entries:
        job.count_entry(original)
        url = urljoin("https://drive.google.com/", entry.url)
        host = urlsplit(url).hostname
        if host == "docs.google.com" and doc_target(url):
            fetch_doc(job, url, folder, entry.title or None)
            continue
        kind, ident, key = _drive_target(url)
        if not ident or host != "drive.google.com":
            continue  # a shortcut or an item we cannot fetch anonymously
        if kind == "folder":
            sub = unique_path(folder / sanitize_name(entry.title, "folder"))
            fetch_drive_folder(job, ident, key, original, sub, depth + 1, seen)
        else:
            fetch_drive_file(job, ident, key, original, folder, entry.title or ident)
    return Got(folder, listing.title or folder.name)


class GoogleDrive(Provider):
    name = "google_drive"
    display_name = "Google Drive"
    # docs.google.com/uc is a Drive download; doc-0s-<x>-docs.googleusercontent.com serves the files.
    hosts = frozenset({"drive.google.com", "docs.google.com", "drive.usercontent.google.com",
                       ".googleusercontent.com"})
    sign_in_hosts = frozenset({"accounts.google.com"})
    sign_in_paths = (("drive.google.com", "/accounts/"),)
    typed_hosts = ("drive.google.com",)

    def recognises(self, link: Link) -> bool:
        if link.host == "drive.google.com":
            by_id = link.path in ("/open", "/uc", "/u/0/uc") and "id" in link.query
            return by_id or bool(_DRIVE_LINK.match(link.path))
        if link.host == "drive.usercontent.google.com":
            return "id" in link.query
        return link.host == "docs.google.com" and link.path == "/uc" and "id" in link.query

    def fetch(self, job: Job, url: str) -> Got:
        """A file, or a folder and its sub-folders file by file; /open?id= lets Drive say which."""
        kind, ident, key = _drive_target(url)
        if not ident:
            raise not_found(url, "the link has no file or folder id (it was cut short when copied)")
        if kind == "open":  # Drive decides: /open?id= redirects to the file or the folder view
            target = expand(job, url, lambda u: urlsplit(u).path != "/open")
            kind, ident, key2 = _drive_target(target)
            key = key or key2
        if kind == "folder":
            return fetch_drive_folder(job, ident, key, url, None)
        path = fetch_drive_file(job, ident, key, url, job.dest, ident)
        return Got(path, path.name)
