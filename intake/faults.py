"""Crash points for the crash-recovery tests.

`SECOR_INTAKE_CRASH_AT=<point>` makes the process kill itself with SIGKILL when it reaches that
point, so a test can prove that a restart loses nothing and duplicates nothing wherever the process
dies. Unset (always, in production) it does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "SECOR_INTAKE_CRASH_AT"

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
