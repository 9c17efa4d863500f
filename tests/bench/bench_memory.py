"""Target 4: memory is bounded by design, not by the size of the input.

Peak RSS of the whole `secor-intake poll` process (its VmHWM):
- the idle daemon's own: a poll that finds an empty inbox (the baseline);
- a 40 MB email (just under limits.max_message_bytes: a ~29 MB zip, base64): at most 2.5 times the
  message size above the idle poll's peak;
- a 1 GB submission (`--quick`: 200 MB) behind a Dropbox link, served by the fake provider as a zip
  generated on the fly, downloaded, extracted and triaged: under 150 MB.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests import mailfactory
from tests.bench.common import (
    CACHE,
    MB,
    Result,
    append_all,
    database,
    intake_cli,
    run_measured,
    submission_files,
    write_intake_config,
    write_zip,
)
from tests.servers.dovecot import run_dovecot
from tests.servers.providers import ProviderServer
from tests.servers.smtp import SmtpServer

MESSAGE_FACTOR = 2.5
LINK_LIMIT = 150 * MB
MAX_MESSAGE = 40_000_000


def forty_mb_email() -> bytes:
    path = CACHE / "zips" / "forty-mb-2.zip"
    if not path.exists():
        write_zip(path.with_suffix(".part"), submission_files(40_041, 149, 32_100_000))
        path.with_suffix(".part").replace(path)
    raw = mailfactory.submission_with_zip(path.read_bytes(), filename="Acme SECOR 2026 full.zip",
                                          message_id="<bench-forty-mb@mail.acme-roofing.ca>")
    assert len(raw) <= MAX_MESSAGE, len(raw)
    return raw


def run(quick: bool = False) -> list[Result]:
    link_bytes = 200 * MB if quick else 1_000 * MB
    raw = forty_mb_email()
    work = Path(tempfile.mkdtemp(prefix="secor-bench-memory-"))
    smtp = SmtpServer()
    smtp.start()
    provider = ProviderServer(work).start()
    provider.huge_bytes = link_bytes
    try:
        with run_dovecot() as dovecot, database("memory") as db_url:
            user = dovecot.new_user()
            settings = provider.settings(deadline_seconds=900.0, read_timeout_seconds=60.0)
            config = write_intake_config(
                work / "intake", dovecot, user, smtp, db_url,
                links={"resolve": settings.resolve, "ca_bundle": settings.ca_bundle, "deadline_seconds": 900.0,
                       "read_timeout_seconds": 60.0},
                limits={"max_archive_bytes": 1_200 * MB})
            run_measured(intake_cli(config, "db", "upgrade"))
            idle_runs = [run_measured(intake_cli(config, "poll")) for _ in range(2)]
            idle = max(r.peak_rss for r in idle_runs)
            append_all(dovecot, user, [raw])
            mail = run_measured(intake_cli(config, "poll"))  # never under a profiler: its RSS is measured
            replies_mail = len(smtp.messages())
            link_mail = mailfactory.submission_with_link(
                "https://www.dropbox.com/s/huge/Acme%20SECOR%202026%20full.zip?dl=0",
                subject="SECOR 2026 submission - download link (large)")
            append_all(dovecot, user, [link_mail])
            link = run_measured(intake_cli(config, "poll"))
            replies_link = len(smtp.messages()) - replies_mail
            stored = sum(p.stat().st_size for p in (work / "intake" / "submissions").rglob("*") if p.is_file())
    finally:
        provider.stop()
        smtp.stop()
        shutil.rmtree(work, ignore_errors=True)
    above = mail.peak_rss - idle
    factor = above / len(raw)
    notes = [f"idle poll peak {idle / MB:.1f} MB; 40 MB email ({len(raw) / MB:.1f} MB): peak {mail.peak_rss / MB:.1f} MB, "
             f"{above / MB:.1f} MB above idle = {factor:.2f} x the message (exit {mail.returncode}, "
             f"{replies_mail} reply, {mail.seconds:.1f} s)",
             f"link: {link_bytes / MB:.0f} MB zip downloaded and triaged in {link.seconds:.1f} s, peak {link.peak_rss / MB:.1f} MB "
             f"(exit {link.returncode}, {replies_link} reply); {stored / MB:.0f} MB stored in all"]
    for name, r in (("40 MB email", mail), ("link", link)):
        if r.returncode != 0:
            notes.append(f"{name} poll failed: {r.stderr[-1500:]}")
    ok_mail = mail.returncode == 0 and replies_mail == 1
    ok_link = link.returncode == 0 and replies_link == 1
    return [Result("4 memory", "40 MB email, peak above idle", above / MB, idle / MB, "MB", factor,
                   f"<= {MESSAGE_FACTOR} x message", factor <= MESSAGE_FACTOR and ok_mail, notes),
            Result("4 memory", f"{link_bytes / MB:.0f} MB via link, peak RSS", link.peak_rss / MB, idle / MB, "MB",
                   link.peak_rss / idle, f"< {LINK_LIMIT / MB:.0f} MB", link.peak_rss < LINK_LIMIT and ok_link, [])]
