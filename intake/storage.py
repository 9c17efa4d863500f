"""Where submissions live on disk: one folder per tracking number, one subfolder per version.

    <storage>/SECOR-2026-000042/1/message.eml      the email as received
    <storage>/SECOR-2026-000042/1/files/...        the extracted or downloaded submission
    <storage>/SECOR-2026-000042/1/report.txt       the triage report for QA analysts
    <storage>/SECOR-2026-000042/1/report.json      the same, as the contract's JSON
    <storage>/work/<message-row-id>/               scratch space while a message is processed

Scratch space sits on the same file system as the case folders, so filing is a rename.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from triage.render import render_text
from triage.report import Report


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

    def version_dir(self, tracking_number: str, version: int) -> Path:
        return self.root / tracking_number / str(version)

    def file_version(self, target: Path, raw_email: Path, files: Path | None, report: Report) -> Path:
        """Move the email and the submission's files into the version folder and write the reports.

        Idempotent: a retry after a crash replaces whatever a half-finished attempt left.
        """
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        os.replace(raw_email, target / "message.eml")
        if files is not None and files.exists():
            os.replace(files, target / "files")
        _write_atomic(target / "report.txt", render_text(report))
        _write_atomic(target / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
        return target


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def kept_files(workdir: Path) -> Path:
    """Where a message's scratch folder holds the submission's files until they are filed."""
    return workdir / "files"
