"""The tracking database: SQLAlchemy 2 models, engine set-up and programmatic migrations.

Every datetime is timezone-aware UTC on every backend. The schema is created and migrated only by
Alembic (`upgrade`); `intake/migrations/versions/` holds the migrations, and a test checks that the
migrated schema equals these models.

Tables, in the order a message flows through them:
- `folder_state`: per mailbox folder, the UIDVALIDITY and last UID taken (the lead's progress mark);
- `message`: one row per email seen, the claim that makes processing at-most-once per email;
- `submission`: one case with one tracking number; `submission_version`: each email that adds to it,
  with its `document` and `finding` rows;
- `reply`: the outbox, written in the same transaction as the version it acknowledges;
- `tracking_counter`: the last tracking number handed out per year;
- the QA workbench's: `web_user`, `web_session`, `sign_in_attempt`, `decision` (QA's decision beside
  the triage verdict, never over it), `case_note`, and the append-only `audit_entry`.
- `company` and `company_case`: cases of one WCB account form one company (intake.cases.company).
- the association's registers (intake.registers): `register_member`, `register_training`,
  `register_certificate`, each replaced whole by an import recorded in `register_import`; and
  `maintenance_reminder`, one per certificate and maintenance year.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from sqlalchemy.types import JSON

from intake.clock import utcnow
from intake.states import MessageOutcome, MessageState, QADecision, QAState, ReplyStatus
from triage.report import Report

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import Connection

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_PATH = Path(__file__).parent / "migrations"
MIGRATION_LOCK_ID = 0x5EC0_1A7E  # pg_advisory_xact_lock key held while migrating

MESSAGE_STATES = tuple(MessageState)
MESSAGE_OUTCOMES = tuple(MessageOutcome)
SUBMISSION_STATUSES = ("open", "awaiting_link", "closed")
REPLY_STATUSES = tuple(ReplyStatus)
QA_STATES = tuple(QAState)
QA_DECISIONS = tuple(QADecision)
USER_ROLES = ("analyst", "admin")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no zone, so values are stored as naive UTC and given
    their zone back on load. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the database stores aware UTC datetimes only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _check_in(column: str, values: tuple[str, ...], nullable: bool = False) -> str:
    """SQL for a CHECK that `column` holds one of `values` (or NULL when nullable)."""
    listed = ", ".join(f"'{v}'" for v in values)
    clause = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {clause}" if nullable else clause


# Named constraints so that migrations and models agree on names on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class FolderProgress(Base):
    """Per mailbox folder: the UIDVALIDITY seen and the last UID taken (kept by the pipeline)."""

    __tablename__ = "folder_state"
    __table_args__ = (UniqueConstraint("account", "folder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(500))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[str] = mapped_column(String(64))
    last_uid: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrackingCounter(Base):
    """The last tracking number handed out per year (see intake.cases.tracking)."""

    __tablename__ = "tracking_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class InboxMessage(Base):
    """One email seen in the mailbox: the claim row that makes processing happen once per email."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid"),
        CheckConstraint(_check_in("state", MESSAGE_STATES), name="state"),
        CheckConstraint(_check_in("outcome", MESSAGE_OUTCOMES, nullable=True), name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(500))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[str] = mapped_column(String(64))
    uid: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)  # the email's Message-ID
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # of the raw bytes, once fetched
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    # Indexed, as `moved` is: the cycle's look for unfinished work and the health counts must not
    # read every message ever processed (issue 5: polling cost does not grow with history).
    state: Mapped[str] = mapped_column(String(16), default="claimed", index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # which outcome folder it belongs in
    moved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # moved to that folder yet
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    # use_alter: message and submission_version refer to each other.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("submission_version.id", use_alter=True), index=True)
    raw_path: Mapped[str | None] = mapped_column(String(1000))
    # What our own mail server's Authentication-Results said (intake.authresults); NULL: nothing.
    spf: Mapped[str | None] = mapped_column(String(16))
    dkim: Mapped[str | None] = mapped_column(String(16))
    dmarc: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    submission: Mapped[Case | None] = relationship(foreign_keys=[submission_id])
    version: Mapped[Version | None] = relationship(foreign_keys=[version_id], post_update=True)


class Case(Base):
    """One case: one submitter, one tracking number, one or more versions."""

    __tablename__ = "submission"
    __table_args__ = (CheckConstraint(_check_in("status", SUBMISSION_STATUSES), name="status"),
                      CheckConstraint(_check_in("qa_state", QA_STATES), name="qa_state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    submitter: Mapped[str] = mapped_column(String(320))  # email address
    submitter_name: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    verdict: Mapped[str | None] = mapped_column(String(16))  # the latest version's
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # QA's side of the case (the workbench), beside the triage verdict: its state, since when the case
    # has waited in that state (the queue's age), and who works it.
    qa_state: Mapped[str] = mapped_column(String(24), default=QAState.NEW.value, server_default=QAState.NEW.value,
                                          index=True)
    qa_since: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("web_user.id"), index=True)
    # Request documents' due date while the case awaits them (cleared by a new version or decision).
    qa_due_on: Mapped[date | None] = mapped_column(Date)
    # Addresses QA allowed to speak for the case besides its submitter (lower case); None: none.
    correspondents: Mapped[list[str] | None] = mapped_column(JSON)

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    versions: Mapped[list[Version]] = relationship(back_populates="submission", order_by="Version.number")
    replies: Mapped[list[Reply]] = relationship(back_populates="submission", order_by="Reply.id")


class Version(Base):
    """One email that adds to a case: the first submission (number 1) or a follow-up (2, 3, ...)."""

    __tablename__ = "submission_version"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)  # message.id, not a header
    verdict: Mapped[str] = mapped_column(String(16))
    source_kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str | None] = mapped_column(String(1000))
    source_url: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None]  # Report.to_dict()
    storage_path: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Case] = relationship(back_populates="versions")
    message: Mapped[InboxMessage] = relationship(foreign_keys=[message_id])
    documents: Mapped[list[StoredDocument]] = relationship(back_populates="version", order_by="StoredDocument.id")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="version", order_by="FindingRow.id")
    reply: Mapped[Reply | None] = relationship(back_populates="version")


class StoredDocument(Base):
    """One extracted document of a version."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(200))
    element: Mapped[str | None] = mapped_column(String(16))

    version: Mapped[Version] = relationship(back_populates="documents")


class FindingRow(Base):
    """One finding of a version's triage."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)

    version: Mapped[Version] = relationship(back_populates="findings")


class Reply(Base):
    """The outbox: one outgoing email, rendered once at creation so that a resend is byte-identical."""

    __tablename__ = "reply"
    __table_args__ = (
        CheckConstraint(_check_in("status", REPLY_STATUSES), name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    # At most one acknowledgement per version, and at most one reply per incoming email.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("submission_version.id"), unique=True)
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))  # bare address, lower-cased
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)  # our Message-ID header, "<...>"
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # the complete RFC 822 message, CRLF line ends
    status: Mapped[str] = mapped_column(String(16), default="pending")
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]  # when a sender set "sending"; stale claims are retried
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # the sender's worker identity
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Case | None] = relationship(back_populates="replies")
    version: Mapped[Version | None] = relationship(back_populates="reply")
    source_message: Mapped[InboxMessage | None] = relationship(foreign_keys=[source_message_id])


class User(Base):
    """A workbench account (`secor-intake user ...`); the password is an argon2id hash."""

    __tablename__ = "web_user"
    __table_args__ = (CheckConstraint(_check_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    flash: Mapped[dict[str, str] | None] = mapped_column(JSON)  # {"error"|"notice": text} for the next page

    user: Mapped[User] = relationship()


class SignInAttempt(Base):
    """A failed sign-in, by user name and address: what the sign-in rate limit counts."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index(None, "username", "at"), Index(None, "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Decision(Base):
    """QA's decision on a case, beside the triage verdict. One per (case, sequence): two analysts
    deciding from the same page, or one form sent twice, record one decision and queue one email."""

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("submission_id", "sequence"),
                      CheckConstraint(_check_in("decision", QA_DECISIONS), name="decision"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"))  # the version decided on
    sequence: Mapped[int] = mapped_column(Integer)  # 1 for the case's first decision, 2...
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    decision: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[dict[str, Any]]  # {"findings": [...], "qa": [...], "elements": [...], "due": "YYYY-MM-DD"}
    decided_by: Mapped[int] = mapped_column(ForeignKey("web_user.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id"))
    # Undo decision: the decision stays (and the audit trail), marked; its held email withdrawn.
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("web_user.id"))
    # Request documents: the one reminder before the due date, once queued.
    reminder_reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id"))

    user: Mapped[User] = relationship(foreign_keys=[decided_by])


class CaseNote(Base):
    """An internal note on a case (never sent to the submitter)."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Who did what when. Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("web_user.id"))
    action: Mapped[str] = mapped_column(String(32))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    detail: Mapped[dict[str, Any] | None]

    user: Mapped[User | None] = relationship()


COMPANY_LINKS = ("tool", "analyst")


class Company(Base):
    """One employer, known by its WCB account number: its cases across the years (intake.cases.company)."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wcb_account: Mapped[str] = mapped_column(String(20), unique=True)
    legal_name: Mapped[str | None] = mapped_column(String(500))  # as the latest tool states it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    cases: Mapped[list[CompanyCase]] = relationship(back_populates="company", order_by="CompanyCase.year")


class CompanyCase(Base):
    """A case's place in a company's record: linked from the tool's WCB account, or by an analyst."""

    __tablename__ = "company_case"
    __table_args__ = (CheckConstraint(_check_in("linked_by", COMPANY_LINKS), name="linked_by"),)

    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), primary_key=True, autoincrement=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the evaluation's year (tool dates, else received)
    purpose: Mapped[str | None] = mapped_column(String(16))  # certification | maintenance | renewal | action_plan
    linked_by: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship(back_populates="cases")
    submission: Mapped[Case] = relationship()


REGISTER_NAMES = ("members", "training", "certificates")


class RegisterImport(Base):
    """One `register import`: which register, from which file (its SHA-256), how many rows, who, when."""

    __tablename__ = "register_import"
    __table_args__ = (CheckConstraint(_check_in("register", REGISTER_NAMES), name="register"),
                      Index(None, "register", "imported_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)  # rows repeating an earlier row, imported once
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberRecord(Base):
    """A membership in the members register (`member_until` NULL: still a member)."""

    __tablename__ = "register_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wcb_account: Mapped[str] = mapped_column(String(10), index=True)  # digits
    legal_name: Mapped[str | None] = mapped_column(String(500))
    member_since: Mapped[date] = mapped_column(Date)
    member_until: Mapped[date | None] = mapped_column(Date)
    line: Mapped[int] = mapped_column(Integer)  # in the imported file


class TrainingRecord(Base):
    """A course completion in the training register; `name_key` is the name as intake.registers.names
    compares it, `wcb_account` the employer at the time (NULL: an external assessor)."""

    __tablename__ = "register_training"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    name_key: Mapped[str] = mapped_column(String(500), index=True)
    wcb_account: Mapped[str | None] = mapped_column(String(10), index=True)
    course: Mapped[str] = mapped_column(String(500))
    completed_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[float | None] = mapped_column(Float)
    line: Mapped[int] = mapped_column(Integer)


class CertificateRecord(Base):
    """A certificate (SECOR or COR) in the certificates register."""

    __tablename__ = "register_certificate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wcb_account: Mapped[str] = mapped_column(String(10), index=True)
    legal_name: Mapped[str | None] = mapped_column(String(500))
    program: Mapped[str] = mapped_column(String(8))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    line: Mapped[int] = mapped_column(Integer)


class MaintenanceReminder(Base):
    """A maintenance reminder queued for one certificate (account and issue date) and one maintenance
    year: the unique key is what makes it never twice (intake.registers.reminders)."""

    __tablename__ = "maintenance_reminder"
    __table_args__ = (UniqueConstraint("wcb_account", "issued_on", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wcb_account: Mapped[str] = mapped_column(String(10))
    issued_on: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(320))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _configure_sqlite(engine: Engine, begin: str = "BEGIN IMMEDIATE") -> None:
    """WAL, foreign keys, a busy time-out, and `begin` (BEGIN IMMEDIATE) for every transaction.

    pysqlite starts transactions lazily and breaks SAVEPOINT; taking over BEGIN fixes both. IMMEDIATE
    takes the write lock at the start, so two threads never deadlock upgrading a read lock (an error
    SQLITE_BUSY that busy_timeout cannot cure); they wait their turn instead. A read-only engine
    (`begin="BEGIN"`, deferred, with `query_only`) never takes the lock: WAL readers never wait.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        if begin != "BEGIN IMMEDIATE":
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL. The switch needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy handler, while another connection is opening a new file: two
    daemons (or threads) starting on one new file retry for as long as busy_timeout would wait."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, busy_timeout and thread-safe settings.

    `read_only`: SQLite transactions begin DEFERRED and refuse writes, so the workbench's page reads
    never queue behind the daemon's writes (PostgreSQL readers never wait anyway).
    A relative SQLite path is taken as given (resolve it first, see Config.database_url); its folder
    is created when missing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, "BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (expire_on_commit off)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration for our migrations, working on `connection` when given."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision: each file in migrations/versions is named after its
    revision (`0004_sender_authentication.py` is "0004"), and they follow one another."""
    return max(path.name.partition("_")[0] for path in (MIGRATIONS_PATH / "versions").glob("[0-9]*_*.py"))


def _at_head(engine: Engine) -> bool:
    """Whether the database already stands at `head_revision()` (False when it has no schema yet)."""
    try:
        with engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except SQLAlchemyError:
        return False
    return found == [head_revision()]


def upgrade(engine_or_url: Engine | str) -> None:
    """Create or migrate the schema to the newest revision (`secor-intake db upgrade`); idempotent.

    A database already at the newest revision is left without loading Alembic (~12% of a short
    command such as `submissions`, which upgrades on start by default)."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        if _at_head(engine):
            return
        from alembic import command

        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two daemons starting together: one migrates, the other waits, then finds it done.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
            command.upgrade(alembic_config(connection), "head")
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def changed_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE changed (its result is a CursorResult): a conditional UPDATE's claim."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def record_version(session: Session, submission: Case, message: InboxMessage, report: Report,
                   storage_path: str | None = None) -> Version:
    """Add the next version of `submission` from `message` and its triage `report`.

    Writes the version, its documents and findings, links the message to it and sets the
    submission's verdict to this version's. Does not commit: the caller queues the reply in the
    same transaction.
    """
    numbers = [v.number for v in submission.versions]
    version = Version(
        submission=submission,
        number=max(numbers, default=0) + 1,
        message=message,
        verdict=report.verdict,
        source_kind=report.source.kind,
        source_name=report.source.name,
        source_url=report.source.url,
        report=report.to_dict(),
        storage_path=storage_path,
    )
    version.documents = [StoredDocument(path=d.path, size=d.size, sha256=d.sha256, mime=d.mime, element=d.element)
                         for d in report.documents]
    version.findings = [FindingRow(code=f.code, severity=f.severity, path=f.path, message=f.message)
                        for f in report.findings]
    session.add(version)
    message.submission = submission
    message.version = version
    submission.verdict = report.verdict
    return version
