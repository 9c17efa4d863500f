"""The registers in the database: an import replaces one register whole, in one transaction, and
look-ups read it.

Atomicity: the old rows are deleted and the new ones inserted in the import's one transaction, so a
reader (the daemon's pipeline, the workbench) sees the old register or the new one, never a mix. Two
imports of one register take turns (PostgreSQL: a table lock that readers do not wait for; SQLite:
every writer's BEGIN IMMEDIATE). Each look-up reads one register in one statement, after asking
whether it was imported at all, so a READ COMMITTED reader meeting an import that commits between two
of its statements still sees each register whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from intake.db import CertificateRecord, MaintenanceReminder, MemberRecord, RegisterImport, Reply, TrainingRecord
from intake.registers.csvfile import Problem, RegisterFile
from intake.registers.names import name_key, possible_match, search_words

MODELS: dict[str, type[MemberRecord] | type[TrainingRecord] | type[CertificateRecord]] = {
    "members": MemberRecord, "training": TrainingRecord, "certificates": CertificateRecord}
INSERT_BATCH = 1000  # rows per INSERT: memory stays bounded whatever the file's size


class BadRows(Exception):
    """The file has bad rows: nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len({p.line for p in problems})} bad rows")
        self.problems = problems


@dataclass(frozen=True)
class Imported:
    record: RegisterImport
    duplicate_lines: list[int]


def import_register(sessions: sessionmaker[Session], register_file: RegisterFile, file_name: str,
                    imported_by: str) -> Imported:
    """Replace the register with the file's rows, all or nothing. Raises BadRows (naming every bad row)
    or RegisterFileError; in both cases the transaction is rolled back and the register is unchanged."""
    register = register_file.layout.register
    model = MODELS[register]
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Conflicts with itself (another import) and with writers, not with readers' ACCESS SHARE.
            session.execute(text(f"LOCK TABLE {model.__tablename__} IN SHARE ROW EXCLUSIVE MODE"))
        session.execute(delete(model))
        batch: list[dict[str, Any]] = []
        count = 0
        for row in register_file.rows():
            if register_file.problems:
                continue  # keep reading only to name every bad row; nothing will be kept
            batch.append(_record(register, row))
            count += 1
            if len(batch) >= INSERT_BATCH:
                session.execute(insert(model), batch)
                batch.clear()
        if register_file.problems:
            raise BadRows(register_file.problems)
        if batch:
            session.execute(insert(model), batch)
        record = RegisterImport(register=register, file_name=file_name, sha256=register_file.sha256, rows=count,
                                duplicates=len(register_file.duplicates), imported_by=imported_by)
        session.add(record)
    return Imported(record, register_file.duplicates)


def _record(register: str, row: dict[str, Any]) -> dict[str, Any]:
    values = dict(row)
    if register == "training":
        values["name_key"] = name_key(row["name"])
    return values


# -- look-ups ---------------------------------------------------------------------------------------


def last_import(session: Session, register: str) -> RegisterImport | None:
    """The register's newest import, None when it was never imported (then it decides nothing)."""
    return session.scalars(select(RegisterImport).where(RegisterImport.register == register)
                           .order_by(RegisterImport.imported_at.desc(), RegisterImport.id.desc()).limit(1)).first()


def memberships(session: Session, account: str) -> list[MemberRecord]:
    return list(session.scalars(select(MemberRecord).where(MemberRecord.wcb_account == account)
                                .order_by(MemberRecord.member_since, MemberRecord.id)))


def certificates(session: Session, account: str) -> list[CertificateRecord]:
    return list(session.scalars(select(CertificateRecord).where(CertificateRecord.wcb_account == account)
                                .order_by(CertificateRecord.issued_on, CertificateRecord.id)))


def training_of_account(session: Session, account: str) -> list[TrainingRecord]:
    return list(session.scalars(select(TrainingRecord).where(TrainingRecord.wcb_account == account)
                                .order_by(TrainingRecord.completed_on, TrainingRecord.id)))


@dataclass(frozen=True)
class PersonTraining:
    same: list[TrainingRecord]  # the same name (case, accents, punctuation, order aside)
    possible: list[TrainingRecord]  # names that may be the same person (`T. Nguyen`): for QA to judge


def training_of_person(session: Session, name: str) -> PersonTraining:
    """The courses of the person `name`, and of people who may be that person, in one statement."""
    key = name_key(name)
    if not key:
        return PersonTraining([], [])
    candidates = [TrainingRecord.name_key == key]
    candidates += [TrainingRecord.name_key.like(f"%{word}%") for word in search_words(name)]
    rows = list(session.scalars(select(TrainingRecord).where(or_(*candidates))
                                .order_by(TrainingRecord.completed_on, TrainingRecord.id)))
    return PersonTraining([r for r in rows if r.name_key == key],
                          [r for r in rows if r.name_key != key and possible_match(name, r.name)])


def accounts_known(session: Session, account: str) -> bool:
    """Whether any register holds a row for `account` (`register show` answers 2 otherwise)."""
    return any(session.scalar(select(model.id).where(model.wcb_account == account).limit(1)) is not None
               for model in MODELS.values())


def import_dict(record: RegisterImport | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"file": record.file_name, "sha256": record.sha256, "rows": record.rows, "duplicates": record.duplicates,
            "imported_by": record.imported_by, "imported_at": record.imported_at.isoformat()}


def member_dict(r: MemberRecord) -> dict[str, Any]:
    return {"legal_name": r.legal_name, "member_since": r.member_since.isoformat(),
            "member_until": r.member_until.isoformat() if r.member_until else None, "line": r.line}


def training_dict(r: TrainingRecord) -> dict[str, Any]:
    return {"name": r.name, "wcb_account": r.wcb_account, "course": r.course,
            "completed_on": r.completed_on.isoformat(), "hours": r.hours, "line": r.line}


def certificate_dict(r: CertificateRecord) -> dict[str, Any]:
    return {"program": r.program, "issued_on": r.issued_on.isoformat(), "expires_on": r.expires_on.isoformat(),
            "legal_name": r.legal_name, "line": r.line}


def certificate_history(session: Session, account: str) -> list[dict[str, Any]] | None:
    """The account's certificates, oldest first; None when the certificates register was never imported."""
    if last_import(session, "certificates") is None:
        return None
    return [certificate_dict(r) for r in certificates(session, account)]


def registered_name(session: Session, account: str) -> str | None:
    """The legal name the certificates register gives the account (its latest certificate's), or None."""
    return session.scalars(select(CertificateRecord.legal_name).where(
        CertificateRecord.wcb_account == account, CertificateRecord.legal_name.is_not(None))
        .order_by(CertificateRecord.issued_on.desc(), CertificateRecord.id.desc()).limit(1)).first()


def certificates_by_account(session: Session) -> dict[str, list[CertificateRecord]]:
    """Every certificate in the register by WCB account, oldest first (the `companies` listing)."""
    out: dict[str, list[CertificateRecord]] = {}
    for row in session.scalars(select(CertificateRecord).order_by(CertificateRecord.issued_on, CertificateRecord.id)):
        out.setdefault(row.wcb_account, []).append(row)
    return out


def certified_years(rows: list[CertificateRecord]) -> list[int]:
    """The years a SECOR was issued: certifications, for what the company submits next."""
    return [r.issued_on.year for r in rows if r.program == "SECOR"]


def reminders_of(session: Session, account: str) -> list[dict[str, Any]]:
    """Who was reminded of which maintenance year (intake.registers.reminders), with the email's status."""
    rows = session.execute(select(MaintenanceReminder, Reply.status, Reply.sent_at)
                           .outerjoin(Reply, MaintenanceReminder.reply_id == Reply.id)
                           .where(MaintenanceReminder.wcb_account == account)
                           .order_by(MaintenanceReminder.year, MaintenanceReminder.id))
    return [{"year": r.year, "certificate_issued_on": r.issued_on.isoformat(), "recipient": r.recipient,
             "queued_at": r.created_at.isoformat(), "status": status,
             "sent_at": sent_at.isoformat() if sent_at else None} for r, status, sent_at in rows]


def account_document(session: Session, account: str) -> dict[str, Any]:
    """`register show --json`: each register's newest import and its rows for the account."""
    return {"wcb_account": account,
            "members": {"imported": import_dict(last_import(session, "members")),
                        "rows": [member_dict(r) for r in memberships(session, account)]},
            "training": {"imported": import_dict(last_import(session, "training")),
                         "rows": [training_dict(r) for r in training_of_account(session, account)]},
            "certificates": {"imported": import_dict(last_import(session, "certificates")),
                             "rows": [certificate_dict(r) for r in certificates(session, account)]}}


def file_label(path: Path) -> str:
    """The file as an import records it: its name (where it lay on the importer's disk says nothing)."""
    return path.name
