"""Which hosts we download from, and which URLs are a sign-in page: both read from the provider registry."""

from __future__ import annotations

from functools import cache
from typing import Iterable
from urllib.parse import urlsplit


def host_matches(host: str, pattern: str) -> bool:
    """Exact match, or any sub-domain when the pattern starts with a dot."""
    host = host.lower().rstrip(".")
    if pattern.startswith("."):
        return host.endswith(pattern) and len(host) > len(pattern)
    return host == pattern


@cache
def _tables() -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...]]:
    """(provider hosts, sign-in hosts, sign-in (host, path prefix) pairs) of every registered provider."""
    # Imported on first use, not at the top: the providers download through fetchers.net, which imports this module.
    from fetchers.providers import PROVIDERS
    from fetchers.providers.unsupported import SIGN_IN_HOSTS

    hosts = frozenset().union(*(p.hosts for p in PROVIDERS))
    sign_in_hosts = SIGN_IN_HOSTS.union(*(p.sign_in_hosts for p in PROVIDERS))
    sign_in_paths = tuple(dict.fromkeys(pair for p in PROVIDERS for pair in p.sign_in_paths))
    return hosts, sign_in_hosts, sign_in_paths


def is_provider_host(host: str, extra_hosts: Iterable[str] = ()) -> bool:
    """A supported provider's host, or one the operator added in links.extra_hosts."""
    provider_hosts, _, _ = _tables()
    return any(host_matches(host, p) for p in (*provider_hosts, *extra_hosts))


def is_login_url(url: str) -> bool:
    """A provider's sign-in page (where private or organisation-only links end)."""
    _, sign_in_hosts, sign_in_paths = _tables()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host_matches(host, h) for h in sign_in_hosts):
        return True
    path = parts.path.lower()
    if "servicelogin" in path:  # Google's sign-in, on whichever of its hosts
        return True
    return any(host_matches(host, h) and path.startswith(p) for h, p in sign_in_paths)
