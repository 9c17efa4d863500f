"""Emails that carry a share link, through the daemon's pipeline, against the fake providers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from intake.clock import utcnow
from intake.db import Case, InboxMessage
from intake.mailbox.maildir import MaildirSource
from intake.service import open_services, poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import body_text, maildir_config, outbox_messages, states, with_section


@pytest.fixture
def services_for(tmp_path: Path, provider_server):
    opened = []

    def make(**processing):
        config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
        config = with_section(config, "processing", retry_base_seconds=0.0, **processing)
        settings = provider_server.settings()
        config = with_section(config, "links", resolve=settings.resolve, ca_bundle=settings.ca_bundle)
        services = open_services(config)
        opened.append(services)
        return config, services

    yield make
    for services in opened:
        services.close()


def deliver(config, raw: bytes, when=None) -> None:
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", raw, when=when)


def test_an_email_with_a_link_is_downloaded_triaged_and_filed(services_for):
    config, services = services_for()
    deliver(config, mailfactory.submission_with_link("https://www.dropbox.com/s/plain/Acme%20SECOR.zip?dl=0"))
    poll_cycle(services)
    with services.sessions() as session:
        case = session.query(Case).one()
        version = case.versions[0]
        assert version.source_kind == "link"
        assert version.source_url.startswith("https://www.dropbox.com/s/plain/")
        assert version.documents  # the downloaded zip was extracted and listed
        assert not any(f.code.startswith("link.") for f in version.findings)
        files = services.storage.path_of(version.storage_path) / "files"
    assert files.is_dir() and any(files.rglob("*"))
    [reply] = outbox_messages(config.resolve_path(config.outbound.path))
    assert "We received: Acme SECOR 2026.zip" in body_text(reply)  # the name the provider gave


def test_a_deleted_link_is_returned_with_what_to_do(services_for):
    config, services = services_for()
    deliver(config, mailfactory.submission_with_link("https://www.dropbox.com/s/deleted/Acme.zip?dl=0"))
    poll_cycle(services)
    with services.sessions() as session:
        case = session.query(Case).one()
        assert case.verdict == "returned"
        assert [f.code for f in case.versions[0].findings] == ["link.not_found"]
    [reply] = outbox_messages(config.resolve_path(config.outbound.path))
    assert "link" in body_text(reply).lower()


def test_a_passing_link_failure_is_retried_before_the_submitter_hears_of_it(services_for):
    config, services = services_for(link_retry_hours=24.0)
    deliver(config, mailfactory.submission_with_link("https://www.dropbox.com/s/broken/Acme.zip?dl=0"))
    poll_cycle(services)
    assert states(services.sessions) == [("failed", None)]
    assert outbox_messages(config.resolve_path(config.outbound.path)) == []
    with services.sessions() as session:
        row = session.query(InboxMessage).one()
        assert row.last_error and row.next_attempt_at is not None
    poll_cycle(services)  # still failing, still inside the retry window: still silent
    with services.sessions() as session:
        row = session.query(InboxMessage).one()
        assert (row.state, row.attempts) == ("failed", 0)  # a passing link failure spends no attempt


def test_a_link_still_failing_after_the_retry_window_becomes_a_finding(services_for):
    config, services = services_for(link_retry_hours=1.0)
    deliver(config, mailfactory.submission_with_link("https://www.dropbox.com/s/broken/Acme.zip?dl=0"),
            when=utcnow() - timedelta(hours=2))
    poll_cycle(services)
    with services.sessions() as session:
        case = session.query(Case).one()
        assert [f.code for f in case.versions[0].findings] == ["link.unavailable"]
        assert case.verdict == "needs_review"
