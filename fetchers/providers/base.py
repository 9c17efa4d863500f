"""What every share-link provider is, and the helpers their downloads share.

A provider is one `Provider` subclass in its own module of this package, listed once in
`fetchers.providers.PROVIDERS`. Everything about it (its hosts, its sign-in pages, which links are
its own, how to download them) is said there; every download goes through fetchers.net.Downloader.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from fetchers.net import (
    Downloader,
    Fetched,
    LinkProblem,
    TooLarge,
    check_url,
    looks_like_quota,
    not_found,
    sanitize_name,
    sign_in_required,
    unavailable,
)
from triage.paths import numbered


@dataclass(frozen=True)
class Link:
    """A URL taken apart once, for every provider's `recognises`."""

    host: str  # lower-case, no trailing dot
    path: str
    query: dict[str, list[str]]

    @classmethod
    def parse(cls, url: str) -> Link:
        parts = urlsplit(url)
        return cls((parts.hostname or "").lower().rstrip("."), parts.path, parse_qs(parts.query))


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


class Provider(ABC):
    """A file-sharing service we download from.

    Host patterns starting with a dot admit every sub-domain (<tenant>.sharepoint.com).
    """

    name: ClassVar[str]  # stable identifier: "dropbox"
    display_name: ClassVar[str]  # what submitters call it: "Dropbox"
    hosts: ClassVar[frozenset[str]]  # where its share links, previews and downloads are served (redirects included)
    sign_in_hosts: ClassVar[frozenset[str]] = frozenset()  # a redirect there means "sign in first"
    sign_in_paths: ClassVar[tuple[tuple[str, str], ...]] = ()  # (host, path prefix) of its sign-in pages
    typed_hosts: ClassVar[tuple[str, ...]] = ()  # hosts people write in text without "https://"
    advertised: ClassVar[bool] = True  # named in what we tell submitters works

    @abstractmethod
    def recognises(self, link: Link) -> bool:
        """True when `link` is one of this provider's share links (not its home or help pages)."""

    @abstractmethod
    def fetch(self, job: Job, url: str) -> Got:
        """Download the link under `job.dest`; a LinkProblem says why it cannot be."""


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
    return next(candidate for name in numbered(path.name) if not (candidate := path.with_name(name)).exists())


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
