"""The daemon keeps what it loaded out of the cyclic collector's way (issue 26): once its first email is
handled and acknowledged, every object alive then is frozen, so that a full collection, which walked all
of them (34-82 ms in the push benchmark), no longer falls inside a later email's cycle."""

from __future__ import annotations

import gc

from intake.daemon import Daemon
from tests import mailfactory
from tests.pipeline_helpers import deliver


def test_the_first_handled_email_freezes_what_the_daemon_loaded(setup):
    config, services = setup
    daemon = Daemon(services)
    gc.unfreeze()  # the test process's own freezes are not the daemon's
    try:
        assert daemon._poll_once()  # nothing to take: nothing loaded for an email yet
        assert (daemon.warmed_up, gc.get_freeze_count()) == (False, 0)
        deliver(config, mailfactory.submission_with_zip())
        assert daemon._poll_once()
        assert daemon.warmed_up and gc.get_freeze_count() > 10_000
        assert len(list((config.resolve_path(config.outbound.path)).iterdir())) == 1  # acknowledged before
        frozen = gc.get_freeze_count()
        deliver(config, mailfactory.submission_with_zip(subject="Second submission"))
        assert daemon._poll_once()
        assert gc.get_freeze_count() <= frozen  # once: no second freeze (frozen objects may still be freed)
    finally:
        gc.unfreeze()
