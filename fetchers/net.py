"""The one safe download path every provider uses.

Each request goes to a configured provider host only (checked again on every redirect hop, redirects
followed by hand), is resolved by us, refused when an address is not public, and is then connected to
the very address we checked (no second DNS lookup) while TLS is still verified against the host name.
Bodies stream to a file under the submission's folder with a byte cap, time-outs, a total deadline
and a minimum transfer rate.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

import certifi
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPSConnectionPool
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

from fetchers.hosts import is_login_url, is_provider_host
from fetchers.settings import LinkSettings
from triage.paths import safe_name

CHUNK = 64 * 1024
PAGE_LIMIT = 2_000_000  # an HTML page (preview, listing, warning) is never larger than this
USER_AGENT = "secor-intake/0.1 (+share-link fetcher)"
REDIRECTS = (301, 302, 303, 307, 308)

Progress = Callable[[int, "int | None"], None]


class LinkProblem(Exception):
    """A link that cannot be downloaded, as a finding code and a message for the submitter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def transient(self) -> bool:
        return self.code == "link.unavailable"


class TooLarge(LinkProblem):
    """More bytes than the submission may weigh (archive.too_large)."""

    def __init__(self, message: str) -> None:
        super().__init__("archive.too_large", message)


class Refused(LinkProblem):
    """A URL or address we never connect to (SSRF guard): reported as link.unsupported."""

    def __init__(self, message: str) -> None:
        super().__init__("link.unsupported", message)


def unavailable(url: str, reason: str) -> LinkProblem:
    return LinkProblem("link.unavailable",
                       f"We could not download {url} just now ({reason}). We will try again later; "
                       "there is nothing to do yet. If it keeps failing, attach the zip instead.")


def sign_in_required(url: str, detail: str = "") -> LinkProblem:
    detail = detail or "the provider asks for a sign-in, so the link is not shared publicly"
    return LinkProblem("link.sign_in_required",
                       f"We could not open {url}: {detail}. Share it with 'anyone with the link' "
                       "(view access) and send the new link, or attach the zip instead.")


def not_found(url: str, detail: str = "") -> LinkProblem:
    detail = detail or "the file was deleted, the link expired or it was mistyped"
    return LinkProblem("link.not_found",
                       f"The link {url} leads to nothing: {detail}. Send a new link (check that it opens "
                       "in a private browser window) or attach the zip instead.")


# --- addresses ---------------------------------------------------------------------------------

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; IPv4 embedded in IPv6 is judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip in _NAT64_LOCAL:
            return False
        if embedded is not None:
            return is_public_address(str(embedded))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def is_ip_literal(host: str) -> bool:
    """Any spelling of a raw address: IPv6, dotted quad, and the 127.1 / 2130706433 / 0x7f.1 forms."""
    host = host.strip("[]")
    if ":" in host:
        return True
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", last, re.IGNORECASE):
        return True  # a numeric last label makes the whole name an IPv4 address (WHATWG URL)
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        return False


def check_url(url: str, settings: LinkSettings) -> tuple[str, str]:
    """(host, url) when `url` may be fetched at all; Refused or sign-in otherwise. Nothing is resolved."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(f"The link {url} is not a valid address. Send the link again, or attach the zip instead.") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https":
        raise Refused(f"We only download over https, and {url} is not. Send the https link, or attach the zip instead.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refused(f"The link {url} carries a user name or password; we do not follow such links. "
                      "Send the provider's share link, or attach the zip instead.")
    if port not in (None, 443):
        raise Refused(f"The link {url} uses an unusual port; we do not follow it. "
                      "Send the provider's share link, or attach the zip instead.")
    if not host or is_ip_literal(host) or parts.netloc.startswith("["):
        raise Refused(f"The link {url} points to a raw network address, not a file-sharing service. "
                      "Send the provider's share link, or attach the zip instead.")
    if is_login_url(url):
        raise sign_in_required(url)
    if not is_provider_host(host, settings.extra_hosts):
        from fetchers.providers import supported_services_phrase  # the providers import this module

        raise Refused(f"The link led to {host}, which is not a file-sharing service we download from. "
                      f"Attach the zip instead, or share it with a {supported_services_phrase()} "
                      "link set to 'anyone with the link'.")
    return host, url


def resolve_host(host: str, settings: LinkSettings) -> tuple[str, int]:
    """The (address, port) to connect to for `host`: a pinned `resolve` entry, else a checked DNS answer."""
    pinned = settings.resolve.get(host)
    if pinned:
        address, _, port = pinned.rpartition(":")
        return address.strip("[]"), int(port)  # a trusted operator setting: exempt from the check
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise unavailable(f"https://{host}/", f"the name {host} could not be resolved: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]  # an IPv4 or IPv6 address: always a str
    if not settings.allow_private_networks:
        for address in addresses:
            if not is_public_address(address):
                raise Refused(f"The link led to {host}, which resolves to a private network address "
                              f"({address}); we never download from there. Attach the zip instead.")
    # Prefer IPv4: many hosts have no IPv6 route.
    addresses.sort(key=lambda a: ":" in a)
    return addresses[0], 443


# --- the pinned connection ---------------------------------------------------------------------

def ssl_context(settings: LinkSettings) -> ssl.SSLContext:
    """Verify certificates against certifi's roots, plus the operator's extra CA file."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.ca_bundle:
        context.load_verify_locations(cafile=settings.ca_bundle)
    return context


class PinnedAdapter(HTTPAdapter):
    """Connects to the address we checked for each host while SNI and the certificate check use the name."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._pins: dict[str, tuple[str, int]] = {}
        self._pools: dict[tuple[str, str, int], HTTPSConnectionPool] = {}
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        sockets = self._sockets

        class TrackedConnection(HTTPSConnection):
            """Reports its socket, so the deadline watchdog can cut a connection stuck in a read."""

            def connect(self) -> None:
                super().connect()
                sockets.add(self.sock)

        self._connection_cls = TrackedConnection
        super().__init__(max_retries=0)

    def cut(self) -> None:
        """Shut every open connection down: a blocked read returns at once (called from the watchdog)."""
        for sock in list(self._sockets):
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: leaves TLS state alone
            except OSError:
                pass

    def pin(self, host: str, address: str, port: int) -> None:
        self._pins[host] = (address, port)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):  # noqa: D102
        host = (urlsplit(request.url).hostname or "").rstrip(".").lower()
        address, port = self._pins[host]  # never connect to a host we did not resolve and check
        key = (host, address, port)
        if key not in self._pools:
            pool = HTTPSConnectionPool(address, port, maxsize=1, ssl_context=self._context, server_hostname=host)
            pool.ConnectionCls = self._connection_cls
            self._pools[key] = pool
        return self._pools[key]

    def cert_verify(self, conn, url, verify, cert) -> None:  # noqa: D102
        pass  # our SSL context already verifies; keep requests from swapping the CA bundle

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        super().close()


# --- file names --------------------------------------------------------------------------------

_CD_STAR = re.compile(r"filename\*\s*=\s*([^']*)'[^']*'([^;]+)", re.IGNORECASE)
_CD_PLAIN = re.compile(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))', re.IGNORECASE)


def filename_from_disposition(header: str | None) -> str | None:
    """The file name of a Content-Disposition header, RFC 5987 `filename*` first, not yet sanitised."""
    if not header:
        return None
    star = _CD_STAR.search(header)
    if star:
        charset = star.group(1).strip() or "utf-8"
        try:
            return unquote(star.group(2).strip().strip('"'), encoding=charset, errors="replace")
        except LookupError:
            return unquote(star.group(2).strip().strip('"'))
    plain = _CD_PLAIN.search(header)
    if plain:
        value = plain.group(1) if plain.group(1) is not None else plain.group(2).strip()
        return re.sub(r"\\(.)", r"\1", value)
    return None


def sanitize_name(name: str | None, fallback: str = "download") -> str:
    """A single safe path component for something we download (triage.paths.safe_name)."""
    return safe_name(name, fallback)


# --- the one download function -----------------------------------------------------------------

@dataclass
class Budget:
    """Bytes a whole submission may still receive (limits.max_archive_bytes across every link)."""

    limit: int
    used: int = 0

    def take(self, n: int, url: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise TooLarge(f"The download from {url} is larger than the {self.limit // 1_000_000} MB limit "
                           "for a submission. Send only what the evaluation asks for (see the sampling "
                           "guide), or split it into smaller zips.")


@dataclass
class Fetched:
    """A final (non-redirect) response whose body is saved in `path`."""

    url: str
    status: int
    headers: Mapping[str, str]
    path: Path
    size: int

    @property
    def filename(self) -> str | None:
        return filename_from_disposition(self.headers.get("Content-Disposition"))

    def is_html(self) -> bool:
        """An HTML page (by type or by content): never a document."""
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind in ("text/html", "application/xhtml+xml"):
            return True
        with self.path.open("rb") as fh:
            head = fh.read(512).lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html"))

    def text(self) -> str:
        with self.path.open("rb") as fh:
            return fh.read(PAGE_LIMIT).decode("utf-8", "replace")

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class Redirect:
    """A redirect we were asked not to follow."""

    url: str
    location: str


@dataclass
class Downloader:
    """One submission's downloads: a cookie-keeping session, the byte budget and the temp folder."""

    settings: LinkSettings
    budget: Budget
    tmp_dir: Path
    progress: Progress | None = None
    label: str | None = None  # the submitter's link, named in messages instead of internal hops
    _session: requests.Session = field(init=False)
    _adapter: PinnedAdapter = field(init=False)
    _started: float = field(init=False)
    _expired: bool = field(init=False, default=False)
    _watchdog: threading.Timer = field(init=False)

    def __post_init__(self) -> None:
        self._started = time.monotonic()  # the deadline covers every request of the submission
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._session = requests.Session()
        self._session.trust_env = False  # no environment proxies, no .netrc credentials
        self._adapter = PinnedAdapter(ssl_context(self.settings))
        self._session.adapters.clear()
        self._session.mount("https://", self._adapter)  # http:// has no adapter: it cannot be sent
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        # Time-outs bound each read; the watchdog bounds everything (trickled headers, slow handshakes).
        self._watchdog = threading.Timer(self.settings.deadline_seconds, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        self._expired = True
        self._adapter.cut()

    def close(self) -> None:
        self._watchdog.cancel()
        self._session.close()

    def fetch(self, url: str, *, page: bool = False, follow: bool = True) -> Fetched | Redirect:
        """GET `url` through the checks, following up to max_redirects redirects by hand.

        `page`: an HTML page is expected (small cap, no progress). With follow=False the first redirect
        is returned unfollowed. 404/410 raise not_found, 429/5xx unavailable, 401/403 sign_in_required
        unless the page says it is a quota problem.
        """
        first = self.label or url
        for _ in range(self.settings.max_redirects + 1):
            response = self._send(url)
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise unavailable(first, "the provider sent a redirect without a target")
                    target = urljoin(url, location.strip())
                    if not follow:
                        return Redirect(url, target)
                    check_url(target, self.settings)
                    url = target
                    continue
                return self._final(first, url, response, page)
            finally:
                response.close()
        raise unavailable(first, f"the provider redirected more than {self.settings.max_redirects} times")

    def _send(self, url: str) -> requests.Response:
        host, url = check_url(url, self.settings)
        shown = self.label or url
        self._check_deadline(shown)
        address, port = resolve_host(host, self.settings)
        self._adapter.pin(host, address, port)
        timeout = (self.settings.connect_timeout_seconds, self.settings.read_timeout_seconds)
        try:
            return self._session.get(url, stream=True, allow_redirects=False, timeout=timeout,
                                     headers={"Host": host})
        except (requests.exceptions.RequestException, Urllib3Error, OSError) as exc:
            self._check_deadline(shown)  # cut by the watchdog: say so
            if isinstance(exc, requests.exceptions.SSLError):
                raise unavailable(shown, f"its secure connection could not be verified: {_reason(exc)}") from None
            if isinstance(exc, requests.exceptions.Timeout):
                raise unavailable(shown, "the provider did not answer in time") from None
            raise unavailable(shown, f"the connection failed: {_reason(exc)}") from None

    def _final(self, first: str, url: str, response: requests.Response, page: bool) -> Fetched:
        status = response.status_code
        if status in (404, 410):
            raise not_found(first, "the provider says it no longer exists" if status == 410 else "")
        if status == 429 or status >= 500:
            raise unavailable(first, f"the provider answered {status}, it is busy or rate-limiting")
        fetched = self._save(first, response, page or status >= 400)
        if status >= 400:
            text = fetched.text()
            fetched.discard()
            if status in (401, 403):
                if looks_like_quota(text):
                    raise unavailable(first, "the provider's download quota for this file is used up for now")
                raise sign_in_required(first)
            raise unavailable(first, f"the provider answered {status}")
        return fetched

    def _save(self, first: str, response: requests.Response, page: bool) -> Fetched:
        """Stream the body to a temp file under tmp_dir, enforcing the caps, deadline and minimum rate."""
        declared = _content_length(response)
        cap = min(PAGE_LIMIT, self.budget.limit) if page else self.budget.limit - self.budget.used
        if declared is not None and declared > cap:
            if page:
                raise unavailable(first, "the provider sent an unexpectedly large page")
            self.budget.take(declared, first)  # raises TooLarge
        path = self.tmp_dir / f".part-{uuid.uuid4().hex}"
        size = 0
        start = time.monotonic()
        try:
            with path.open("wb") as out:
                while True:
                    try:
                        chunk = response.raw.read1(CHUNK)
                    except (Urllib3Error, requests.exceptions.RequestException, OSError) as exc:
                        self._check_deadline(first)  # cut by the watchdog: say so
                        raise unavailable(first, f"the connection dropped during the download: {_reason(exc)}") from None
                    if not chunk:
                        break
                    size += len(chunk)
                    if page and size > cap:
                        raise unavailable(first, "the provider sent an unexpectedly large page")
                    self.budget.take(len(chunk), first)
                    out.write(chunk)
                    self._check_deadline(first)
                    self._check_pace(first, size, time.monotonic() - start)
                    if self.progress and not page:
                        self.progress(size, declared)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Fetched(url=response.url, status=response.status_code,
                       headers=CaseInsensitiveDict(response.headers), path=path, size=size)

    def _check_deadline(self, url: str) -> None:
        """However the servers trickle or redirect, one submission's downloads end by the deadline."""
        if self._expired or time.monotonic() - self._started > self.settings.deadline_seconds:
            raise unavailable(url, f"the download took longer than {self.settings.deadline_seconds:g} seconds")

    def _check_pace(self, url: str, size: int, elapsed: float) -> None:
        """A trickling server cannot hold a worker: after one read time-out window, a minimum average rate."""
        window = self.settings.read_timeout_seconds
        if elapsed > window and size / elapsed < self.settings.min_bytes_per_second:
            raise unavailable(url, "the provider sent the file too slowly")


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "chunked" in response.headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, short."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


_QUOTA = re.compile(r"too many users have viewed or downloaded|quota (?:has been )?exceeded|"
                    r"generating too much traffic|temporarily disabled|try again later|rate limit",
                    re.IGNORECASE)


def looks_like_quota(text: str) -> bool:
    """A provider's 'too many users / too much traffic' page: a passing problem."""
    return bool(_QUOTA.search(text))
