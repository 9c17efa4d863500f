"""The `secor-intake` command's entry point, and how its long-lived objects stay out of the cyclic
garbage collector's way.

The command line loads with the collector paused: loading makes tens of thousands of objects and no
garbage, and the collector would walk them again and again as they come; frozen once loaded, later
collections skip them (a one-file `triage` 0.860 to 0.827 G instructions, docs/performance.md, issue 26).
"""

from __future__ import annotations

import gc
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()
    try:
        from intake.cli import main as run
    finally:
        gc.enable()
    gc.freeze()
    return run(argv)


def freeze_startup_objects() -> None:
    """Put every object alive now (modules, the workbench's app and templates, the daemon's services)
    out of the collector's way once a long-running process has loaded what its work uses: a full
    collection then walks only what requests and cycles make. Without it, one workbench case page in
    three of a 5,000-file case paid ~50 ms for a full collection (issue 14), and a daemon's email 34-82 ms
    when one fell inside its cycle (issue 26)."""
    gc.collect()
    gc.freeze()
