"""fetch_links: a message's share links turned into the submission's files, or into findings."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fetchers.links import classify, normalize
from fetchers.net import Budget, Downloader, LinkProblem, Progress, TooLarge
from fetchers.providers import Got, Job, provider_named, supported_services_phrase
from fetchers.settings import LinkSettings
from triage.findings import Finding, finding
from triage.settings import ArchiveLimits

WHAT_WORKS = (f"Attach the zip to your email, or share it with a {supported_services_phrase()} "
              "link set to 'anyone with the link'.")


@dataclass
class FetchResult:
    path: Path | None  # a downloaded file, a folder (Drive folder, several links), or None
    name: str | None  # display name: the Content-Disposition file name or the folder title
    findings: list[Finding] = field(default_factory=list)  # link.* and archive.too_large
    transient: bool = False  # True when the only problem is link.unavailable (retry later)


def unsupported(url: str, provider: str | None) -> Finding:
    """link.unsupported naming what works instead."""
    where = f"{provider} links" if provider else f"from {urlsplit(url).hostname or 'that site'}"
    return finding("link.unsupported", f"We cannot download {where} automatically ({url}). {WHAT_WORKS}")


def fetch_one(url: str, dl: Downloader, dest: Path, max_entries: int) -> Got:
    """One link through its provider; on failure nothing it created is left behind."""
    kind = classify(url)
    if kind is None or not kind.supported:
        raise LinkProblem("link.unsupported", unsupported(url, kind.provider if kind else None).message)
    job = Job(dl=dl, dest=dest, max_entries=max_entries)
    dl.label = url
    before = set(dest.iterdir())
    try:
        return provider_named(kind.provider).fetch(job, url)
    except BaseException:
        for created in set(dest.iterdir()) - before:
            shutil.rmtree(created, ignore_errors=True) if created.is_dir() else created.unlink(missing_ok=True)
        raise


def fetch_links(urls: list[str], settings: LinkSettings, limits: ArchiveLimits, dest: Path,
                progress: Progress | None = None) -> FetchResult:
    """Download every link of one submission under `dest`.

    One link: `path` is the file (or the Drive folder) it became. Several links: each is downloaded
    under `dest`, and `path` is `dest`. Problems become findings; `transient` tells the daemon to retry.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dl = Downloader(settings=settings, budget=Budget(limits.max_archive_bytes), tmp_dir=dest, progress=progress)
    findings: list[Finding] = []
    got: list[Got] = []
    try:
        for raw in urls:
            url = normalize(raw)
            try:
                got.append(fetch_one(url, dl, dest, limits.max_entries))
            except TooLarge as problem:
                findings.append(finding(problem.code, problem.message))
                break  # the submission's byte budget is spent: the other links cannot fit either
            except LinkProblem as problem:
                findings.append(finding(problem.code, problem.message))
    finally:
        dl.close()
    transient = bool(findings) and all(f.code == "link.unavailable" for f in findings)
    if not got:
        return FetchResult(None, None, findings, transient)
    if len(urls) == 1:
        return FetchResult(got[0].path, got[0].name, findings, transient)
    return FetchResult(dest, ", ".join(g.name for g in got), findings, transient)
