"""Target 3: push latency with IMAP IDLE.

`secor-intake run` as a real process, schedule.poll_seconds = 600 (only the IDLE watcher can answer
in time), schedule.idle = true. N messages (20; `--quick` 5) with a realistic ~3 MB submission are
APPENDed one at a time, spaced out; for each, the time from the APPEND to its reply arriving at the
SMTP server. Target: median under 2 s. Then Dovecot drops every session of the account
(`doveadm kick`) and 3 more are APPENDed: the watcher must come back (survives a dropped
connection) and their latency is shown. Baseline (same run, same kind of message): APPEND then a
one-shot `secor-intake poll` process, i.e. the work itself plus the interpreter's start-up.
"""

from __future__ import annotations

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

GOAL = 2.0
SPACING = 1.5  # seconds between one reply and the next APPEND
WAIT = 30.0  # longest wait for one reply


def _wait_reply(smtp: SmtpServer, count: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(smtp.messages()) >= count:
            return time.monotonic()
        time.sleep(0.005)
    return None


def run(quick: bool = False) -> list[Result]:
    n = 5 if quick else 20
    after_drop = 3
    raws = [submission_email(realistic_zip(i), i, "push") for i in range(n + after_drop + 3)]
    work = Path(tempfile.mkdtemp(prefix="secor-bench-push-"))
    smtp = SmtpServer()
    smtp.start()
    latencies: list[float | None] = []
    dropped: list[float | None] = []
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
                append_all(dovecot, base_user, [raws[n + after_drop + i]])
                assert run_measured(intake_cli(base_config, "poll")).returncode == 0
                arrived = _wait_reply(smtp, i + 1, WAIT)
                base_times.append((arrived or time.monotonic()) - start)
            sent_before = len(smtp.messages())

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
                for i in range(n + after_drop):
                    if i == n:
                        dovecot.kick(user)  # the server drops the IDLE connection
                        time.sleep(2.0)
                    start = time.monotonic()
                    append_all(dovecot, user, [raws[i]])
                    arrived = _wait_reply(smtp, got + 1, WAIT)
                    got = len(smtp.messages())
                    (latencies if i < n else dropped).append(None if arrived is None else arrived - start)
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
    measured = median([x if x is not None else WAIT for x in latencies])
    base = median(base_times)
    drop_ok = all(x is not None and x < GOAL for x in dropped)
    fmt = lambda xs: ", ".join("lost" if x is None else f"{x:.2f}" for x in xs)  # noqa: E731
    notes = [f"{len(delivered)}/{n} replies within {WAIT:.0f} s; latencies (s): {fmt(latencies)}",
             f"after Dovecot dropped the connection: {fmt(dropped)} s "
             f"({'watcher came back' if drop_ok else 'NOT back within the target'})",
             f"baseline one-shot polls (APPEND -> reply): {fmt(base_times)} s; daemon exit {code} on SIGTERM"]
    if code != 0 or len(delivered) < n:
        notes.append("daemon log tail: " + daemon_log[-1500:].replace("\n", " | "))
    return [Result("3 push latency", f"APPEND -> reply, median of {n}", measured, base, "s", ratio(measured, base),
                   f"median < {GOAL:.0f} s", measured < GOAL and drop_ok and len(delivered) == n, notes)]
