"""Which hosts we download from, and which URLs are a provider's sign-in page."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import urlsplit

# Hosts a supported provider serves share links, previews and downloads from (redirect chains
# included). A leading dot admits every sub-domain: uc<hash>.dl.dropboxusercontent.com,
# <tenant>.sharepoint.com, <shard>.files.1drv.com, doc-0s-<x>-docs.googleusercontent.com.
PROVIDER_HOSTS = frozenset({
    "www.dropbox.com", "dropbox.com", "dl.dropbox.com", "db.tt", "dl.dropboxusercontent.com",
    ".dropboxusercontent.com",
    "drive.google.com", "docs.google.com", "drive.usercontent.google.com", ".googleusercontent.com",
    "1drv.ms", "onedrive.live.com", "api.onedrive.com", ".files.1drv.com",
    ".microsoftpersonalcontent.com",  # where OneDrive personal serves downloads since 2024
    ".sharepoint.com",
})

# A redirect to one of these means "sign in first": we never fetch them.
LOGIN_HOSTS = frozenset({
    "accounts.google.com", "login.microsoftonline.com", "login.live.com", "login.windows.net",
    "account.live.com", "account.box.com",
})
LOGIN_PATHS = (
    ("www.dropbox.com", "/login"), ("dropbox.com", "/login"),
    (".sharepoint.com", "/_forms/"), (".sharepoint.com", "/_layouts/15/authenticate.aspx"),
    ("drive.google.com", "/accounts/"), ("docs.google.com", "/accounts/"),
)


def host_matches(host: str, pattern: str) -> bool:
    """Exact match, or any sub-domain when the pattern starts with a dot."""
    host = host.lower().rstrip(".")
    if pattern.startswith("."):
        return host.endswith(pattern) and len(host) > len(pattern)
    return host == pattern


def is_provider_host(host: str, extra_hosts: Iterable[str] = ()) -> bool:
    """A supported provider's host, or one the operator added in links.extra_hosts."""
    return any(host_matches(host, p) for p in (*PROVIDER_HOSTS, *extra_hosts))


def is_login_url(url: str) -> bool:
    """A provider's sign-in page (where private or organisation-only links end)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host_matches(host, h) for h in LOGIN_HOSTS):
        return True
    path = parts.path.lower()
    if "servicelogin" in path:
        return True
    return any(host_matches(host, h) and path.startswith(p) for h, p in LOGIN_PATHS)
