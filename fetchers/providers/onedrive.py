"""OneDrive (personal): 1drv.ms short links and onedrive.live.com links."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlencode, urlsplit

from fetchers.net import LinkProblem, sign_in_required
from fetchers.providers.base import Got, Job, Link, Provider, expand, fetch_file, store


def shares_api_url(share_url: str) -> str:
    """The OneDrive shares API address of a sharing link: u! + unpadded base64url of the link."""
    token = base64.urlsafe_b64encode(share_url.encode("utf-8")).decode("ascii").rstrip("=")
    return f"https://api.onedrive.com/v1.0/shares/u!{token}/root/content"


class OneDrive(Provider):
    name = "onedrive"
    display_name = "OneDrive"
    hosts = frozenset({"1drv.ms", "onedrive.live.com", "api.onedrive.com", ".files.1drv.com",
                       ".microsoftpersonalcontent.com"})  # where OneDrive personal serves downloads since 2024
    sign_in_hosts = frozenset({"login.live.com", "account.live.com", "login.microsoftonline.com",
                               "login.windows.net"})
    typed_hosts = ("1drv.ms", "onedrive.live.com")

    def recognises(self, link: Link) -> bool:
        if link.host == "1drv.ms":
            return len(link.path) > 1
        return link.host == "onedrive.live.com" and bool({"resid", "id", "authkey", "redeem", "cid"} & set(link.query))

    def fetch(self, job: Job, url: str) -> Got:
        """Old links (resid + authkey) download from onedrive.live.com; new ones only via the shares API."""
        share = url
        if urlsplit(url).hostname == "1drv.ms":
            url = expand(job, url, lambda u: urlsplit(u).hostname != "1drv.ms")
        query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        resid = query.get("resid") or query.get("id")
        authkey = query.get("authkey")
        if resid and authkey:
            download = "https://onedrive.live.com/download?" + urlencode({"resid": resid, "authkey": authkey})
            got = fetch_file(job, download, share)
        elif "redeem" in query or urlsplit(share).hostname == "1drv.ms":
            try:
                got = fetch_file(job, shares_api_url(share), share)
            except LinkProblem as problem:
                if problem.code != "link.sign_in_required":
                    raise
                raise sign_in_required(share, "OneDrive no longer lets this kind of personal OneDrive link be "
                                              "downloaded without signing in (Microsoft changed personal sharing "
                                              "links in 2024). Attach the zip instead, or share it from Google "
                                              "Drive or Dropbox") from None
        else:
            raise sign_in_required(share, "the OneDrive link has no 'authkey', so it only opens for its owner")
        path = store(got, job.dest, "onedrive-download", job)
        return Got(path, path.name)
