"""`secor-intake run`: the scheduler that polls, sends replies and keeps house until SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import DBAPIError

from intake import metrics
from intake.backoff import backoff
from intake.clock import utcnow
from intake.entry import freeze_startup_objects
from intake.housekeeping import housekeep
from intake.mailbox.base import LoginRefused, MailboxError
from intake.service import Services, send_replies, take_mail

log = logging.getLogger("secor_intake.daemon")

MAX_BACKOFF = timedelta(minutes=15)  # between polls of a failing mailbox
DATABASE_RETRY_SECONDS = 5.0  # how often a database that went away is looked for
IDLE_WAIT_SECONDS = 10.0  # one IDLE round; short so that a stop request is seen soon
WATCH_RETRY_SECONDS = 1.0  # the watcher's first wait before it connects again, doubling up to the poll interval


class Daemon:
    """Runs the jobs of one daemon process; `stop()` (or a signal) ends it cleanly."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.config = services.config
        self.failures = 0
        self.retry_at: datetime | None = None
        self.database_down = False  # the last poll failed on the database
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self.mail_waiting = threading.Event()  # set by the IDLE watcher: new mail, poll (again) now
        self.warmed_up = False  # an email was handled: what a cycle uses is loaded (see _poll_once)

    def poll_job(self) -> None:
        """Take new mail, again while the watcher reports more; then acknowledge what was taken."""
        while True:
            self.mail_waiting.clear()
            if not self._poll_once() or self.services.stop.is_set() or not self.mail_waiting.is_set():
                return

    def _poll_once(self) -> bool:
        """One intake cycle; True when it ran. Backs off after failures."""
        if self.retry_at is not None and utcnow() < self.retry_at:
            return False
        started = time.monotonic()
        try:
            if self.database_down:
                self._check_database()  # cheap, and no mailbox login while the database is away
            stats = take_mail(self.services)
            self.services.health.record_success(self.services.sessions)
        except LoginRefused as exc:
            self._failed(f"login refused: {exc}", "mailbox", started, loud=True)
            return False
        except MailboxError as exc:
            self._failed(f"mailbox: {exc}", "mailbox", started)
            return False
        except DBAPIError as exc:
            self._failed(f"database: {type(exc.orig).__name__}: {exc.orig}", "database", started)
            return False
        except Exception as exc:  # storage, a bug...: keep the daemon alive, say it loudly
            log.exception("poll failed")
            self._failed(f"{type(exc).__name__}: {exc}", "other", started)
            return False
        metrics.count_cycle(stats, time.monotonic() - started, "ok")
        if self.failures:
            log.info("poll works again after %d failed attempts", self.failures)
        self.failures, self.retry_at, self.database_down = 0, None, False
        if stats.seen:
            self.reply_job()  # acknowledge at once rather than at the next reply tick
            if not self.warmed_up:  # after the reply: the full collection is not in its way
                freeze_startup_objects()
                self.warmed_up = True
        return True

    def _check_database(self) -> None:
        with self.services.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def watch_job(self) -> None:
        """Hold an IDLE connection (or watch the Maildir) and start a poll as soon as mail arrives.

        Polling stays the fallback: the poll interval still bounds the wait when IDLE is missing or
        its connection is down. A server that went away is tried again after 1, 2, 4... seconds, up to
        the poll interval (a refused login only once per poll interval: no lock-out); once back, a
        poll starts, for the mail that came meanwhile.
        """
        folder = self.config.mailbox.folder
        poll_seconds = self.config.schedule.poll_seconds
        wait = min(poll_seconds, IDLE_WAIT_SECONDS)
        first, failures = True, 0
        while not self.services.stop.is_set():
            if not first:
                metrics.IMAP_RECONNECTS.inc()
            first = False
            try:
                with self.services.mail_source() as source:
                    if failures:  # the mail that came while the server was away
                        failures = 0
                        log.info("mail watcher: the mailbox answers again; polling now")
                        self._poll_now()
                    while not self.services.stop.is_set():
                        if source.wait_for_mail(folder, wait):
                            self._poll_now()
            except MailboxError as exc:
                failures += 1
                pause = poll_seconds if isinstance(exc, LoginRefused) else \
                    backoff(WATCH_RETRY_SECONDS, failures, timedelta(seconds=poll_seconds)).total_seconds()
                log.warning("mail watcher: %s; trying again in %.0f s, polling every %.0f s meanwhile",
                            exc, pause, poll_seconds)
                self.services.stop.wait(pause)

    def _poll_now(self) -> None:
        """Poll at once: the watcher saw mail, or connected again. Its connection shows the mailbox
        answers, so a backoff from the mailbox's failed polls does not hold the poll back."""
        if not self.database_down:
            self.retry_at = None
        self.mail_waiting.set()
        self.scheduler.modify_job("poll", next_run_time=utcnow())

    def _failed(self, error: str, failed: str, started: float, loud: bool = False) -> None:
        """Record a failed poll and when to try again; `failed` is "mailbox", "database" or "other".

        Only the mailbox backs off exponentially (a refused login must not become a lock-out). A
        database that went away is looked for every few seconds, so the email that was in hand when
        it failed is taken again within seconds of its return; anything else (a full disk) is tried
        again at every poll.
        """
        metrics.count_cycle(None, time.monotonic() - started, failed)
        self.failures += 1
        self.database_down = failed == "database"
        poll_seconds = self.config.schedule.poll_seconds
        if failed == "mailbox":
            delay = backoff(poll_seconds, self.failures, MAX_BACKOFF)
        else:
            delay = timedelta(seconds=min(poll_seconds, DATABASE_RETRY_SECONDS) if self.database_down else poll_seconds)
        self.retry_at = utcnow() + delay
        if self.database_down and self.scheduler.running:
            self.scheduler.modify_job("poll", next_run_time=self.retry_at)
        (log.error if loud or self.failures > 2 else log.warning)("poll failed (%d in a row): %s; next try in %.0f s",
                                                                self.failures, error, delay.total_seconds())
        self.services.health.record_failure(None if self.database_down else self.services.sessions, error)

    def reply_job(self) -> None:
        try:
            stats = send_replies(self.services)
            metrics.count_replies(stats)
            self.services.health.record_sending(stats.sent, stats.last_error)
        except Exception as exc:  # the database, most likely: the next successful poll clears it
            log.exception("reply job failed")
            with contextlib.suppress(OSError):
                self.services.health.record_failure(None, f"reply job: {type(exc).__name__}: {exc}")
            return
        if stats.sent or stats.failed:
            log.info("replies: %d sent, %d deferred, %d failed", stats.sent, stats.deferred, stats.failed)

    def housekeeping_job(self) -> None:
        try:
            housekeep(self.services)
        except Exception:
            log.exception("housekeeping failed")

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; the message in hand is finished, the rest left for next time."""
        stopping = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            log.info("%s received: finishing the message in hand, then stopping", signal.Signals(signum).name)
            self.services.stop.set()
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        schedule = self.config.schedule
        now = utcnow()
        self.scheduler.add_job(self.poll_job, "interval", seconds=schedule.poll_seconds, id="poll", next_run_time=now)
        self.scheduler.add_job(self.reply_job, "interval", seconds=schedule.reply_seconds, id="replies",
                               next_run_time=now + timedelta(seconds=1))
        self.scheduler.add_job(self.housekeeping_job, "interval", seconds=schedule.housekeeping_seconds,
                               id="housekeeping", next_run_time=now + timedelta(seconds=5))
        served = metrics.serve(self.config.metrics.host, self.config.metrics.port, self.services.sessions)
        self.scheduler.start()
        watcher = None
        if schedule.idle:
            watcher = threading.Thread(target=self.watch_job, name="mail-watcher", daemon=True)
            watcher.start()
        log.info("secor-intake running: polling %s every %.0f s (worker %s)", self.config.mailbox.kind,
                 schedule.poll_seconds, self.services.worker_id)
        while not stopping.wait(1.0):
            pass
        self.scheduler.shutdown(wait=True)
        if watcher is not None:
            watcher.join(timeout=IDLE_WAIT_SECONDS + 5)
        if served is not None:
            served.shutdown()
        log.info("stopped cleanly")
        return 0

