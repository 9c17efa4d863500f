"""Dropbox: /s/, /sh/, /scl/fi/ and /scl/fo/ share links, and db.tt short links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fetchers.net import sign_in_required
from fetchers.providers.base import Got, Job, Link, Provider, expand, fetch_file, last_segment, store, with_query

_SITE_HOSTS = ("www.dropbox.com", "dropbox.com", "dl.dropbox.com", "dl.dropboxusercontent.com")


class Dropbox(Provider):
    name = "dropbox"
    display_name = "Dropbox"
    hosts = frozenset({"www.dropbox.com", "dropbox.com", "dl.dropbox.com", "db.tt", "dl.dropboxusercontent.com",
                       ".dropboxusercontent.com"})  # uc<hash>.dl.dropboxusercontent.com serves the files
    sign_in_paths = (("www.dropbox.com", "/login"), ("dropbox.com", "/login"))
    typed_hosts = ("www.dropbox.com", "dropbox.com", "db.tt")

    def recognises(self, link: Link) -> bool:
        # Dropbox Transfer (/t/, /request/) is in fetchers.providers.unsupported.
        if link.host in _SITE_HOSTS:
            return link.path.startswith(("/s/", "/sh/", "/scl/fi/", "/scl/fo/"))
        return link.host == "db.tt" and len(link.path) > 1

    def fetch(self, job: Job, url: str) -> Got:
        """dl=1 downloads a file, and a folder as a zip; /scl/ links need their rlkey."""
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
