"""The parts of a running secor-intake, built once from the configuration, and one full cycle.

The pipeline, the replies and the triage engine are imported where a cycle uses them: the commands
that only read the database (`submissions`, `show`...) open these services too, and loading mail
parsing, templates, share-link providers and the engine cost them about a third of their run.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake import db
from intake.cases.layout import Storage
from intake.claims import worker_identity
from intake.clock import utcnow
from intake.config import Config, MailboxConfig, OutboundConfig
from intake.health import Health
from intake.mailbox import open_mail_source
from intake.mailbox.base import MailSource
from intake.outbound import Transport, open_transport

if TYPE_CHECKING:
    from intake.pipeline import CycleStats, Pipeline
    from intake.sending import SendStats
    from triage.report import Report

log = logging.getLogger("secor_intake")


@dataclass
class Services:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    health: Health
    worker_id: str = field(default_factory=worker_identity)
    stop: threading.Event = field(default_factory=threading.Event)
    triage: Callable[..., Report] | None = None  # None: the engine (triage_path); tests pass a stand-in here

    def mail_source(self) -> MailSource:
        return open_mail_source(self.config.mailbox, self.config.resolve_path)

    def transport(self) -> Transport:
        return open_transport(self.config.outbound, self.config.resolve_path)

    def tokens_ready(self) -> None:
        """Raise TokenRefused when a side that logs in with OAuth2 is refused by its token endpoint,
        `[mailbox]` first: then no mail is taken, as none could be answered. A passing failure (the
        endpoint unreachable) stops nothing here: the login or the reply job meets it again."""
        from intake.oauth2 import TokenUnavailable, settings_for, shared_token_source

        config = self.config
        sides: list[tuple[str, MailboxConfig | OutboundConfig, bool]] = [
            ("mailbox", config.mailbox, config.mailbox.kind == "imap"),
                 ("outbound", config.outbound, config.outbound.kind == "smtp")]
        for section, values, logs_in in sides:
            if logs_in and values.auth == "oauth2":
                with contextlib.suppress(TokenUnavailable):  # said where the token is used
                    shared_token_source(settings_for(values, config.resolve_path), section).token()

    def pipeline(self) -> Pipeline:
        from intake.pipeline import Pipeline
        from triage.engine import triage_path

        return Pipeline(self.config, self.sessions, self.storage, worker_id=self.worker_id, stop=self.stop,
                        triage=self.triage or triage_path)

    def close(self) -> None:
        self.engine.dispose()


def open_services(config: Config, upgrade: bool | None = None) -> Services:
    """Connect to the database (migrating it when configured to) and set up storage.

    Raises sqlalchemy errors when the database is unreachable: the caller reports them.
    """
    engine = db.make_engine(config.database_url)
    if config.database.upgrade_on_start if upgrade is None else upgrade:
        db.upgrade(engine)
    storage = Storage(config.resolve_path(config.storage.path))
    storage.root.mkdir(parents=True, exist_ok=True)
    return Services(config=config, engine=engine, sessions=db.session_factory(engine), storage=storage,
                    health=Health.for_config(config))


@dataclass
class CycleResult:
    intake: CycleStats
    replies: SendStats
    finished_at: datetime


def take_mail(services: Services) -> CycleStats:
    """Take new mail into the database; raises MailboxError when the mailbox fails (LoginRefused, and
    its TokenRefused, when an operator must act, also for the `[outbound]` token)."""
    services.tokens_ready()
    with services.mail_source() as source:
        return services.pipeline().run_cycle(source)


def send_replies(services: Services) -> SendStats:
    """Queue the maintenance reminders due today and the due-date reminders QA's requests for
    documents need, then send what the outbox holds that is due (a decision's email once its time to
    undo is over)."""
    from intake.cases.commands import queue_due_reminders
    from intake.sending import send_pending

    if services.config.registers.maintenance_reminders:
        from intake.registers.reminders import queue_reminders

        queue_reminders(services.sessions, services.config, utcnow().date())
    if services.config.qa.reminder_days_before_due > 0:
        with services.sessions.begin() as session:
            queue_due_reminders(session, services.config.outbound, services.config.qa.reminder_days_before_due,
                                utcnow().date())
    return send_pending(services.sessions, services.transport(), services.config.outbound,
                        worker_id=services.worker_id)


def poll_cycle(services: Services) -> CycleResult:
    """One full cycle (`secor-intake poll`): take new mail, then send pending replies.

    Records the outcome in the health file; re-raises what stopped the cycle.
    """
    try:
        stats = take_mail(services)
        replies = send_replies(services)
        services.health.record_sending(replies.sent, replies.last_error)
    except Exception as exc:
        services.health.record_failure(services.sessions, f"{type(exc).__name__}: {exc}")
        raise
    services.health.record_success(services.sessions)
    log.info("cycle: %d seen %s, %d copies, %d failed, %d abandoned; replies: %d sent, %d deferred, %d failed",
             stats.seen, stats.outcomes or "{}", stats.duplicates, stats.failed, stats.abandoned,
             replies.sent, replies.deferred, replies.failed)
    return CycleResult(intake=stats, replies=replies, finished_at=utcnow())
