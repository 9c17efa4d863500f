"""Finding share links in a message, and telling which provider each belongs to."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from fetchers.hosts import host_matches
from fetchers.providers import PROVIDERS, Link
from fetchers.providers.unsupported import TYPED_HOSTS, UNSUPPORTED


@dataclass(frozen=True)
class LinkKind:
    provider: str  # a registered provider's name, or the display name of an unsupported service
    supported: bool


def classify(url: str) -> LinkKind | None:
    """The provider of a file-sharing link, or None for an ordinary web link."""
    link = Link.parse(url)
    for provider in PROVIDERS:
        if provider.recognises(link):
            return LinkKind(provider.name, True)
    parts = urlsplit(url)
    for pattern, (name, prefixes) in UNSUPPORTED.items():
        if host_matches(link.host, pattern):
            if prefixes:
                target = (parts.path + ("?" + parts.query if parts.query else "")
                          + ("#" + parts.fragment if parts.fragment else ""))
                return LinkKind(name, False) if target.startswith(prefixes) else None
            return LinkKind(name, False) if len(parts.path) > 1 or parts.fragment else None
    return None


def normalize(url: str) -> str:
    """A link in one canonical spelling: https, lower-case host, no default port, no tracking fragment."""
    url = htmllib.unescape(url.strip())
    url = unwrap(url)
    parts = urlsplit(url if "://" in url else "https://" + url)
    host = (parts.hostname or "").lower().rstrip(".")
    netloc = host if parts.port in (None, 80, 443) else f"{host}:{parts.port}"
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    kind = classify(urlunsplit((scheme, netloc, parts.path, parts.query, "")))
    fragment = "" if kind is not None and kind.supported else parts.fragment
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, fragment))


def dedup_key(url: str) -> str:
    """Two spellings of the same share link (dl=0 vs dl=1, usp=sharing) compare equal."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in ("dl", "raw", "usp", "e", "st"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), urlencode(query), parts.fragment))


def unwrap(url: str) -> str:
    """The real target of an Outlook Safe Links or Google redirect wrapper."""
    for _ in range(3):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        query = parse_qs(parts.query)
        if host.endswith("safelinks.protection.outlook.com") and "url" in query:
            url = query["url"][0]
        elif host in ("www.google.com", "google.com") and parts.path == "/url" and ("q" in query or "url" in query):
            url = (query.get("q") or query["url"])[0]
        else:
            break
    return url


# Scheme-less links are found only for the hosts people type that way ("dropbox.com/s/...").
_TYPED_HOSTS = (*(h for p in PROVIDERS for h in p.typed_hosts), *TYPED_HOSTS)
_URL = re.compile(
    r"(?:https?://|(?<![\w./@-])(?=(?:" + "|".join(map(re.escape, _TYPED_HOSTS)) + r")/))[^\s<>\"'`]+",
    re.IGNORECASE)


def urls_in_text(text: str) -> list[str]:
    """Every URL-looking string in plain text, trailing punctuation and unbalanced brackets removed."""
    found = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in ".,;:!?*":
            url = url[:-1]
        for close, open_ in ((")", "("), ("]", "["), ("}", "{"), (">", "<")):
            while url.endswith(close) and url.count(close) > url.count(open_):
                url = url[:-1]
        while url and url[-1] in ".,;:!?*":
            url = url[:-1]
        if url:
            found.append(url)
    return found


class _Anchors(HTMLParser):
    """Hrefs and visible text of an HTML body, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.strip().lower().startswith(("http://", "https://")):
                self.items.append(href.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.items.extend(urls_in_text(data))


def find_links(text: str, html: str = "") -> list[str]:
    """Share links in a message's plain-text and HTML bodies, normalised, de-duplicated, in order.

    Links to file-sharing services we do not support are kept (the daemon answers link.unsupported);
    ordinary web links (company sites, signatures, social media) are dropped.
    """
    candidates = urls_in_text(text or "")
    if html:
        parser = _Anchors()
        parser.feed(html)
        parser.close()
        candidates += parser.items
    links: list[str] = []
    seen: set[str] = set()
    for raw in candidates:
        try:
            url = normalize(raw)
        except ValueError:
            continue
        if classify(url) is None:
            continue
        key = dedup_key(url)
        if key not in seen:
            seen.add(key)
            links.append(url)
    return links
