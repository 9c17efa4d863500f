"""Where submissions live on disk: one folder per tracking number, one subfolder per version.

    <storage>/SECOR-2026-000042/1/message.eml      the email as received
    <storage>/SECOR-2026-000042/1/files/...        the extracted or downloaded submission
    <storage>/SECOR-2026-000042/1/report.txt       the triage report for QA analysts
    <storage>/SECOR-2026-000042/1/report.json      the same, as the contract's JSON
    <storage>/SECOR-2026-000042/correspondence/<message-row-id>.eml   a follow-up without files
    <storage>/work/<message-row-id>/               scratch space while a message is processed:
        message.eml, parts/ (the parsed email's parts), attachments/ (several zips as one folder),
        download/ (share links), triage/ (the engine's work folder), files/ (what will be filed)

Every one of these paths is spelled here and nowhere else. Scratch space sits on the same file
system as the case folders, so filing is a rename.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from triage.render import render_text
from triage.report import Report

EMAIL = "message.eml"  # the email as received, in the scratch folder and in its version's folder


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.work_root = root / "work"

    def stored_path(self, path: Path) -> str:
        """How a path under the storage root is recorded in the database: relative to the root, so the
        storage can move (a new mount, a restored backup) without rewriting a row."""
        return path.relative_to(self.root).as_posix()

    def path_of(self, stored: str) -> Path:
        """The path a recorded one stands for; rows from before 0.2 hold absolute paths, kept as they are."""
        return self.root / stored

    def scratch(self, message_row_id: int) -> Path:
        """Where one message's scratch folder is (it may not exist)."""
        return self.work_root / str(message_row_id)

    def workdir(self, message_row_id: int) -> Path:
        """A fresh, empty scratch folder for one message (a leftover from a crash is wiped)."""
        path = self.scratch(message_row_id)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def discard_workdir(self, message_row_id: int) -> None:
        shutil.rmtree(self.scratch(message_row_id), ignore_errors=True)

    def case_dir(self, tracking_number: str) -> Path:
        return self.root / tracking_number

    def version_dir(self, tracking_number: str, version: int) -> Path:
        return self.case_dir(tracking_number) / str(version)

    def correspondence_file(self, tracking_number: str, message_row_id: int) -> Path:
        """Where a follow-up without files is kept with its case."""
        return self.case_dir(tracking_number) / "correspondence" / f"{message_row_id}.eml"

    def file_version(self, target: Path, raw_email: Path, files: Path | None, report: Report) -> Path:
        """Move the email and the submission's files into the version folder and write the reports.

        Idempotent: a retry after a crash replaces whatever a half-finished attempt left.
        """
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        os.replace(raw_email, version_email(target))
        if files is not None and files.exists():
            os.replace(files, version_files(target))
        _write_atomic(target / "report.txt", render_text(report))
        _write_atomic(target / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
        return target


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def version_email(version_dir: Path) -> Path:
    return version_dir / EMAIL


def version_files(version_dir: Path) -> Path:
    return version_dir / "files"


def raw_emails(case_dir: Path) -> list[Path]:
    """Every email kept in a case's folder: each version's, and the follow-ups without files."""
    return sorted([*case_dir.glob(f"*/{EMAIL}"), *case_dir.glob("correspondence/*.eml")])


def file_inside(root: Path, path: Path | str) -> Path | None:
    """`root/path` (or `path`, when absolute) if it is a regular file inside `root` once every link is
    resolved, else None: a stored or requested path never leads out of its folder."""
    try:
        base = root.resolve(strict=True)
        found = (base / path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return found if found.is_relative_to(base) and found.is_file() else None


# A message's scratch folder (Storage.workdir; the `triage` command uses a temporary one).
def scratch_email(workdir: Path) -> Path:
    return workdir / EMAIL


def parts_dir(workdir: Path) -> Path:
    return workdir / "parts"


def attachments_dir(workdir: Path) -> Path:
    return workdir / "attachments"


def download_dir(workdir: Path) -> Path:
    return workdir / "download"


def triage_dir(workdir: Path) -> Path:
    return workdir / "triage"


def triage_files(workdir: Path) -> Path:
    """Where the engine (triage_path with keep_files) leaves a zip's files in its work folder."""
    return triage_dir(workdir) / "files"


def kept_files(workdir: Path) -> Path:
    """Where a message's scratch folder holds the submission's files until they are filed."""
    return workdir / "files"
