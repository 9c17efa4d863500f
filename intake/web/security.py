"""HTTP defences shared by every workbench response: headers, CSRF, safe file responses."""

from __future__ import annotations

import hmac
import logging
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# A submitted file shown inline (PDF, image) may sit in the case page's preview frame, nothing more.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'"
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/]')
_SAFE_SITES = ("same-origin", "none")
log = logging.getLogger("secor_intake.web")
# Every response's headers, errors included (the CSP and Cache-Control only where the response set none).
_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"))


class SecurityHeaders:
    """Pure ASGI middleware, the outermost: nosniff, a restrictive CSP (unless the response set its own),
    no framing but by this site (X-Frame-Options, for browsers without CSP frame-ancestors), no
    referrer, no caching of pages, on every response including errors and static files. An
    unexpected exception is logged and answered with a plain 500 that carries the same headers (no
    traceback reaches the client)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                csp = next((v for k, v in headers if k.lower() == b"content-security-policy"), None)
                extra = list(_HEADERS)
                extra.append((b"x-frame-options", b"SAMEORIGIN" if csp and b"frame-ancestors 'self'" in csp
                              else b"DENY"))
                if csp is None:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + [h for h in extra if h[0] not in names]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await _plain(send_with_headers, 413, b"Request body too large.")
        except Exception:
            log.exception("web: unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _plain(send_with_headers, 500, b"Something went wrong; it has been logged.")


class BodyTooLarge(Exception):
    """A request body longer than the limit, noticed while it was being read."""


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(text)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": text})


class BodyLimit:
    """Refuse a request body over `max_bytes` before reading it (by its Content-Length) or, for a
    chunked body, as soon as it passes the limit: 413, the rest never read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _plain(send, 413 if declared.isdigit() else 400, b"Request body too large or malformed.")
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge()
            return message

        await self.app(scope, counted_receive, send)


def cross_site(headers: Any) -> bool:
    """True when the browser says the request comes from another site (Fetch Metadata)."""
    site = headers.get("sec-fetch-site")
    return site is not None and site not in _SAFE_SITES


def tokens_match(expected: str | None, given: str | None) -> bool:
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, once a 500).
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())


def display_name(name: str) -> str:
    """A file name fit for a header: no control characters, no bidi overrides, no separators."""
    cleaned = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    cleaned = _UNSAFE_NAME_CHARS.sub("_", cleaned).strip() or "file"
    return cleaned[:200]


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII `filename` fallback and the exact name as RFC 8187 `filename*`."""
    cleaned = display_name(name)
    ascii_name = cleaned.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned, safe='')}"
