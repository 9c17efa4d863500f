"""SharePoint and OneDrive for Business: /:x:/ sharing links and download.aspx."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fetchers.hosts import host_matches
from fetchers.net import LinkProblem
from fetchers.providers.base import Got, Job, Link, Provider, fetch_file, last_segment, store, with_query


class SharePoint(Provider):
    name = "sharepoint"
    display_name = "SharePoint"
    hosts = frozenset({".sharepoint.com"})  # <tenant>.sharepoint.com, <tenant>-my.sharepoint.com
    sign_in_hosts = frozenset({"login.microsoftonline.com", "login.windows.net"})
    sign_in_paths = ((".sharepoint.com", "/_forms/"), (".sharepoint.com", "/_layouts/15/authenticate.aspx"))

    def recognises(self, link: Link) -> bool:
        lowered = link.path.lower()
        return host_matches(link.host, ".sharepoint.com") and bool(
            re.match(r"^/:[a-z]:/", lowered) or lowered.endswith(("/download.aspx", "/guestaccess.aspx")))

    def fetch(self, job: Job, url: str) -> Got:
        """:u: (and other file) links with download=1; download.aspx as is; folder links open a web page."""
        parts = urlsplit(url)
        is_folder = parts.path.lower().startswith("/:f:/")
        download = url if parts.path.lower().endswith("/download.aspx") else with_query(url, download="1")
        try:
            got = fetch_file(job, download, url)
        except LinkProblem as problem:
            if problem.code == "link.unsupported" and is_folder:
                raise LinkProblem("link.unsupported",
                                  f"The SharePoint/OneDrive for Business link {url} is a folder link, and SharePoint "
                                  "only offers a folder as a web page, not as a download. Zip the folder, upload the "
                                  "zip, and share the zip file's link ('anyone with the link'), or attach the zip "
                                  "instead.") from None
            raise
        path = store(got, job.dest, last_segment(url) or "sharepoint-download", job)
        return Got(path, path.name)
