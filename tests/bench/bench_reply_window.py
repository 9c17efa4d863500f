"""Target 7: how often a SIGKILL lands in the one at-least-once window of replies.

The window: the SMTP server has accepted a reply (250 after DATA) and the process dies before "sent"
is committed; the reply is then sent again (byte-identical, same Message-ID). Measured from outside:
a real `secor-intake poll` sends N queued replies (SQLite, aiosmtpd on loopback) and is SIGKILLed at a
random moment inside its sending phase; a second `poll` then sends what is left. Over K rounds, the
duplicates that reached the server are counted. Baseline (same run): the length of the sending
phase per reply, so the figure reads as "the window is this share of a reply's time".
"""

from __future__ import annotations

import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path

from intake.db import Reply, make_engine, session_factory, upgrade
from tests.bench.common import Result, clean_env, intake_cli
from tests.pipeline_helpers import ROOT, write_config
from tests.servers.smtp import SmtpServer

ROUNDS = 60
REPLIES = 40


def _queue(db_url: str, n: int, round_no: int) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        for i in range(n):
            message_id = f"<window-{round_no}-{i}@youracsa.ca>"
            raw = (f"From: COR@youracsa.ca\r\nTo: office{i}@employer.example\r\nSubject: [SECOR-2026-{i:06d}]\r\n"
                   f"Message-ID: {message_id}\r\nAuto-Submitted: auto-replied\r\n\r\nReceived.\r\n").encode()
            session.add(Reply(recipient=f"office{i}@employer.example", subject="ack", message_id=message_id, raw=raw))
    engine.dispose()


def _config(folder: Path, smtp: SmtpServer) -> Path:
    return write_config(folder / "secor-intake.toml", {
        "mailbox": {"kind": "maildir", "path": str(folder / "maildir")},
        "outbound": {"kind": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none"},
        "database": {"url": f"sqlite:///{folder / 'db.sqlite3'}"},
        "storage": {"path": str(folder / "submissions")},
        "health": {"path": str(folder / "health.json")},
    })


def _received_ids(smtp: SmtpServer) -> list[str]:
    parser = BytesHeaderParser()
    return [parser.parsebytes(m.raw)["Message-ID"] for m in smtp.messages()]


def _wait_for(condition, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.0005)
    return None


def run(quick: bool = False) -> list[Result]:
    rounds = 10 if quick else ROUNDS
    rng = random.Random(6)
    smtp = SmtpServer()
    smtp.start()
    work = Path(tempfile.mkdtemp(prefix="secor-bench-window-"))
    kills = duplicates = 0
    phase_seconds: list[float] = []
    try:
        for round_no in range(rounds):
            folder = work / str(round_no)
            folder.mkdir()
            config = _config(folder, smtp)
            _queue(f"sqlite:///{folder / 'db.sqlite3'}", REPLIES, round_no)
            before = len(smtp.messages())
            process = subprocess.Popen(intake_cli(config, "poll"), cwd=ROOT, env=clean_env(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = _wait_for(lambda: len(smtp.messages()) > before, 60)  # noqa: B023 - called in this iteration
            if round_no == 0:  # calibration: the sending phase of a whole run
                last = _wait_for(lambda: len(smtp.messages()) >= before + REPLIES, 60)  # noqa: B023 - called in this iteration
                process.wait(60)
                assert first and last, "the calibration run sent nothing"
                phase_seconds.append(last - first)
                continue
            time.sleep(rng.uniform(0, phase_seconds[0]))
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            if len(smtp.messages()) - before >= REPLIES:
                continue  # finished before the kill: not a kill inside the sending phase
            kills += 1
            subprocess.run(intake_cli(config, "poll"), cwd=ROOT, env=clean_env(), capture_output=True, timeout=120)
        counts = Counter(_received_ids(smtp))
        duplicates = sum(c - 1 for c in counts.values())
        missing = rounds * REPLIES - len(counts)
    finally:
        smtp.stop()
        subprocess.run(["rm", "-rf", str(work)])
    per_reply = phase_seconds[0] / REPLIES
    share = duplicates / kills if kills else 0.0
    return [Result(
        target="7 reply window", what=f"SIGKILLs inside sending: {kills}, duplicates {duplicates}",
        measured=share, baseline=None, unit="dup/kill", ratio=None, goal="report; 0 lost",
        met=missing == 0,
        notes=[f"{kills} kills at random moments of a {phase_seconds[0] * 1000:.0f} ms sending phase "
               f"({per_reply * 1000:.2f} ms per reply): {duplicates} replies sent twice, {missing} lost",
               f"so the unrecorded window is about {share * per_reply * 1000:.3f} ms of each reply's "
               f"{per_reply * 1000:.2f} ms"])]
