"""Housekeeping: scratch space that no claim owns any more is removed."""

from __future__ import annotations

import logging
import shutil

from intake.db import InboxMessage
from intake.service import Services
from intake.states import MessageState

log = logging.getLogger("secor_intake.housekeeping")


def housekeep(services: Services) -> int:
    """Remove scratch folders of messages that are finished and filed; returns how many."""
    work = services.storage.work_root
    if not work.is_dir():
        return 0
    removed = 0
    with services.sessions() as session:
        for folder in work.iterdir():
            if not folder.name.isdigit():
                continue
            row = session.get(InboxMessage, int(folder.name))
            # Only a moved row is fully finished: filing happens before the move.
            if row is None or (row.state in (MessageState.DONE, MessageState.ABANDONED) and row.moved):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    if removed:
        log.info("housekeeping: removed %d scratch folders", removed)
    return removed
