"""From what an email or a command line points at to a triage report: the one path both take."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fetchers.fetch import fetch_links
from intake.cases.layout import download_dir, triage_dir, triage_files
from intake.config import Config
from triage.engine import empty_summary, finish_report, triage_path
from triage.report import Report, Source


@dataclass(frozen=True)
class Assessed:
    report: Report
    transient: bool  # the only problem was a passing one (link.unavailable): the daemon retries first
    kept: Path | None  # with keep_files, where the submission's files are (None when nothing was kept)


def assess_links(urls: list[str], config: Config, workdir: Path,
                 progress: Callable[[int, int | None], None] | None = None,
                 keep_files: bool = False, triage: Callable[..., Report] = triage_path) -> Assessed:
    """Download the share links into `workdir/download` and triage what they became with `triage`."""
    fetched = fetch_links(urls, config.link_settings, config.limits, download_dir(workdir), progress)
    source = Source(kind="link", name=fetched.name, url=urls[0])
    if fetched.path is None:
        report = finish_report(source, fetched.findings, config.triage.severities,
                               empty_summary(config.triage.vocabulary))
    else:
        triage_dir(workdir).mkdir(exist_ok=True)
        report = triage(fetched.path, config.limits, config.triage, triage_dir(workdir), source=source, keep_files=keep_files,
                        prior_findings=fetched.findings)
    kept = None
    if keep_files:  # a zip's files, else what was downloaded as it is
        kept = next((p for p in (triage_files(workdir), download_dir(workdir)) if p.is_dir()), None)
    return Assessed(report, fetched.transient, kept)
