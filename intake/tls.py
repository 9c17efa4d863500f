"""TLS client contexts for the mailbox and the SMTP server, made once per process."""

from __future__ import annotations

import ssl
from functools import lru_cache


@lru_cache(maxsize=8)
def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """The system's trust store (plus `cafile`), verifying host names.

    Cached: loading the trust store costs 15-35 ms, and the daemon connects once per poll and once per
    reply run; one context serves any number of connections. A changed `cafile` is read at restart.
    Raises OSError or ssl.SSLError when `cafile` cannot be loaded (nothing is cached then).
    """
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context
