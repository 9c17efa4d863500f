"""Numbers in the plain words our messages use, to submitters and to the workbench's users alike."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    """'1 level', '2 levels', '1,200 files'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
