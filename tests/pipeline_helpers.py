"""Configuration and inspection helpers shared by the pipeline and daemon tests."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from intake.config import Config, DatabaseConfig, HealthConfig, MailboxConfig, OutboundConfig, StorageConfig, WebConfig
from intake.db import Case, InboxMessage, Reply

ROOT = Path(__file__).resolve().parent.parent


def maildir_config(tmp_path: Path, db_url: str, **mailbox: Any) -> Config:
    """Embedded-style configuration under tmp_path: Maildir inbox, pickup-folder outbox; a decision's
    email is not held for undo (the tests about Undo decision set [web] undo_seconds themselves)."""
    return Config(
        base_dir=tmp_path,
        web=WebConfig(undo_seconds=0),
        mailbox=MailboxConfig(kind="maildir", path=str(tmp_path / "maildir"), **mailbox),
        outbound=OutboundConfig(kind="file", path=str(tmp_path / "outbox")),
        database=DatabaseConfig(url=db_url),
        storage=StorageConfig(path=str(tmp_path / "submissions")),
        health=HealthConfig(path=str(tmp_path / "health.json")),
    )


def with_section(config: Config, section: str, **values: Any) -> Config:
    return replace(config, **{section: replace(getattr(config, section), **values)})


def count(sessions, model, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def states(sessions) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(m.state, m.outcome) for m in session.scalars(select(InboxMessage).order_by(InboxMessage.id))]


def tracking_numbers(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Case.tracking_number).order_by(Case.id)))


def replies(sessions) -> list[Reply]:
    with sessions() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


def outbox_messages(folder: Path) -> list[email.message.Message]:
    if not folder.exists():
        return []
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_cli(config_file: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """`secor-intake --config FILE ARGS` as a real process (the way operators run it)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "intake", "--config", str(config_file), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=environment)


def body_text(message: email.message.Message) -> str:
    """The decoded text/plain part of a message."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def deliver(config: Config, raw: bytes, folder: str = "INBOX", when=None) -> None:
    """Put one email in the configuration's Maildir, as a mail server would."""
    from intake.mailbox.maildir import MaildirSource

    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append(folder, raw, when=when)
