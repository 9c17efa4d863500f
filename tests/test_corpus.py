"""The real-world corpora of ../shared/corpora (mail and zips nobody here wrote), one test per file.

They are read in place, never copied into the repository. A missing corpus skips on a developer
machine and fails in CI (CI=true), like a missing server.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.db import Message
from intake.disposition import AUTOMATIC, classify, detect_automatic
from intake.mailbox.maildir import MaildirSource
from intake.message import parse_message
from intake.service import open_services, poll_cycle
from tests.pipeline_helpers import ROOT, maildir_config, outbox_messages
from tests.servers import require_server

CORPORA = ROOT.parent / "shared" / "corpora"
MAX_ATTACHMENT_BYTES = 50_000_000


def corpus_files(folder: str) -> list:
    """One pytest parameter per file of the corpus folder (its SOURCES.md aside), or one that fails/skips."""
    path = CORPORA / folder
    if not path.is_dir():
        return [pytest.param(None, id=f"{folder}-missing")]
    return [pytest.param(p, id=p.name) for p in sorted(path.iterdir()) if p.name != "SOURCES.md"]


def need(path: Path | None) -> Path:
    require_server(path is not None, f"the corpus folder under {CORPORA}")
    assert path is not None
    return path


def test_a_missing_corpus_fails_in_ci_and_skips_elsewhere(monkeypatch):
    [param] = corpus_files("no-such-corpus")
    assert param.values == (None,)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        need(None)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        need(None)


_SUBJECT = re.compile(rb"(?im)^subject:[^\n]*")


def with_secor_subject(raw: bytes) -> bytes:
    """The same email, its subject now mentioning SECOR as a robot's quote of ours would."""
    head_end = re.search(rb"\r?\n\r?\n", raw)
    found = _SUBJECT.search(raw, 0, head_end.start() if head_end else len(raw))
    if found is None:
        return b"Subject: Re: SECOR evaluation 2026\n" + raw
    line = found.group().rstrip(b"\r")
    return raw[:found.start()] + line + b" Re: SECOR evaluation 2026" + raw[found.start() + len(line):]


# --- mail/robots: never answered --------------------------------------------------------------

@pytest.mark.parametrize("path", corpus_files("mail/robots"))
def test_robot_is_recognised_as_automatic_even_about_secor(path, tmp_path):
    raw = need(path).read_bytes()
    for variant in (raw, with_secor_subject(raw)):
        parsed = parse_message(variant, tmp_path, MAX_ATTACHMENT_BYTES)
        assert detect_automatic(parsed), f"not recognised as automatic: {parsed.subject!r} from {parsed.sender}"
        assert classify(parsed) == AUTOMATIC


# --- mail/oddities: each ends in exactly one state -------------------------------------------

@pytest.fixture(scope="module")
def pipeline_setup(tmp_path_factory):
    """One Maildir + SQLite + pickup-folder setup shared by the oddities: each test adds one email."""
    tmp_path = tmp_path_factory.mktemp("oddities")
    config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'secor-intake.sqlite3'}")
    services = open_services(config)
    yield config, services
    services.close()


@pytest.mark.parametrize("path", corpus_files("mail/oddities"))
def test_oddity_ends_in_one_state_without_a_traceback(path, pipeline_setup, caplog):
    raw = need(path).read_bytes()
    config, services = pipeline_setup
    with services.sessions() as session:
        before = session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) or 0
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", raw)
    with caplog.at_level(logging.WARNING):
        poll_cycle(services)
    with services.sessions() as session:
        rows = list(session.scalars(select(Message).where(Message.id > before)))
    assert len(rows) == 1
    [row] = rows
    assert row.state == "done", row.last_error
    assert row.outcome in ("processed", "returned", "ignored", "too_large")
    assert row.moved
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_no_robot_is_answered_by_the_pipeline(tmp_path):
    """Every robot, its subject about SECOR, through one real poll: all ignored, not one reply."""
    robots = [need(param.values[0]) for param in corpus_files("mail/robots")]
    config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'secor-intake.sqlite3'}")
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        for path in robots:
            source.append("INBOX", with_secor_subject(path.read_bytes()))
    services = open_services(config)
    try:
        result = poll_cycle(services)
        with services.sessions() as session:
            outcomes = Counter(session.scalars(select(Message.outcome)))
    finally:
        services.close()
    assert result.intake.seen == len(robots)
    assert outcomes == {"ignored": len(robots)}
    assert outbox_messages(config.resolve_path(config.outbound.path)) == []
