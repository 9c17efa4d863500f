"""One intake cycle: every new email in the inbox to exactly one recorded outcome.

The order of work for one message is what makes a crash at any point safe:

1. claim: a `message` row keyed on (account, folder, UIDVALIDITY, UID) is committed before any slow
   work; a second daemon's INSERT of the same key fails, so it never processes the same email;
2. fetch the raw bytes into scratch space, hash them, and recognise a re-delivered copy by its
   Message-ID and sha256;
3. parse and classify, then the first handler of intake.outcomes that applies does its slow work
   (fetch links, triage): no database writes, nothing visible to anyone;
4. one transaction records what the handler writes (a case or version with its documents and
   findings and the reply in the outbox; correspondence; an ignored email) and the message's
   outcome (state "done"), unless another row recorded the same email first (a copy);
5. after the commit, the files are filed under storage and the email is moved to its outcome
   folder; both steps are idempotent and redone from the database after a crash.

A crash before 4 leaves a claim whose process is gone: the next cycle takes it again. A crash after
4 leaves a "done" row not yet moved: the next cycle files and moves it. Replies leave through the
outbox (intake.sending.send_pending), never from here.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Callable, TypeVar

from sqlalchemy import ColumnElement, and_, false, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake import authresults, disposition, outcomes
from intake import message as email_parser
from intake.authresults import AuthResults
from intake.backoff import backoff
from intake.cases.layout import (
    Storage,
    kept_files,
    parts_dir,
    scratch_email,
)
from intake.claims import claim_is_stale, hold, holding, let_go, worker_identity
from intake.clock import utcnow
from intake.config import Config
from intake.db import FolderProgress, InboxMessage, Version, changed_rows
from intake.faults import crash_point
from intake.mailbox.base import MailboxError, MailSource, MessageRef
from intake.outcomes import LinkStillUnavailable
from intake.scan import ScannerUnavailable
from intake.states import MessageState
from triage.engine import triage_path
from triage.report import Report

log = logging.getLogger("secor_intake.pipeline")

CLAIM_LEASE = timedelta(minutes=30)  # a claim by another host is taken over after this long
MAX_RETRY_DELAY = timedelta(hours=1)  # a failing message is tried at least hourly until max_attempts
CONTENT_LOCK_SPACE = 0x5EC0  # first key of pg_advisory_xact_lock(int, int) for "one email's content"


@dataclass
class CycleStats:
    seen: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # processed / returned / ignored / too_large
    duplicates: int = 0
    failed: int = 0
    abandoned: int = 0
    moved: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)  # versions filed, by triage verdict (metrics)

    def count(self, outcome: str) -> None:
        key = str(outcome)  # the value of a MessageOutcome: plain in logs and JSON
        self.outcomes[key] = self.outcomes.get(key, 0) + 1


class _HashingWriter:
    """A file wrapper that hashes what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)


def _key(account: str, ref: MessageRef) -> ColumnElement[bool]:
    """The message row of `ref`: (account, folder, UIDVALIDITY, UID) is unique."""
    return and_(InboxMessage.account == account, InboxMessage.folder == ref.folder,
                InboxMessage.uidvalidity == ref.uidvalidity, InboxMessage.uid == ref.uid)


def _uid_key(uid: str) -> tuple[int, str]:
    return (int(uid), "") if uid.isdigit() else (0, uid)


class Pipeline:
    """Takes mail from one MailSource into the tracking database and storage."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], storage: Storage,
                 worker_id: str | None = None, stop: threading.Event | None = None,
                 clock: Callable[[], datetime] = utcnow, triage: Callable[..., Report] = triage_path) -> None:
        self.config = config
        self.sessions = sessions
        self.storage = storage
        self.worker_id = worker_id or worker_identity()
        self.stop = stop or threading.Event()
        self.clock = clock
        self.context = outcomes.Context(config, sessions, storage, clock, triage)  # what the handlers see

    # -- the cycle ----------------------------------------------------------------------------

    def run_cycle(self, source: MailSource) -> CycleStats:
        """Take every new or due message of the inbox folder; raises MailboxError if the server fails."""
        stats = CycleStats()
        folder = self.config.mailbox.folder
        state = source.folder_state(folder)
        progress = self._folder_progress(source.account, folder, state.uidvalidity)
        refs = {ref.uid: ref for ref in source.list_messages(folder, after_uid=progress.last_uid)}
        for ref in self._pending_refs(source.account, folder, state.uidvalidity):
            refs.setdefault(ref.uid, ref)
        for uid in sorted(refs, key=_uid_key):
            if self.stop.is_set():
                log.info("stop requested: leaving the rest of the inbox for the next cycle")
                break
            stats.seen += 1
            self.handle(source, refs[uid], progress, stats)
            self._advance(progress.id, uid)
        return stats

    def _folder_progress(self, account: str, folder: str, uidvalidity: str) -> FolderProgress:
        """The folder's progress row; a changed UIDVALIDITY means re-scan everything, deduplicating."""
        with self.sessions.begin() as session:
            row = session.scalar(select(FolderProgress).where(FolderProgress.account == account, FolderProgress.folder == folder))
            if row is None:
                row = FolderProgress(account=account, folder=folder, uidvalidity=uidvalidity, last_uid=None,
                                     first_seen_at=self.clock())
                try:
                    with session.begin_nested():
                        session.add(row)
                except IntegrityError:  # another daemon met the folder at the same moment
                    return self._folder_progress(account, folder, uidvalidity)
                log.info("first look at %s %s: mail older than %s h is filed without a reply",
                         account, folder, self.config.mailbox.backlog_grace_hours)
            elif row.uidvalidity != uidvalidity:
                log.warning("UIDVALIDITY of %s changed (%s -> %s): re-scanning, copies already seen are recognised by content",
                            folder, row.uidvalidity, uidvalidity)
                # Unfinished rows under the old numbering can never be fetched again; their emails come
                # back under new UIDs, so the old rows are closed rather than retried for ever.
                session.execute(update(InboxMessage).where(
                    InboxMessage.account == account, InboxMessage.folder == folder, InboxMessage.uidvalidity == row.uidvalidity,
                    InboxMessage.state.in_((MessageState.CLAIMED, MessageState.FAILED))).values(
                    state=MessageState.DONE, outcome=None, moved=True, claimed_by=None,
                    last_error=f"superseded: UIDVALIDITY changed to {uidvalidity}; the email is taken again under its new UID"))
                row.uidvalidity = uidvalidity
                row.last_uid = None
        return row

    def _advance(self, progress_id: int, uid: str) -> None:
        if not uid.isdigit():
            return  # Maildir keys have no order; every listing is complete anyway
        with self.sessions.begin() as session:
            row = _row(session, FolderProgress, progress_id)
            if row.last_uid is None or int(uid) > int(row.last_uid):
                row.last_uid = uid

    def _pending_refs(self, account: str, folder: str, uidvalidity: str) -> list[MessageRef]:
        """Messages seen before that still need work: due retries, abandoned claims, unmoved outcomes."""
        now = self.clock()
        with self.sessions() as session:
            rows = session.scalars(select(InboxMessage).where(
                InboxMessage.account == account, InboxMessage.folder == folder, InboxMessage.uidvalidity == uidvalidity,
                InboxMessage.state.in_((MessageState.CLAIMED, MessageState.FAILED))
                | (InboxMessage.moved == false()))).all()  # both indexed
        refs = []
        for row in rows:
            if row.state == MessageState.FAILED and row.next_attempt_at and row.next_attempt_at > now:
                continue
            refs.append(MessageRef(folder=folder, uidvalidity=uidvalidity, uid=row.uid, size=row.size,
                                   internal_date=row.received_at, message_id=row.message_id))
        return refs

    # -- one message --------------------------------------------------------------------------

    def handle(self, source: MailSource, ref: MessageRef, progress: FolderProgress, stats: CycleStats) -> None:
        """Bring one message to its recorded outcome (or to a recorded failure)."""
        row_id = self._claim(source.account, ref)
        crash_point("claimed")
        if row_id is None:
            self._finish_done(source, ref, stats)
            return
        try:
            with self.sessions() as session:
                attempts = _row(session, InboxMessage, row_id).attempts
            if attempts > self.config.processing.max_attempts:
                self._abandon(row_id, "gave up after %d attempts" % (attempts - 1))
                stats.abandoned += 1
            else:
                self._process(source, ref, row_id, progress, stats)
        except MailboxError:
            self._release(row_id)
            raise
        except (LinkStillUnavailable, ScannerUnavailable) as exc:  # not the email's fault: attempts not counted
            self._retry_later(row_id, str(exc), count_attempt=False)
            stats.failed += 1
        except Exception as exc:  # one bad message never blocks the ones after it
            log.exception("message uid=%s failed", ref.uid)
            # A full disk is not the email's fault: it is retried for as long as it lasts.
            its_own_fault = not (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))
            self._retry_later(row_id, f"{type(exc).__name__}: {exc}", count_attempt=its_own_fault)
            stats.failed += 1
        finally:
            # Also when the failure could not be recorded (the database went away): the claim is
            # then no longer held by any thread here, and the next cycle takes the message again.
            let_go("message", row_id)
        self._finish_done(source, ref, stats)

    def _claim(self, account: str, ref: MessageRef) -> int | None:
        """The message row's id when this worker may process it now (held, see intake.claims), else None."""
        now = self.clock()
        with self.sessions() as session:
            row = session.scalar(select(InboxMessage).where(_key(account, ref)))
            if row is None:
                row = InboxMessage(account=account, folder=ref.folder, uidvalidity=ref.uidvalidity, uid=ref.uid,
                                   message_id=ref.message_id, size=ref.size, received_at=ref.internal_date,
                                   state=MessageState.CLAIMED, attempts=1, claimed_by=self.worker_id, claimed_at=now)
                session.add(row)
                try:
                    session.flush()
                except IntegrityError:
                    return None  # another daemon claimed it first
                return self._held_after_commit(session, row.id)
            if row.state in (MessageState.DONE, MessageState.ABANDONED):
                return None
            if row.state == MessageState.CLAIMED and not claim_is_stale(row.claimed_by, row.claimed_at, now,
                                                                        CLAIM_LEASE, ("message", row.id)):
                return None
            if row.state == MessageState.FAILED and row.next_attempt_at is not None and row.next_attempt_at > now:
                return None
            # Compare-and-set: only one worker takes over a stale claim or a due retry.
            taken = session.execute(update(InboxMessage).where(
                InboxMessage.id == row.id, InboxMessage.state == row.state,
                InboxMessage.claimed_by.is_not_distinct_from(row.claimed_by)).values(
                state=MessageState.CLAIMED, attempts=InboxMessage.attempts + 1, claimed_by=self.worker_id, claimed_at=now))
            if changed_rows(taken) != 1:
                session.rollback()
                return None
            if row.state == MessageState.CLAIMED:
                log.warning("message uid=%s: taking over the claim of %s (gone)", ref.uid, row.claimed_by)
            return self._held_after_commit(session, row.id)

    @staticmethod
    def _held_after_commit(session: Session, row_id: int) -> int:
        """Commit a claim on `row_id`, held from before the commit so no thread here sees it unheld."""
        hold("message", row_id)
        try:
            session.commit()
        except BaseException:
            let_go("message", row_id)
            raise
        return row_id

    def _process(self, source: MailSource, ref: MessageRef, row_id: int, progress: FolderProgress,
                 stats: CycleStats) -> None:
        email = self._fetch(source, ref, row_id, progress, stats)
        if email is None:
            return  # a copy of an email already handled
        handler = outcomes.handler_for(email)
        prepared = handler.prepare(self.context, email)

        summaries: list[str] = []
        verdicts: list[str] = []

        def record(session: Session, row: InboxMessage) -> None:
            outcome, summary = handler.record(self.context, session, row, email, prepared)
            row.state, row.outcome = MessageState.DONE, outcome
            summaries.append(summary)
            if row.version is not None:
                verdicts.append(row.version.verdict)

        row = self._settle(row_id, email.parsed, email.sha256, email.auth, stats, record)
        if row is None:
            return
        crash_point("recorded")
        for verdict in verdicts:
            stats.verdicts[verdict] = stats.verdicts.get(verdict, 0) + 1
        handler.finish(self.context, row, email)
        assert row.outcome is not None, "record() sets the outcome"
        stats.count(row.outcome)
        log.info("%s", summaries[0])

    def _fetch(self, source: MailSource, ref: MessageRef, row_id: int, progress: FolderProgress,
               stats: CycleStats) -> outcomes.Incoming | None:
        """The email in scratch space, parsed and classified; None when it is a copy of one already handled."""
        workdir = self.storage.workdir(row_id)
        limits = self.config.limits
        backlog = self._is_backlog(ref, progress)
        if ref.size > limits.max_message_bytes:
            header = source.fetch_header(ref)
            parsed = email_parser.parse_message(header, parts_dir(workdir), 0)
            scratch_email(workdir).write_bytes(header)  # filed as the case's email: the header is all we took
            # The header's hash stands for the email's: a byte-identical copy has the same header.
            return outcomes.Incoming(ref, parsed, hashlib.sha256(header).hexdigest(), workdir, too_large=True,
                                     kind=None, case_number=None, backlog=backlog, auth=self._auth(parsed))
        raw_path = scratch_email(workdir)
        with raw_path.open("wb") as out:
            writer = _HashingWriter(out)
            source.fetch(ref, writer, limits.max_message_bytes)  # type: ignore[arg-type]
        sha256 = writer.digest.hexdigest()
        crash_point("fetched")
        parsed = email_parser.parse_message(raw_path, parts_dir(workdir), limits.max_message_bytes)
        auth = self._auth(parsed)
        if self._settle(row_id, parsed, sha256, auth, stats, None) is None:
            return None
        case_number, claimed = outcomes.known_case(self.context, parsed, auth)
        kind = disposition.classify(parsed, case_known=case_number is not None)
        if kind != disposition.FOLLOW_UP:
            case_number = None  # automatic mail, or no usable sender: not the case's correspondence
        return outcomes.Incoming(ref, parsed, sha256, workdir, too_large=False, kind=kind, case_number=case_number,
                                 backlog=backlog, auth=auth, claimed_case=claimed)

    def _is_backlog(self, ref: MessageRef, progress: FolderProgress) -> bool:
        """Mail that arrived well before the daemon first saw the folder: filed without a reply."""
        grace = timedelta(hours=self.config.mailbox.backlog_grace_hours)
        return ref.internal_date < progress.first_seen_at - grace

    # -- recording outcomes -------------------------------------------------------------------

    def _own_row(self, session: Session, row_id: int) -> InboxMessage:
        """The claimed row, locked for this transaction; raises if another worker took it over."""
        row = session.scalar(select(InboxMessage).where(InboxMessage.id == row_id).with_for_update())
        if row is None or row.state != MessageState.CLAIMED or row.claimed_by != self.worker_id:
            raise RuntimeError(f"message row {row_id} is no longer claimed by this worker")
        return row

    def _settle(self, row_id: int, parsed: email_parser.ParsedMessage, sha256: str, auth: AuthResults | None,
                stats: CycleStats, record: Callable[[Session, InboxMessage], None] | None) -> InboxMessage | None:
        """Record this email's outcome with `record` in one transaction, unless it is a copy.

        A copy (same Message-ID and sha256 as an email another row already recorded: a re-delivery, a
        renumbered folder, or the same email in two UIDs that two workers took at once) is recorded
        as a copy of that row instead: no case, no reply. The check and the write happen under a lock
        on the content that every worker takes, so of two copies in flight exactly one is recorded
        and the other finds it. With `record` None only the check runs (early, before slow work).
        Returns the row, or None when the email was recorded as a copy.
        """
        with self.sessions.begin() as session:
            self._lock_content(session, sha256)
            row = self._own_row(session, row_id)
            original = self._recorded_original(session, row, parsed.message_id or row.message_id, sha256)
            if original is None:
                self._describe(row, parsed, sha256, auth)
                if record is not None:
                    record(session, row)
            else:
                row.state, row.outcome, row.sha256 = MessageState.DONE, original.outcome, sha256
                row.submission_id, row.message_id = original.submission_id, original.message_id
                row.last_error = f"copy of message row {original.id}"
        if original is None:
            return row
        self.storage.discard_workdir(row_id)
        stats.duplicates += 1
        log.info("uid=%s is a copy of an email already handled (message row %d): no new case, no reply",
                 row.uid, original.id)
        return None

    @staticmethod
    def _lock_content(session: Session, sha256: str) -> None:
        """Make workers take turns at recording emails with this content (held until commit).

        PostgreSQL: a transaction-scoped advisory lock keyed on the hash. SQLite: every transaction
        begins IMMEDIATE (intake.db), so writers already take turns.
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                            {"space": CONTENT_LOCK_SPACE, "key": int(sha256[:8], 16) - 2 ** 31})

    @staticmethod
    def _recorded_original(session: Session, row: InboxMessage, message_id: str | None, sha256: str) -> InboxMessage | None:
        """The first other row that recorded an outcome for the same email, if any."""
        query = select(InboxMessage).where(InboxMessage.sha256 == sha256, InboxMessage.id != row.id,
                                      InboxMessage.state == MessageState.DONE,
                                      InboxMessage.outcome.is_not(None))  # not a row closed by a UIDVALIDITY change
        if message_id:
            query = query.where(InboxMessage.message_id == message_id)
        return session.scalars(query.order_by(InboxMessage.id).limit(1)).first()

    def _auth(self, parsed: email_parser.ParsedMessage) -> AuthResults | None:
        """What our own mail server's Authentication-Results say of this email (read once per email)."""
        return authresults.from_headers(parsed.headers, self.config.mailbox.authserv_id)

    @staticmethod
    def _describe(row: InboxMessage, parsed: email_parser.ParsedMessage, sha256: str,
                  auth: AuthResults | None) -> None:
        if auth is not None:
            row.spf, row.dkim, row.dmarc = auth.spf, auth.dkim, auth.dmarc
        row.sender = parsed.sender
        row.subject = parsed.subject
        row.message_id = parsed.message_id or row.message_id
        row.sha256 = sha256

    # -- failures -----------------------------------------------------------------------------

    def _retry_later(self, row_id: int, error: str, count_attempt: bool) -> None:
        processing = self.config.processing
        with self.sessions.begin() as session:
            row = _row(session, InboxMessage, row_id)
            if not self._still_ours(row, error):
                return
            self.storage.discard_workdir(row_id)  # a retry starts afresh: nothing in it is reused
            if not count_attempt:
                row.attempts -= 1
            delay = backoff(processing.retry_base_seconds, row.attempts, MAX_RETRY_DELAY)
            row.state, row.last_error, row.claimed_by = MessageState.FAILED, error[:4000], None
            row.next_attempt_at = self.clock() + delay
        log.warning("message row %d failed (%s); retry after %.0f s", row_id, error, delay.total_seconds())

    def _still_ours(self, row: InboxMessage, error: str) -> bool:
        """Whether this worker still holds the row it failed on: another one may have closed it
        meanwhile (a UIDVALIDITY change), and a closed row must stay closed."""
        if row.state == MessageState.CLAIMED and row.claimed_by == self.worker_id:
            return True
        log.warning("message row %d failed (%s) after it was closed elsewhere (%s); left as it is",
                    row.id, error, row.last_error)
        return False

    def _release(self, row_id: int) -> None:
        """Give a claim back untouched (the mailbox failed, or a stop was requested)."""
        with self.sessions.begin() as session:
            row = _row(session, InboxMessage, row_id)
            if row.state == MessageState.CLAIMED and row.claimed_by == self.worker_id:
                row.state, row.claimed_by, row.next_attempt_at = MessageState.FAILED, None, self.clock()
                row.attempts -= 1
                row.last_error = "released: the mailbox connection failed"

    def _abandon(self, row_id: int, reason: str) -> None:
        with self.sessions.begin() as session:
            row = _row(session, InboxMessage, row_id)
            if not self._still_ours(row, reason):
                return
            row.state = MessageState.ABANDONED
            row.last_error = f"{reason}; last error: {row.last_error}"
        self.storage.discard_workdir(row_id)
        log.error("message row %d left for a person in %s: %s", row_id, self.config.mailbox.failed_folder, reason)

    # -- after the commit ---------------------------------------------------------------------

    def _finish_done(self, source: MailSource, ref: MessageRef, stats: CycleStats) -> None:
        """File a recorded version's files and move the email to its outcome folder (idempotent).

        A recorded row stays claimed by the worker that recorded it until it is moved, so only that
        worker finishes it, or another one once that worker is gone.
        """
        with self.sessions() as session:
            row_id = session.scalar(select(InboxMessage.id).where(
                _key(source.account, ref), InboxMessage.moved == false(),
                InboxMessage.state.in_((MessageState.DONE, MessageState.ABANDONED))))
        if row_id is None:
            return
        with holding("message", row_id):
            self._move_to_outcome(source, ref, row_id, stats)

    def _move_to_outcome(self, source: MailSource, ref: MessageRef, row_id: int, stats: CycleStats) -> None:
        now = self.clock()
        with self.sessions() as session:
            row = _row(session, InboxMessage, row_id)
            if row.moved:
                return
            if row.claimed_by != self.worker_id:
                if not claim_is_stale(row.claimed_by, row.claimed_at, now, CLAIM_LEASE, ("message", row.id)):
                    return  # its worker is alive and finishes it
                taken = session.execute(update(InboxMessage).where(
                    InboxMessage.id == row.id, InboxMessage.moved == false(),
                    InboxMessage.claimed_by.is_not_distinct_from(row.claimed_by)).values(
                    claimed_by=self.worker_id, claimed_at=now))
                session.commit()
                if changed_rows(taken) != 1:
                    return
            version = row.version
            target = outcomes.outcome_folder(self.config.mailbox, row)
        if version is not None and version.storage_path:
            self._file(row_id, version)
        crash_point("filed")
        source.move(ref, target)
        crash_point("moved")
        with self.sessions.begin() as session:
            moved = _row(session, InboxMessage, row_id)
            moved.moved, moved.claimed_by = True, None
        stats.moved += 1

    def _file(self, row_id: int, version: Version) -> None:
        workdir = self.storage.scratch(row_id)
        if not workdir.exists():
            return  # filed by an earlier run, which removes the scratch folder last
        files = kept_files(workdir)
        # Only a version with a storage path is filed, and record_version always stores a report.
        assert version.storage_path is not None and version.report is not None
        self.storage.file_version(self.storage.path_of(version.storage_path), scratch_email(workdir),
                                  files if files.is_dir() else None, Report.from_dict(version.report))
        self.storage.discard_workdir(row_id)


_Row = TypeVar("_Row", InboxMessage, FolderProgress)


def _row(session: Session, model: type[_Row], row_id: int) -> _Row:
    """The row `row_id` of `model`, which the caller created or holds: rows are never deleted."""
    row = session.get(model, row_id)
    if row is None:
        raise LookupError(f"{model.__name__} row {row_id} is gone")
    return row
