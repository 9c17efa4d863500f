"""Target 3: push latency with IMAP IDLE.

`secor-intake run` as a real process, schedule.poll_seconds = 600 (only the IDLE watcher can answer
in time), schedule.idle = true. N messages (50; `--quick` 8) with a realistic ~3 MB submission are
APPENDed one at a time, spaced out; for each, the time from the APPEND to its reply arriving at the
SMTP server. Halfway, Dovecot drops every session of the account (`doveadm kick`): the watcher must
come back, and the arrivals after the drop count like the others. Target (issue 14): 95th percentile
under 1 s over all N (its median goal, under 0.5 s, cannot be met against Dovecot: see below). Baseline (same run, same kind of message): APPEND then a
one-shot `secor-intake poll` process, i.e. the work itself plus the interpreter's start-up.

No IDLE client can beat the server's own floor, APPEND to the EXISTS a bare IMAPClient in IDLE
receives (Dovecot waits 500 ms after a change before it tells IDLE clients: NOTIFY_DELAY_MSECS in
mailbox-watch.c), so a second row sets the median against it side by side: the floor, and our
addition over it (the daemon's wake-up, fetch, triage, filing and reply). Target (issue 26): our
addition at most GOAL_ADDED.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench.common import (
    Result,
    append_all,
    clean_env,
    database,
    imap_client,
    intake_cli,
    median,
    ratio,
    realistic_zip,
    run_measured,
    submission_email,
    write_intake_config,
)
from tests.pipeline_helpers import ROOT
from tests.servers.dovecot import run_dovecot
from tests.servers.smtp import SmtpServer

GOAL_P95 = 1.0
GOAL_ADDED = 0.1  # seconds over Dovecot's floor, medians
SPACING = 1.5  # seconds between one reply and the next APPEND
WAIT = 30.0  # longest wait for one reply


def _wait_reply(smtp: SmtpServer, count: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(smtp.messages()) >= count:
            return time.monotonic()
        time.sleep(0.005)
    return None


def idle_floor(dovecot, user: str, raw: bytes, rounds: int = 5) -> list[float]:
    """APPEND -> EXISTS at a bare IMAPClient in IDLE on the same folder, `rounds` times."""
    times = []
    with imap_client(dovecot, user) as watcher:
        watcher.select_folder("INBOX")
        for _ in range(rounds):
            watcher.idle()
            start = time.monotonic()
            append_all(dovecot, user, [raw])
            while (responses := watcher.idle_check(timeout=WAIT)) and not any(
                    isinstance(r, tuple) and len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                pass
            times.append(time.monotonic() - start)
            watcher.idle_done()
    return times


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def run(quick: bool = False) -> list[Result]:
    n = 8 if quick else 50
    kick_before = n // 2  # the arrival that comes after Dovecot dropped the connection
    raws = [submission_email(realistic_zip(i), i, "push") for i in range(n + 3)]
    work = Path(tempfile.mkdtemp(prefix="secor-bench-push-"))
    smtp = SmtpServer()
    smtp.start()
    latencies: list[float | None] = []
    base_times: list[float] = []
    daemon_log = ""
    try:
        with run_dovecot() as dovecot, database("push") as db_url, database("push_base") as base_url:
            # Baseline: one-shot polls, 3 messages on their own account.
            base_user = dovecot.new_user()
            base_config = write_intake_config(work / "base", dovecot, base_user, smtp, base_url)
            run_measured(intake_cli(base_config, "poll"))  # migrations
            for i in range(3):
                start = time.monotonic()
                append_all(dovecot, base_user, [raws[n + i]])
                assert run_measured(intake_cli(base_config, "poll")).returncode == 0
                arrived = _wait_reply(smtp, i + 1, WAIT)
                base_times.append((arrived or time.monotonic()) - start)
            sent_before = len(smtp.messages())
            floor = idle_floor(dovecot, dovecot.new_user(), raws[0])

            user = dovecot.new_user()
            config = write_intake_config(work / "daemon", dovecot, user, smtp, db_url,
                                         schedule={"poll_seconds": 600.0, "reply_seconds": 600.0, "idle": True},
                                         log={"level": "INFO"})
            run_measured(intake_cli(config, "db", "upgrade"))
            log_path = work / "daemon.log"
            with open(log_path, "wb") as log:
                daemon = subprocess.Popen(intake_cli(config, "run"), stdout=log, stderr=subprocess.STDOUT,
                                          cwd=ROOT, env=clean_env())
            try:
                time.sleep(3.0)  # start-up, first poll, the watcher's IDLE
                got = sent_before
                for i in range(n):
                    if i == kick_before:
                        dovecot.kick(user)  # the server drops the IDLE connection
                        time.sleep(2.0)
                    start = time.monotonic()
                    append_all(dovecot, user, [raws[i]])
                    arrived = _wait_reply(smtp, got + 1, WAIT)
                    got = len(smtp.messages())
                    latencies.append(None if arrived is None else arrived - start)
                    time.sleep(SPACING)
            finally:
                daemon.send_signal(signal.SIGTERM)
                try:
                    code = daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    code = daemon.wait()
            daemon_log = log_path.read_text(errors="replace")
    finally:
        smtp.stop()
        shutil.rmtree(work, ignore_errors=True)
    delivered = [x for x in latencies if x is not None]
    counted = [x if x is not None else WAIT for x in latencies]
    measured, high = median(counted), p95(counted)
    base = median(base_times)
    after_drop = latencies[kick_before]
    fmt = lambda xs: ", ".join("lost" if x is None else f"{x:.2f}" for x in xs)  # noqa: E731
    load = os.getloadavg()
    notes = [f"{len(delivered)}/{n} replies within {WAIT:.0f} s; p95 {high:.2f} s; max {max(counted):.2f} s; "
             f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
             f"latencies (s): {fmt(latencies)}",
             f"the first arrival after Dovecot dropped the connection (no. {kick_before + 1}): {fmt([after_drop])} s",
             f"the server's floor, APPEND -> EXISTS at a bare IDLE client: {fmt(floor)} s",
             f"baseline one-shot polls (APPEND -> reply): {fmt(base_times)} s; daemon exit {code} on SIGTERM"]
    if code != 0 or len(delivered) < n:
        notes.append("daemon log tail: " + daemon_log[-1500:].replace("\n", " | "))
    met = high < GOAL_P95 and len(delivered) == n
    floor_median = median(floor)
    added = measured - floor_median
    return [Result("3 push latency", f"APPEND -> reply, median of {n}", measured, base, "s", ratio(measured, base),
                   f"p95 < {GOAL_P95:.0f} s", met, notes),
            Result("3 push latency", "our addition over Dovecot's floor (APPEND -> EXISTS at a bare IDLE "
                   "client), medians", added, floor_median, "s", None, f"<= {GOAL_ADDED} s over the floor",
                   added <= GOAL_ADDED and len(delivered) == n,
                   [f"push: floor {floor_median:.3f} s + ours {added:.3f} s = {measured:.3f} s (median); "
                    f"p95 {high:.3f} s = floor + {high - floor_median:.3f} s"])]
