"""Who holds a claim on a message or a reply, and when a claim is abandoned.

A claim names its worker as host:pid:token. A claim by a process that no longer runs on this host
is abandoned at once (a SIGKILL, a crash, a reboot); a claim from another host only after a lease,
since we cannot see its processes. A claim by this very process is abandoned unless one of its
threads holds it now (`holding`): work whose failure could not be recorded (the database went away
mid-message) is taken again at the next cycle instead of waiting out the lease.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

_held: set[tuple[str, int]] = set()  # (table, row id) this process is working on right now
_held_lock = threading.Lock()


def hold(table: str, row_id: int) -> None:
    """Note that a thread of this process works on the row; call before its claim is committed."""
    with _held_lock:
        _held.add((table, row_id))


def let_go(table: str, row_id: int) -> None:
    with _held_lock:
        _held.discard((table, row_id))


@contextmanager
def holding(table: str, row_id: int) -> Iterator[None]:
    hold(table, row_id)
    try:
        yield
    finally:
        let_go(table, row_id)


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


def claim_is_stale(claimed_by: str | None, claimed_at: datetime | None, now: datetime, lease: timedelta,
                   row: tuple[str, int]) -> bool:
    """True when the worker that claimed `row` (table, id) is gone: dead here, not holding it in this
    process, or silent past the lease."""
    if claimed_at is None:
        return True
    host, _, rest = (claimed_by or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        if int(pid_text) == os.getpid():
            with _held_lock:
                return row not in _held
        if not _pid_alive(int(pid_text)):
            return True
    return now - claimed_at > lease
