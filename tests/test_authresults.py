"""Authentication-Results (RFC 8601) of our own mail server: parsed, recorded per message, and
`message.sender_unverified` when DMARC fails or a stranger joins a case unverified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from intake import authresults, users
from intake.cases.queries import find_case, show_document
from intake.db import InboxMessage
from intake.mailbox.maildir import MaildirSource
from intake.service import open_services, poll_cycle, send_replies
from intake.web.app import create_app
from tests import mailfactory
from tests.pipeline_helpers import (
    maildir_config,
    outbox_messages,
    run_cli,
    tracking_numbers,
    with_section,
    write_config,
)
from tests.web_helpers import PASSWORD, sign_in

OURS = "mx.youracsa.ca"


def test_rfc8601_examples_are_read():
    # RFC 8601 appendix B.6 style, folded, with comments and a version on the authserv-id.
    value = ("example.com 1;\r\n\tspf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.net;\r\n"
             "\tdkim=pass (good signature) header.d=mail-router.example.net;\r\n"
             "\tdkim=fail (bad signature) header.d=newyork.example.com; dmarc=fail (p=reject dis=none) header.from=example.com")
    server, results = authresults.parse(value)
    assert server == "example.com"
    assert [(m, r) for m, r, _ in results] == [("spf", "pass"), ("dkim", "pass"), ("dkim", "fail"), ("dmarc", "fail")]
    assert results[0][2] == {"smtp.mailfrom": "example.net"}
    found = authresults.from_headers([("Authentication-Results", value)], "EXAMPLE.COM")
    assert found.as_dict() == {"spf": "pass", "dkim": "pass", "dmarc": "fail"}  # one passing signature is enough
    assert found.properties["dmarc"] == {"header.from": "example.com"}


@pytest.mark.parametrize("value, expected", [
    ("example.org; none", {"spf": None, "dkim": None, "dmarc": None}),
    ('example.org; dmarc=pass header.from="a;b.example" (a comment; with (nested) parens)',
     {"spf": None, "dkim": None, "dmarc": "pass"}),
    ("example.org; spf=softfail smtp.mailfrom=x.example; arc=pass; dmarc=temperror",
     {"spf": "softfail", "dkim": None, "dmarc": "temperror"}),
    ("example.org (our MX); DMARC=FAIL header.from=x.example", {"spf": None, "dkim": None, "dmarc": "fail"}),
])
def test_odd_but_valid_headers(value, expected):
    assert authresults.from_headers([("Authentication-Results", value)], "example.org").as_dict() == expected


def test_only_our_servers_header_counts_and_only_the_topmost():
    forged = ("Authentication-Results", f"{OURS}.attacker.example; dmarc=pass header.from=acme-roofing.ca")
    other = ("Authentication-Results", "mx.google.com; dmarc=pass header.from=acme-roofing.ca")
    ours = ("Authentication-Results", f"{OURS}; spf=fail smtp.mailfrom=acme-roofing.ca; dmarc=fail")
    older = ("Authentication-Results", f"{OURS}; dmarc=pass")  # below ours: written before it reached us
    assert authresults.from_headers([forged, other], OURS) is None
    assert authresults.from_headers([forged, other, ours, older], OURS).dmarc == "fail"
    assert authresults.from_headers([ours], "") is None  # not configured: nothing is believed


def _auth(value: str) -> dict[str, str]:
    return {"Authentication-Results": value}


@pytest.fixture
def setup(tmp_path: Path):
    config = with_section(maildir_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}"), "mailbox",
                          authserv_id=OURS)
    services = open_services(config)
    yield config, services
    services.close()


def deliver(config, raw: bytes) -> None:
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", raw)


def shown(services, number: str) -> dict:
    with services.sessions() as session:
        return show_document(session, find_case(session, number))


def codes(document: dict) -> list[str]:
    return [f["code"] for f in document["findings"]]


def test_dmarc_fail_is_recorded_and_warned_and_shown_to_qa(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip(extra_headers=_auth(
        f"{OURS}; spf=fail smtp.mailfrom=acme-roofing.ca; dkim=none; dmarc=fail (p=reject) header.from=acme-roofing.ca")))
    poll_cycle(services)
    [number] = tracking_numbers(services.sessions)
    document = shown(services, number)
    [warning] = [f for f in document["findings"] if f["code"] == "message.sender_unverified"]
    assert warning["severity"] == "warn" and "acme-roofing.ca" in warning["message"]
    assert document["verdict"] in ("needs_review", "returned")
    assert document["versions"][0]["authentication"] == {"spf": "fail", "dkim": "none", "dmarc": "fail"}
    with services.sessions() as session:
        row = session.scalar(select(InboxMessage))
        assert (row.spf, row.dkim, row.dmarc) == ("fail", "none", "fail")
    with services.sessions.begin() as session:
        users.add_user(session, "ana", "analyst", PASSWORD)
    with TestClient(create_app(config, services), follow_redirects=True) as client:
        sign_in(client)
        page = client.get(f"/cases/{number}").text
    assert "could not verify that this email really came from acme-roofing.ca" in page


def test_a_passing_sender_and_a_forged_header_change_nothing(setup):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip(extra_headers=_auth(f"{OURS}; spf=pass; dkim=pass; dmarc=pass")))
    deliver(config, mailfactory.submission_with_zip(
        message_id="<forged@acme-roofing.ca>", subject="SECOR 2026 second company",
        extra_headers=_auth("mx.youracsa.ca.evil.example; dmarc=fail")))
    poll_cycle(services)
    for number in tracking_numbers(services.sessions):
        assert "message.sender_unverified" not in codes(shown(services, number))
    with services.sessions() as session:
        assert sorted((m.dmarc or "-") for m in session.scalars(select(InboxMessage))) == ["-", "pass"]


@pytest.mark.parametrize("sender, dmarc, joins", [
    ("Mallory <mallory@hostile.example>", "none", False),  # a stranger, unverified: a case of its own
    ("Mallory <mallory@hostile.example>", "pass", False),  # verified, but of another domain: the same
    ("Mallory <mallory@hostile.example>", None, False),  # no header from our server at all
    ("Pat <pat@acme-roofing.ca>", "none", False),  # the submitter's domain, unverified: may be forged
    ("Pat <pat@acme-roofing.ca>", "pass", True),  # a colleague whose domain passes DMARC
    ("Jane Doe <jane.doe@acme-roofing.ca>", "none", True),  # the submitter herself
])
def test_only_who_may_speak_for_a_case_adds_to_it_and_a_reply_names_only_its_recipient(
        setup, sender, dmarc, joins):
    config, services = setup
    deliver(config, mailfactory.submission_with_zip())
    poll_cycle(services)
    [number] = tracking_numbers(services.sessions)
    headers = _auth(f"{OURS}; dmarc={dmarc}") if dmarc else {}
    deliver(config, mailfactory.submission_with_zip(sender=sender, subject=f"Re: [{number}] corrected submission",
                                                    message_id="<second@example>", extra_headers=headers))
    poll_cycle(services)
    send_replies(services)
    document = shown(services, number)
    assert len(document["versions"]) == (2 if joins else 1)
    assert document["qa"]["state"] == ("resubmitted" if joins else "new")
    numbers = tracking_numbers(services.sessions)
    assert len(numbers) == (1 if joins else 2)
    if not joins:  # filed as a case of its own, which says what it claimed
        [claim] = [f for f in shown(services, numbers[-1])["findings"] if f["code"] == "message.claimed_case"]
        assert claim["severity"] == "warn" and number in claim["message"]
    assert "message.sender_unverified" not in codes(shown(services, numbers[-1]))  # its own case, or one it may join
    address = sender.partition("<")[2].rstrip(">")
    reply = [m for m in outbox_messages(config.resolve_path(config.outbound.path)) if address in str(m["To"])][-1]
    text = reply.as_string()
    if address != "jane.doe@acme-roofing.ca":  # the reply names its recipient, never the case's submitter
        assert "Jane" not in text and "jane.doe" not in text, text
        assert sender.partition(" <")[0] in str(reply["To"])


def test_authserv_id_is_a_configuration_key(tmp_path: Path):
    config_file = write_config(tmp_path / "c.toml", {"mailbox": {"kind": "maildir", "authserv_id": OURS}})
    result = run_cli(config_file, "health", "--json")
    assert "authserv_id" not in result.stderr
    bad = write_config(tmp_path / "bad.toml", {"mailbox": {"kind": "maildir", "authserv_id": 3}})
    result = run_cli(bad, "health")
    assert result.returncode == 2 and "mailbox.authserv_id" in result.stderr
    assert json.loads(result.stdout or "{}") == {}


def test_a_verified_address_of_a_mail_service_anyone_can_join_does_not_speak_for_a_colleague():
    from intake.disposition import may_speak_for

    verified = authresults.AuthResults(dmarc="pass")
    assert may_speak_for("pat@acme-roofing.ca", verified, "jane.doe@acme-roofing.ca", None)
    assert not may_speak_for("mallory@gmail.com", verified, "jane.doe@gmail.com", None)
    assert not may_speak_for("mallory@shaw.ca", verified, "jane.doe@shaw.ca", None)
    assert may_speak_for("Jane.Doe@gmail.com", None, "jane.doe@gmail.com", None)  # the submitter herself
    assert may_speak_for("pat@gmail.com", None, "jane.doe@gmail.com", ["pat@gmail.com"])  # added by QA
    assert not may_speak_for(None, verified, "jane.doe@acme-roofing.ca", None)
