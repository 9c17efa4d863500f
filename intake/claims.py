"""Who holds a claim on a message or a reply, and when a claim is abandoned.

A claim names its worker as host:pid:token. A claim by a process that no longer runs on this host
is abandoned at once (a SIGKILL, a crash, a reboot); a claim from another host only after a lease,
since we cannot see its processes.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta


def worker_identity() -> str:
    """host:pid:token for this process (the token tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_is_stale(claimed_by: str | None, claimed_at: datetime | None, now: datetime, lease: timedelta) -> bool:
    """True when the worker that claimed something is gone (dead here, or silent past the lease)."""
    if claimed_at is None:
        return True
    host, _, rest = (claimed_by or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
        return True
    return now - claimed_at > lease
