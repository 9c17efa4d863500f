"""Each supported provider: turn a share link into downloads through the one safe path (net.Downloader)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from fetchers.links import DROPBOX, GOOGLE_DOCS, GOOGLE_DRIVE, ONEDRIVE, SHAREPOINT
from fetchers.net import (Downloader, Fetched, LinkProblem, TooLarge, check_url, looks_like_quota,
                          not_found, sanitize_name, sign_in_required, unavailable)

MAX_FOLDER_DEPTH = 20


@dataclass
class Got:
    """What one link became: a file or a folder under the submission's folder, and a display name."""

    path: Path
    name: str


@dataclass
class Job:
    """One link's download: where its files go and how many entries it may create."""

    dl: Downloader
    dest: Path
    max_entries: int
    entries: int = 0
    created: list[Path] = field(default_factory=list)

    def count_entry(self, url: str) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise TooLarge(f"The folder at {url} holds more than {self.max_entries} files and folders, "
                           "over the limit for a submission. Send only what the evaluation asks for.")


# --- shared helpers ------------------------------------------------------------------------------

_NOT_FOUND = re.compile(r"not found|been deleted|was deleted|has expired|link expired|no longer (?:available|exists)|"
                        r"does not exist|doesn't exist|isn't available|is not available|error \(404\)", re.IGNORECASE)
_SIGN_IN = re.compile(r"sign in|sign-in|log in to|you need access|request access|ask for access|"
                      r"you need permission|don't have access|do not have access", re.IGNORECASE)


def page_problem(url: str, page: Fetched, what: str = "") -> LinkProblem:
    """An HTML page where a file was expected, read for what went wrong (it never counts as a document)."""
    text = page.text()
    page.discard()
    if looks_like_quota(text):
        return unavailable(url, "the provider's download quota for this file is used up for now "
                                "(too many downloads recently)")
    if _NOT_FOUND.search(text):
        return not_found(url)
    if _SIGN_IN.search(text):
        return sign_in_required(url)
    return LinkProblem("link.unsupported",
                       f"The link {url} opened a web page instead of a file download{what}. Share the file "
                       "or folder with 'anyone with the link', or attach the zip instead.")


def store(fetched: Fetched, folder: Path, fallback: str, job: Job) -> Path:
    """Move a downloaded body into `folder` under its sanitised name (never over another file)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = sanitize_name(fetched.filename or fallback)
    target = unique_path(folder / name)
    fetched.path.replace(target)
    job.created.append(target)
    return target


def unique_path(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`... when taken."""
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    n = 2
    while (candidate := path.with_name(f"{stem} ({n}){suffix}")).exists():
        n += 1
    return candidate


def expand(job: Job, url: str, done: Callable[[str], bool]) -> str:
    """Follow a short link's redirects by hand until `done(url)`, without fetching the landing page."""
    for _ in range(job.dl.settings.max_redirects + 1):
        if done(url):
            return url
        got = job.dl.fetch(url, page=True, follow=False)
        if isinstance(got, Fetched):
            raise page_problem(url, got) if got.is_html() else not_found(url)
        check_url(got.location, job.dl.settings)
        url = got.location
    raise unavailable(url, "the short link redirected too many times")


def fetch_file(job: Job, url: str, original: str) -> Fetched:
    """A download that must be a file: an HTML answer becomes the finding it describes."""
    got = job.dl.fetch(url)
    assert isinstance(got, Fetched)
    if got.is_html():
        raise page_problem(original, got)
    return got


def with_query(url: str, **params: str | None) -> str:
    """`url` with query parameters set (None removes one), every other parameter kept (rlkey, resourcekey...)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def last_segment(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


# --- Dropbox -------------------------------------------------------------------------------------

def fetch_dropbox(job: Job, url: str) -> Got:
    """/s/, /sh/, /scl/fi/, /scl/fo/ (rlkey kept) and db.tt; dl=1 downloads files, folders as a zip."""
    if urlsplit(url).hostname == "db.tt":
        url = expand(job, url, lambda u: urlsplit(u).hostname != "db.tt")
    parts = urlsplit(url)
    if parts.path.startswith("/scl/") and "rlkey" not in parse_qs(parts.query):
        raise sign_in_required(url, "the link is missing its 'rlkey=' part (it was cut short when copied), "
                                    "so Dropbox asks for a sign-in. Use Dropbox's 'Copy link' button and paste "
                                    "the whole link")
    download = url
    if parts.hostname in ("www.dropbox.com", "dropbox.com", "dl.dropbox.com"):
        download = with_query(url, dl="1", raw=None)
    got = fetch_file(job, download, url)
    path = store(got, job.dest, last_segment(url) or "dropbox-download", job)
    return Got(path, path.name)


# --- Google Drive and Docs -----------------------------------------------------------------------

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


def _doc_target(url: str) -> tuple[str, str, str | None] | None:
    parts = urlsplit(url)
    m = re.match(r"^/(document|spreadsheets|presentation)/(?:u/\d+/)?d/([\w-]+)", parts.path)
    if not m:
        return None
    return m.group(1), m.group(2), parse_qs(parts.query).get("resourcekey", [None])[0]


def fetch_doc(job: Job, url: str, folder: Path, title: str | None = None) -> Path:
    kind, doc_id, key = _doc_target(url)  # type: ignore[misc]
    got = fetch_file(job, export_url(kind, doc_id, key), url)
    return store(got, folder, (title or doc_id) + _DOC_EXPORTS[kind][1], job)


def fetch_google_docs(job: Job, url: str) -> Got:
    path = fetch_doc(job, url, job.dest)
    return Got(path, path.name)


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
        if host == "docs.google.com" and _doc_target(url):
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


def fetch_google_drive(job: Job, url: str) -> Got:
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


# --- OneDrive (personal) -------------------------------------------------------------------------

def shares_api_url(share_url: str) -> str:
    """The OneDrive shares API address of a sharing link: u! + unpadded base64url of the link."""
    token = base64.urlsafe_b64encode(share_url.encode("utf-8")).decode("ascii").rstrip("=")
    return f"https://api.onedrive.com/v1.0/shares/u!{token}/root/content"


def fetch_onedrive(job: Job, url: str) -> Got:
    """Old links (resid + authkey) download from onedrive.live.com; new ones only via the shares API."""
    share = url
    if urlsplit(url).hostname == "1drv.ms":
        url = expand(job, url, lambda u: urlsplit(u).hostname != "1drv.ms")
    query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    resid = query.get("resid") or query.get("id")
    authkey = query.get("authkey")
    if resid and authkey:
        got = fetch_file(job, "https://onedrive.live.com/download?" + urlencode({"resid": resid, "authkey": authkey}),
                         share)
    elif "redeem" in query or urlsplit(share).hostname == "1drv.ms":
        try:
            got = fetch_file(job, shares_api_url(share), share)
        except LinkProblem as problem:
            if problem.code != "link.sign_in_required":
                raise
            raise sign_in_required(share, "OneDrive no longer lets this kind of personal OneDrive link be "
                                          "downloaded without signing in (Microsoft changed personal sharing "
                                          "links in 2024). Attach the zip instead, or share it from Google "
                                          "Drive or Dropbox") from None
    else:
        raise sign_in_required(share, "the OneDrive link has no 'authkey', so it only opens for its owner")
    path = store(got, job.dest, "onedrive-download", job)
    return Got(path, path.name)


# --- SharePoint / OneDrive for Business ----------------------------------------------------------

def fetch_sharepoint(job: Job, url: str) -> Got:
    """:u: (and other file) links with download=1; download.aspx as is; folder links open a web page."""
    parts = urlsplit(url)
    is_folder = parts.path.lower().startswith("/:f:/")
    download = url if parts.path.lower().endswith("/download.aspx") else with_query(url, download="1")
    try:
        got = fetch_file(job, download, url)
    except LinkProblem as problem:
        if problem.code == "link.unsupported" and is_folder:
            raise LinkProblem("link.unsupported",
                              f"The SharePoint/OneDrive for Business link {url} is a folder link, and SharePoint "
                              "only offers a folder as a web page, not as a download. Zip the folder, upload the "
                              "zip, and share the zip file's link ('anyone with the link'), or attach the zip "
                              "instead.") from None
        raise
    path = store(got, job.dest, last_segment(url) or "sharepoint-download", job)
    return Got(path, path.name)


PROVIDERS: dict[str, Callable[[Job, str], Got]] = {
    DROPBOX: fetch_dropbox,
    GOOGLE_DRIVE: fetch_google_drive,
    GOOGLE_DOCS: fetch_google_docs,
    ONEDRIVE: fetch_onedrive,
    SHAREPOINT: fetch_sharepoint,
}
