"""The one exponential backoff used for retries: messages, replies and the daemon's own polls."""

from __future__ import annotations

from datetime import timedelta


def backoff(base_seconds: float, attempts: int, cap: timedelta) -> timedelta:
    """The delay after `attempts` tries: base, 2 x base, 4 x base... never more than `cap`."""
    doublings = min(max(attempts - 1, 0), 64)  # bounded: the float stays finite for any attempts
    return timedelta(seconds=min(base_seconds * 2.0 ** doublings, cap.total_seconds()))
