"""Crash and pause points for the crash-recovery and fault tests.

`SECOR_INTAKE_CRASH_AT=<point>` makes the process kill itself with SIGKILL when it reaches that
point, so a test can prove that a restart loses nothing and duplicates nothing wherever the process
dies. `SECOR_INTAKE_PAUSE_AT=<point>:<folder>` makes it stop there once, with the file
`<folder>/paused`, until `<folder>/resume` exists: a test breaks a server while an email is in hand.
Unset (always, in production) they do nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CRASH_ENV = "SECOR_INTAKE_CRASH_AT"
PAUSE_ENV = "SECOR_INTAKE_PAUSE_AT"
PAUSE_LIMIT_SECONDS = 120.0

POINTS = (
    "claimed",  # the message row is committed as claimed, nothing else done
    "fetched",  # the raw email is in scratch space, nothing recorded
    "recorded",  # the version, findings and outbox row are committed; files not yet filed
    "filed",  # files are in storage; the email is not yet moved
    "moved",  # the email is moved; the row does not say so yet
    "reply_claimed",  # a reply is marked "sending"; nothing handed to the transport yet
)


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    point, _, folder = os.environ.get(PAUSE_ENV, "").partition(":")
    if point == name and folder:
        _pause_once(Path(folder))


def _pause_once(folder: Path) -> None:
    paused = folder / "paused"
    if paused.exists():
        return
    paused.touch()
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
    while not (folder / "resume").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
