"""A real HTTPS server on loopback that behaves like each share-link provider.

One threaded server (http.server + ssl, a test CA made by trustme, one certificate valid for every
provider host name) dispatches on the Host header, so redirect chains cross the real provider host
names. Tests point the fetchers at it with LinkSettings(resolve={host: "127.0.0.1:PORT"}, ca_bundle=...).
It counts connections and records every request, so SSRF tests can assert nothing was reached.

Modelled provider behaviours (pages look like the real ones where the code reads them):
- Dropbox: /s/, /sh/, /scl/fi/ and /scl/fo/ (rlkey checked), db.tt short links; dl=0 is an HTML
  preview, dl=1 redirects to uc<hash>.dl.dropboxusercontent.com; files carry Content-Disposition
  (plain and RFC 5987 filename*), folders come as a chunked zip without Content-Length; private links
  redirect to /login; 404 deleted, 410 expired, 429 "too much traffic".
- Google Drive: uc?id= 303 to drive.usercontent.google.com/download; the large-file virus-scan
  warning page with <form id="download-form"> and hidden id/export/confirm/uuid fields (uuid checked);
  the "Too many users have viewed or downloaded this file recently" quota page; resourcekey required
  for some ids; sign-in redirects to accounts.google.com/ServiceLogin; /open?id= redirects to the file
  or folder view; folders through embeddedfolderview (flip-entry markup), 55 files plus sub-folders
  plus native Docs/Sheets/Slides; Docs export as PDF, Sheets as XLSX through a 307 to
  doc-*-docs.googleusercontent.com.
- OneDrive personal: old 1drv.ms/u/s! links redirect to onedrive.live.com/redir?resid=&authkey=, whose
  /download redirects to *.files.1drv.com; new 1drv.ms/u/c/ links redirect to ?redeem= and only the
  shares API (api.onedrive.com/v1.0/shares/u!...) can serve them: 401 unless anonymous access is on.
- SharePoint: :u: links with download=1 redirect to _layouts/15/download.aspx; organisation-only links
  redirect to login.microsoftonline.com; :f: folder links answer with the web app page.
- Failure modes: 503, a slow first byte, a trickle, a dropped connection, Content-Length shorter and
  longer than the body, bodies over the byte cap with and without Content-Length, SSRF redirects.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from fetchers.settings import LinkSettings
from tests.servers import require_server
from tests.zipfactory import normal_zip

try:
    import trustme
except ImportError:  # pragma: no cover - a missing test dependency
    trustme = None

DROPBOX_UC = "uc1a2b3c4d5e.dl.dropboxusercontent.com"
GOOGLE_EXPORT = "doc-0s-8c-docs.googleusercontent.com"
ONEDRIVE_FILES = "public.ch.files.1drv.com"
SHAREPOINT = "contoso-my.sharepoint.com"

# Every host the tests pin to the server (login hosts included: reaching one would show in the log).
HOSTS = (
    "www.dropbox.com", "db.tt", DROPBOX_UC, "dl.dropboxusercontent.com",
    "drive.google.com", "drive.usercontent.google.com", "docs.google.com", GOOGLE_EXPORT,
    "1drv.ms", "onedrive.live.com", "api.onedrive.com", ONEDRIVE_FILES, SHAREPOINT,
    "accounts.google.com", "login.microsoftonline.com", "login.live.com",
)
CERT_NAMES = (*HOSTS, "*.dl.dropboxusercontent.com", "*.googleusercontent.com", "*.files.1drv.com",
              "*.sharepoint.com")

RLKEY = "k3yxq9v2pl8w"
RESOURCEKEY = "0-AbCdEfGh123"
AUTHKEY = "!AFtK3yQw"
FOLDER_FILES = 55  # more than the 50 a Drive folder page shows without scrolling


def pdf(text: str) -> bytes:
    return b"%PDF-1.4\n% " + text.encode() + b"\n%%EOF\n"


SUBMISSION = normal_zip({
    "SECOR Evaluation Tool 2026.pdf": pdf("evaluation tool"),
    "Element 1 - Management Leadership/Health and Safety Policy.pdf": pdf("policy"),
    "Element 2 - Hazard Identification/Hazard Assessment 2026-01.pdf": pdf("hazard"),
})
XLSX = normal_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


def infected_submission() -> bytes:
    """The EICAR test file in an element folder: what a virus scan must find. (Imported here: the
    clamd plugin must not be imported by this one before pytest loads it.)"""
    from tests.servers.clamd import EICAR

    return normal_zip({"SECOR Evaluation Tool 2026.pdf": pdf("evaluation tool"),
                       "Element 3 - Hazard Control/Inspection.pdf": EICAR})


def cd(name: str, star: bool = False) -> str:
    """Content-Disposition as the providers send it: plain, or with RFC 5987 filename* too."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    value = f'attachment; filename="{ascii_name}"'
    return value + f"; filename*=UTF-8''{quote(name)}" if star else value


GOOGLE_WARNING = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>
<meta http-equiv="content-type" content="text/html; charset=utf-8"/></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id={id}">{name}</a> (412M)</span>
is too large for Google to scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{uuid}">
</form></div></div></body></html>"""

GOOGLE_QUOTA = """<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-error-caption">Sorry, you can't view or download this file at this time.</p>
<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently. Please try accessing
the file again later. If the file you are trying to access is particularly large or is shared with many people,
it may take up to 24 hours to be able to view or download the file.</p></div></div></body></html>"""

GOOGLE_404 = """<!DOCTYPE html><html lang="en"><head><title>Google Drive - Page Not Found</title></head><body>
<p>Sorry, the file you have requested does not exist.</p>
<p>Make sure that you have the correct URL and the file exists.</p></body></html>"""

DROPBOX_PREVIEW = """<!DOCTYPE html><html><head><title>Dropbox - {name} - Simplify your life</title></head>
<body><div id="shared-file-preview">{name}</div><a href="?dl=1">Download</a></body></html>"""

DROPBOX_404 = """<!DOCTYPE html><html><head><title>Dropbox - 404</title></head><body>
<h1>Error (404)</h1><p>We can't find the page you're looking for. This file may have been deleted.</p></body></html>"""

DROPBOX_410 = """<!DOCTYPE html><html><head><title>Dropbox - Link expired</title></head><body>
<h1>This link has expired</h1><p>Ask the owner for a new link.</p></body></html>"""

DROPBOX_TRAFFIC = """<!DOCTYPE html><html><head><title>Dropbox - Error</title></head><body>
<h1>This account's links are generating too much traffic and have been temporarily disabled!</h1></body></html>"""

SHAREPOINT_APP = """<!DOCTYPE html><html><head><title>OneDrive</title></head><body>
<div id="appRoot"></div><script>var _spPageContextInfo={"webAbsoluteUrl":"https://contoso-my.sharepoint.com"};</script>
</body></html>"""


def drive_listing(title: str, entries: list[tuple[str, str]]) -> str:
    """An embeddedfolderview page: each (href, title) as a flip-entry."""
    items = "".join(
        f'<div class="flip-entry" id="entry-{i}" tabindex="0" role="link"><div class="flip-entry-info">'
        f'<a href="{href}" target="_blank"><div class="flip-entry-thumb"></div>'
        f'<div class="flip-entry-title">{name}</div></a></div>'
        f'<div class="flip-entry-last-modified"><div>Jan 5</div></div></div>'
        for i, (href, name) in enumerate(entries))
    return (f'<!DOCTYPE html><html><head><title>{title}</title></head><body>'
            f'<div class="flip-view-list"><div class="flip-entries">{items}</div></div></body></html>')


@dataclass
class DriveTree:
    """Folders (id -> title, entries) and files (id -> name) the fake Drive serves."""

    folders: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def build_drive() -> DriveTree:
    tree = DriveTree()
    root: list[tuple[str, str]] = []
    for n in range(1, FOLDER_FILES + 1):
        file_id = f"1rec{n:03d}"
        tree.files[file_id] = f"Inspection {n:02d}.pdf"
        root.append((f"https://drive.google.com/file/d/{file_id}/view?usp=drive_web", tree.files[file_id]))
    root.append(("https://drive.google.com/drive/folders/1subfold", "Element 2 - Hazards"))
    root.append(("https://docs.google.com/document/d/1doctool/edit?usp=drive_web", "SECOR Evaluation Tool"))
    root.append(("https://docs.google.com/spreadsheets/d/1sheetreg/edit?usp=drive_web", "Hazard Register"))
    root.append(("https://docs.google.com/presentation/d/1slides/edit?usp=drive_web", "Orientation Slides"))
    tree.folders["1rootfold"] = ("Acme SECOR 2026", root)
    tree.files["1haz01"] = "Hazard Assessment.pdf"
    tree.files["1haz02"] = "Hazard Assessment.pdf"  # same name twice: both must survive
    tree.files["1deep01"] = "Field Level Hazard Assessment.pdf"
    tree.folders["1subfold"] = ("Element 2 - Hazards", [
        ("https://drive.google.com/file/d/1haz01/view?usp=drive_web", "Hazard Assessment.pdf"),
        ("https://drive.google.com/file/d/1haz02/view?usp=drive_web", "Hazard Assessment.pdf"),
        ("https://drive.google.com/drive/folders/1deepfold", "Field Level"),
    ])
    tree.folders["1deepfold"] = ("Field Level", [
        ("https://drive.google.com/file/d/1deep01/view?usp=drive_web", "Field Level Hazard Assessment.pdf")])
    tree.files["1single"] = "Acme SECOR 2026.zip"
    tree.files["1bigfile"] = "Acme SECOR scans.zip"
    tree.files["1rkfile"] = "Acme with key.zip"
    return tree


class GeneratedZip:
    """A submission zip of about `total` bytes generated on the fly (stored entries, exact size known
    up front): the evaluation tool, then 10 MB site photos spread over the 8 element folders. Each
    photo is a JPEG header and 1 MB blocks of random bytes (a block per photo, repeated), so nothing
    compresses and CRCs are computed block by block, never holding more than a block."""

    PHOTO = 10 * 1024 * 1024
    BLOCK = 1024 * 1024

    def __init__(self, total: int, seed: int = 7) -> None:
        import random
        import zlib

        rng = random.Random(seed)
        self.blocks = [rng.randbytes(self.BLOCK) for _ in range(4)]
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00"
        tool = pdf("SECOR Evaluation Tool 2026\nNumber of employees: 7\nEmployer: Acme Roofing Ltd.")
        self.entries: list[tuple[str, bytes, int, int, int]] = []  # name, head, blocks from, count, crc
        self.entries.append(("Acme SECOR 2026/SECOR Evaluation Tool 2026.pdf", tool, 0, 0, zlib.crc32(tool)))
        photos = max(1, total // self.PHOTO)
        for i in range(photos):
            element = f"Element {i % 8 + 1}"
            first = i % len(self.blocks)
            count = self.PHOTO // self.BLOCK
            crc = zlib.crc32(head)
            for b in range(count):
                crc = zlib.crc32(self.blocks[(first + b) % len(self.blocks)], crc)
            self.entries.append((f"Acme SECOR 2026/{element}/Site Photo {i + 1:04d}.jpg", head, first, count, crc))
        self.size = sum(30 + len(n.encode()) + len(h) + c * self.BLOCK for n, h, _, c, _ in self.entries)
        self.size += sum(46 + len(n.encode()) for n, *_ in self.entries) + 22

    def pieces(self):
        import struct

        offset, central = 0, []
        for name, head, first, count, crc in self.entries:
            raw_name = name.encode()
            size = len(head) + count * self.BLOCK
            local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0x4A00, 0x5B42, crc, size, size,
                                len(raw_name), 0) + raw_name
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0x4A00, 0x5B42, crc,
                                       size, size, len(raw_name), 0, 0, 0, 0, 0o100644 << 16, offset) + raw_name)
            yield local + head
            for b in range(count):
                yield self.blocks[(first + b) % len(self.blocks)]
            offset += len(local) + size
        directory = b"".join(central)
        yield directory + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central),
                                      len(directory), offset, 0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_TLSServer"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802
        host = self.headers.get("Host", "").lower()
        if host.count(":") == 1:
            host = host.split(":", 1)[0]
        self.server.provider.record(host, self.path, self.headers.get("Authorization"))
        try:
            self.server.provider.route(self, host, self.path)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True

    # responses ---------------------------------------------------------------------------------
    def send(self, status: int, body: bytes | str = b"", ctype: str = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, "", headers={"Location": location})

    def file(self, data: bytes, name: str, star: bool = False, ctype: str = "application/zip") -> None:
        self.send(200, data, ctype, {"Content-Disposition": cd(name, star)})

    def chunked(self, data: bytes, name: str, pieces: int = 4, drop_after: int | None = None) -> None:
        """A zip built on the fly: chunked, no Content-Length (Dropbox folder downloads)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", cd(name, star=True))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = max(1, len(data) // pieces)
        for i, start in enumerate(range(0, len(data), step)):
            piece = data[start:start + step]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            if drop_after is not None and i + 1 >= drop_after:
                self.abort()
                return
        self.wfile.write(b"0\r\n\r\n")

    def generated_zip(self, archive: "GeneratedZip", name: str) -> None:
        """A large zip written as it is generated, with its exact Content-Length."""
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", cd(name))
        self.send_header("Content-Length", str(archive.size))
        self.end_headers()
        for piece in archive.pieces():
            self.wfile.write(piece)

    def abort(self) -> None:
        """Drop the connection mid-body, as a crashed or cut-off server does."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def raw_body(self, declared: int, data: bytes, name: str, delay: float = 0.0) -> None:
        """A body whose Content-Length may lie; `delay` seconds between bytes makes a trickle."""
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition", cd(name))
        self.send_header("Content-Length", str(declared))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if delay:
            stop = time.monotonic() + 10  # never trickle forever, whatever the client does
            for byte in data:
                if time.monotonic() > stop:
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(delay)
        else:
            self.wfile.write(data)
        self.abort()


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    provider: "ProviderServer"

    def get_request(self):
        sock, address = super().get_request()
        self.provider.count_connection()
        sock.settimeout(10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out separately
        return self.provider.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        pass  # TLS refusals and client hang-ups are part of the tests


class ProviderServer:
    """The fake providers: start(), settings(), url(); counters for connections and requests."""

    def __init__(self, workdir: Path) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert(*CERT_NAMES)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self.tls)
        self.ca_file = workdir / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.drive = build_drive()
        self.confirm_uuid = str(uuid.uuid4())
        self.connections = 0
        self.huge_bytes = 1_000_000_000  # the size of the "huge" Dropbox file (GeneratedZip)
        self.requests: list[tuple[str, str]] = []
        self.credentials_seen: list[str] = []  # Authorization headers received (there must be none)
        self._lock = threading.Lock()
        self._server = _TLSServer(("127.0.0.1", 0), _Handler)
        self._server.provider = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "ProviderServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def record(self, host: str, path: str, authorization: str | None = None) -> None:
        with self._lock:
            self.requests.append((host, path))
            if authorization:
                self.credentials_seen.append(authorization)

    def settings(self, **overrides) -> LinkSettings:
        """LinkSettings pinning every provider host to this server and trusting its CA."""
        values = dict(resolve={h: f"127.0.0.1:{self.port}" for h in HOSTS}, ca_bundle=str(self.ca_file),
                      connect_timeout_seconds=5.0, read_timeout_seconds=5.0, deadline_seconds=30.0,
                      min_bytes_per_second=1)
        values.update(overrides)
        return LinkSettings(**values)

    # routing -------------------------------------------------------------------------------------
    def route(self, h: _Handler, host: str, target: str) -> None:
        parts = urlsplit(target)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        seg = path.strip("/").split("/")
        if host == "www.dropbox.com":
            return self._dropbox(h, path, seg, q)
        if host == "db.tt":
            return h.redirect("https://www.dropbox.com/s/plain/Short%20Link.zip?dl=0", 301)
        if host == DROPBOX_UC:
            return self._dropbox_content(h, path, seg)
        if host == "drive.google.com":
            return self._drive(h, path, seg, q)
        if host == "drive.usercontent.google.com":
            return self._usercontent(h, q)
        if host == "docs.google.com":
            return self._docs(h, path, seg, q)
        if host == GOOGLE_EXPORT:
            return h.file(XLSX, "Hazard Register.xlsx", ctype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        if host == "1drv.ms":
            return self._onedrive_short(h, seg)
        if host == "onedrive.live.com":
            if path == "/download" and q.get("authkey") == AUTHKEY:
                return h.redirect(f"https://{ONEDRIVE_FILES}/y4mAbCd/Acme%20OneDrive.zip?download")
            return h.redirect("https://login.live.com/login.srf?wa=wsignin1.0")
        if host == "api.onedrive.com":
            token = seg[2][2:] if len(seg) > 2 else ""
            share = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            if "OPENTOKEN" in share:
                return h.redirect(f"https://{ONEDRIVE_FILES}/y4mNew/Acme%20New%20OneDrive.zip?download")
            body = json.dumps({"error": {"code": "unauthenticated",
                                         "message": "Must be authenticated to use '/drives' syntax"}})
            return h.send(401, body, "application/json")
        if host == ONEDRIVE_FILES:
            return h.file(SUBMISSION, urlsplit(target).path.rsplit("/", 1)[-1].replace("%20", " "))
        if host == SHAREPOINT:
            return self._sharepoint(h, path, q)
        return h.send(404, "<html><body>Not Found</body></html>")

    def _dropbox(self, h: _Handler, path: str, seg: list[str], q: dict[str, str]) -> None:
        if path.startswith("/login"):
            return h.send(200, "<html><head><title>Log in - Dropbox</title></head><body>Log in to Dropbox</body></html>")
        if seg[0] == "s" and len(seg) >= 3:
            key = seg[1]
            if key == "deleted":
                return h.send(404, DROPBOX_404)
            if key == "expired":
                return h.send(410, DROPBOX_410)
            if key == "busy":
                return h.send(429, DROPBOX_TRAFFIC, headers={"Retry-After": "3600"})
            if key == "broken":
                return h.send(503, "<html><body>Service Unavailable</body></html>")
            if key == "private":
                return h.redirect("https://www.dropbox.com/login?cont=" + quote(path))
            if key.startswith("ssrf-"):
                return h.redirect(self.ssrf_target(key[5:]))
            if q.get("dl") != "1":
                return h.send(200, DROPBOX_PREVIEW.format(name=seg[-1]))
            return h.redirect(f"https://{DROPBOX_UC}/cd/0/get/T{uuid.uuid4().hex[:8]}-{key}/file?dl=1#")
        if seg[0] == "scl" and len(seg) >= 4 and seg[1] in ("fi", "fo"):
            if q.get("rlkey") != RLKEY:
                return h.send(404, DROPBOX_404)
            if q.get("dl") != "1":
                return h.send(200, DROPBOX_PREVIEW.format(name=seg[-1]))
            kind = "file" if seg[1] == "fi" else "folder"
            return h.redirect(f"https://{DROPBOX_UC}/cd/0/get/T{uuid.uuid4().hex[:8]}-scl{kind}/file?dl=1#")
        if seg[0] == "sh" and q.get("dl") == "1":
            return h.redirect(f"https://{DROPBOX_UC}/zip_download_get/Z{uuid.uuid4().hex[:8]}")
        return h.send(404, DROPBOX_404)

    def ssrf_target(self, variant: str) -> str:
        return {
            "loopback": f"https://127.0.0.1:{self.port}/secret",
            "metadata": "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "mapped": f"https://[::ffff:7f00:1]:{self.port}/secret",
            "decimal": "https://2130706433/secret",
            "localhost": "https://localhost/secret",
            "http": "http://dl.dropboxusercontent.com/secret",
            "creds": "https://user:pw@dl.dropboxusercontent.com/secret",
            "port": f"https://dl.dropboxusercontent.com:{self.port}/secret",
            "foreign": "https://evil.example.com/secret",
            "loop": "https://www.dropbox.com/s/ssrf-loop/again.zip?dl=1",
        }[variant]

    def _dropbox_content(self, h: _Handler, path: str, seg: list[str]) -> None:
        if seg[0] == "zip_download_get":
            return h.chunked(SUBMISSION, "Acme Folder.zip")
        key = seg[3].split("-", 1)[1] if len(seg) > 3 and "-" in seg[3] else ""
        big = bytes(300_000)
        match key:
            case "plain":
                return h.file(SUBMISSION, "Acme SECOR 2026.zip")
            case "infected":
                return h.file(infected_submission(), "Acme SECOR 2026.zip")
            case "utf8":
                return h.file(SUBMISSION, "Éléments SECOR 2026.zip", star=True)
            case "pathy":
                return h.file(SUBMISSION, "../../etc/cron.d/evil.zip")
            case "sclfile":
                return h.file(SUBMISSION, "Acme SCL.zip", star=True)
            case "sclfolder":
                return h.chunked(SUBMISSION, "Acme SECOR Folder.zip")
            case "bigchunked":
                return h.chunked(big, "Huge.zip", pieces=30)
            case "bigdeclared":
                return h.raw_body(50_000_000, b"", "Huge.zip")
            case "shortcl":  # Content-Length says 1000, the server pushes 200 000 bytes
                return h.raw_body(1000, big[:200_000], "Short.zip")
            case "longcl":  # Content-Length says 50 000, the connection drops after 100 bytes
                return h.raw_body(50_000, big[:100], "Long.zip")
            case "drop":
                return h.chunked(big, "Dropped.zip", pieces=30, drop_after=2)
            case "trickle":
                return h.raw_body(2000, bytes(2000), "Trickle.zip", delay=0.05)
            case "slowhead":
                time.sleep(3)
                return h.file(SUBMISSION, "Late.zip")
            case "html":
                return h.send(200, DROPBOX_PREVIEW.format(name="Acme.zip"))
            case "huge":  # a generated zip of `huge_bytes`, streamed (never held in memory)
                return h.generated_zip(GeneratedZip(self.huge_bytes), "Acme SECOR 2026 full.zip")
            case "htmlnotype":
                return h.send(200, "<!DOCTYPE html><html><body>Acme</body></html>", ctype="application/zip",
                              headers={"Content-Disposition": cd("Acme.zip")})
        return h.file(SUBMISSION, "Acme.zip")

    def _drive(self, h: _Handler, path: str, seg: list[str], q: dict[str, str]) -> None:
        signin = "https://accounts.google.com/ServiceLogin?service=wise&passive=1209600&continue=" + quote(
            f"https://drive.google.com{path}")
        if path == "/uc":
            file_id = q.get("id", "")
            if file_id == "1private" or (file_id == "1rkfile" and q.get("resourcekey") != RESOURCEKEY):
                return h.redirect(signin)
            if file_id == "1gone":
                return h.send(404, GOOGLE_404)
            extra = f"&resourcekey={q['resourcekey']}" if "resourcekey" in q else ""
            return h.redirect(f"https://drive.usercontent.google.com/download?id={file_id}&export=download{extra}", 303)
        if path == "/open":
            file_id = q.get("id", "")
            if file_id in self.drive.folders:
                return h.redirect(f"https://drive.google.com/drive/folders/{file_id}")
            return h.redirect(f"https://drive.google.com/file/d/{file_id}/view?usp=drive_open")
        if path == "/embeddedfolderview":
            folder_id = q.get("id", "")
            if folder_id == "1privfold":
                return h.redirect(signin)
            if folder_id not in self.drive.folders:
                return h.send(404, GOOGLE_404)
            title, entries = self.drive.folders[folder_id]
            return h.send(200, drive_listing(title, entries))
        return h.send(200, "<html><head><title>Google Drive</title></head><body>viewer</body></html>")

    def _usercontent(self, h: _Handler, q: dict[str, str]) -> None:
        file_id = q.get("id", "")
        if file_id == "1quota":
            return h.send(200, GOOGLE_QUOTA)
        if file_id == "1bigfile" and (q.get("confirm") != "t" or q.get("uuid") != self.confirm_uuid):
            return h.send(200, GOOGLE_WARNING.format(id=file_id, name=self.drive.files[file_id], uuid=self.confirm_uuid))
        name = self.drive.files.get(file_id)
        if name is None:
            return h.send(404, GOOGLE_404)
        data = SUBMISSION if name.endswith(".zip") else pdf(f"drive file {file_id}")
        ctype = "application/zip" if name.endswith(".zip") else "application/pdf"
        return h.file(data, name, star=True, ctype=ctype)

    def _docs(self, h: _Handler, path: str, seg: list[str], q: dict[str, str]) -> None:
        if len(seg) < 4 or seg[1] != "d":
            return h.send(404, GOOGLE_404)
        kind, doc_id = seg[0], seg[2]
        if doc_id == "1privdoc":
            return h.redirect("https://accounts.google.com/ServiceLogin?service=writely&continue=x")
        names = {"1doctool": "SECOR Evaluation Tool", "1sheetreg": "Hazard Register", "1slides": "Orientation Slides"}
        if doc_id not in names:
            return h.send(404, GOOGLE_404)
        if kind == "document" and seg[3] == "export" and q.get("format") == "pdf":
            return h.file(pdf("evaluation tool"), names[doc_id] + ".pdf", star=True, ctype="application/pdf")
        if kind == "spreadsheets" and seg[3] == "export" and q.get("format") == "xlsx":
            return h.redirect(f"https://{GOOGLE_EXPORT}/export/{doc_id}?format=xlsx", 307)
        if kind == "presentation" and seg[3:] == ["export", "pdf"]:
            return h.file(pdf("slides"), names[doc_id] + ".pdf", ctype="application/pdf")
        return h.send(200, "<html><head><title>Google Docs</title></head><body>editor</body></html>")

    def _onedrive_short(self, h: _Handler, seg: list[str]) -> None:
        if seg[:2] == ["u", "s!OLDTOKEN"]:
            return h.redirect(f"https://onedrive.live.com/redir?resid=ABC123!101&authkey={AUTHKEY}&ithint=file%2czip", 301)
        if seg[:2] == ["u", "s!NOKEY"]:
            return h.redirect("https://onedrive.live.com/redir?resid=ABC123!102&authkey=!WRONG", 301)
        if seg[:1] == ["u"] and seg[1:2] == ["c"]:
            return h.redirect(f"https://onedrive.live.com/?redeem=aHR0cHM6Ly8xZHJ2Lm1z&cid=ABC123&id=ABC123!{seg[-1]}", 301)
        return h.send(404, "<html><body>Item not found</body></html>")

    def _sharepoint(self, h: _Handler, path: str, q: dict[str, str]) -> None:
        if path.startswith("/:u:/r/"):
            return h.redirect("https://login.microsoftonline.com/common/oauth2/authorize?client_id=00000003")
        if path.startswith("/:f:/"):
            return h.send(200, SHAREPOINT_APP)
        if path.startswith("/:u:/g/") and q.get("download") == "1":
            token = path.rsplit("/", 1)[-1]
            if token == "EGONE":
                return h.send(404, "<html><body>Sorry, this item might not exist or is no longer available.</body></html>")
            return h.redirect(f"/personal/jane_contoso_com/_layouts/15/download.aspx?share={token}")
        if path.endswith("/download.aspx"):
            return h.file(SUBMISSION, "Acme SharePoint.zip", star=True)
        return h.send(200, SHAREPOINT_APP)


@pytest.fixture(scope="session")
def provider_server(tmp_path_factory) -> ProviderServer:
    """The fake share-link providers on loopback, for the whole test session."""
    require_server(trustme is not None, "trustme (test CA for the HTTPS provider server)")
    server = ProviderServer(tmp_path_factory.mktemp("providers")).start()
    yield server
    server.stop()


@pytest.fixture
def link_settings(provider_server: ProviderServer) -> LinkSettings:
    return provider_server.settings()
