"""HTTP defences shared by every workbench response: headers, CSRF, safe file responses."""

from __future__ import annotations

import hmac
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


class SecurityHeaders:
    """Pure ASGI middleware: nosniff, a restrictive CSP (unless the response set its own), no referrer,
    no caching of pages, on every response including errors and static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"cross-origin-opener-policy", b"same-origin"),
                         (b"cross-origin-resource-policy", b"same-origin")]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
