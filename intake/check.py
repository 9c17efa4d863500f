"""`secor-intake check`: try each configured part for real, one line each (contract "Checking a deployment").

Nothing is changed: no mail is moved or sent, no schema is migrated; the storage check writes and
removes one empty file. No secret is printed: every detail is scrubbed of the configured ones.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from intake.config import Config, MailboxConfig, OutboundConfig
from intake.mailbox.base import MailSource


@dataclass(frozen=True)
class Outcome:
    check: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


def run_checks(config: Config, config_source: str) -> list[Outcome]:
    """Every check in order; a failed one does not stop the others."""
    secrets = _secrets(config)
    outcomes = [Outcome("configuration", True, f"{config_source} loaded")]
    for name, attempt in _attempts(config):
        try:
            outcomes.append(Outcome(name, True, _scrub(attempt(), secrets)))
        except Exception as exc:  # what failed is the check's answer, whatever it is
            outcomes.append(Outcome(name, False, _scrub(_one_line(exc), secrets)))
    return outcomes


def _attempts(config: Config) -> Iterator[tuple[str, Callable[[], str]]]:
    yield "database", lambda: _database(config)
    yield "storage", lambda: _storage(config)
    yield from _token_checks(config)
    yield from _mailbox_checks(config)
    yield "outbound", lambda: _outbound(config)
    if config.scan.clamd:
        yield "clamd", lambda: _clamd(config)


def _database(config: Config) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

    from intake import db

    url = make_url(config.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:") and not Path(url.database).exists():
        raise RuntimeError(f"{shown}: no such database file: run `secor-intake db upgrade`")
    engine = db.make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            try:
                found = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
            except ProgrammingError:  # PostgreSQL: no such table
                found = []
            except OperationalError as exc:  # SQLite says "no such table" this way; else unreachable
                if "no such table" not in str(exc.orig):
                    raise
                found = []
    except SQLAlchemyError as exc:
        raise RuntimeError(f"{shown} unreachable: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        engine.dispose()
    head = db.head_revision()
    if not found:
        raise RuntimeError(f"{shown} answers but has no schema: run `secor-intake db upgrade`")
    if found != [head]:
        raise RuntimeError(f"{shown} is at revision {', '.join(found)}, the newest is {head}: "
                           "run `secor-intake db upgrade`")
    return f"{shown} at revision {head}"


def _storage(config: Config) -> str:
    root = config.resolve_path(config.storage.path)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix=".check-"):
        pass
    return f"{root} writable"


def _token_checks(config: Config) -> Iterator[tuple[str, Callable[[], str]]]:
    """One check per token source: a section sharing [mailbox]'s credentials shares its check."""
    from intake.oauth2 import settings_for, shared_token_source

    sections: list[tuple[str, MailboxConfig | OutboundConfig]] = []
    if config.mailbox.kind == "imap" and config.mailbox.auth == "oauth2":
        sections.append(("mailbox", config.mailbox))
    if config.outbound.kind == "smtp" and config.outbound.auth == "oauth2":
        sections.append(("outbound", config.outbound))
    seen = set()
    for section, values in sections:
        settings = settings_for(values, config.resolve_path)
        if settings in seen:
            continue
        seen.add(settings)
        source = shared_token_source(settings, section)

        def attempt(source=source, settings=settings) -> str:
            source.fresh()
            where = f"from {settings.endpoint()}" if settings.grant != "command" else "from oauth2_token_command"
            return f"an access token ({settings.grant}) {where}"

        yield f"oauth2 token ({section})", attempt


def _mailbox_checks(config: Config) -> Iterator[tuple[str, Callable[[], str]]]:
    from intake.mailbox import open_mail_source

    mailbox = config.mailbox
    filing = dict.fromkeys((mailbox.processed_folder, mailbox.returned_folder, mailbox.ignored_folder,
                            mailbox.failed_folder))
    opened: list[MailSource] = []

    def login() -> str:
        source = open_mail_source(mailbox, config.resolve_path)
        source.open()
        opened.append(source)
        return f"{source.account} opened"

    def folder_check(folder: str, inbox: bool) -> Callable[[], str]:
        """The inbox must be there; a filing folder is made by the first move into it."""
        def attempt() -> str:
            if not opened:
                raise RuntimeError("not tried: the mailbox login failed")
            if opened[0].folder_exists(folder):
                return f"{folder} exists (UIDVALIDITY {opened[0].folder_state(folder).uidvalidity})"
            if inbox:
                raise RuntimeError(f"{folder} does not exist (mailbox.folder: check the name)")
            return f"{folder} is not there yet: the first move into it makes it (check the name)"
        return attempt

    try:
        yield "mailbox login", login
        yield f"mailbox folder {mailbox.folder}", folder_check(mailbox.folder, inbox=True)
        for folder in filing:
            if folder != mailbox.folder:
                yield f"mailbox folder {folder}", folder_check(folder, inbox=False)
    finally:
        for source in opened:
            source.close()


def _outbound(config: Config) -> str:
    from intake.outbound import open_transport

    return open_transport(config.outbound, config.resolve_path).check()


def _clamd(config: Config) -> str:
    from intake.scan import Clamd

    if not Clamd(config.scan.clamd, config.scan.timeout_seconds).ping():
        raise RuntimeError(f"clamd at {config.scan.clamd} does not answer PING")
    return f"clamd at {config.scan.clamd} answers"


def _secrets(config: Config) -> list[str]:
    from sqlalchemy.engine import make_url

    found = [config.mailbox.password, config.mailbox.oauth2_client_secret, config.mailbox.oauth2_refresh_token,
             config.outbound.password, config.outbound.oauth2_client_secret, config.outbound.oauth2_refresh_token]
    try:
        found.append(make_url(config.database_url).password or "")
    except Exception:
        pass
    return [secret for secret in found if secret]


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    return text


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."
