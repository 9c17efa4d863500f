"""SmtpTransport against a real SMTP server on loopback: the transport contract, TLS, AUTH and refusals."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from typing import Iterator

import pytest

from intake.config import ConfigError, OutboundConfig
from intake.outbound import PermanentSendError, TransientSendError, Transport, open_transport
from intake.outbound.smtp import SmtpTransport
from tests.servers.smtp import PASSWORD, USERNAME, SmtpServer
from tests.transport_behaviour import (
    RECIPIENT,
    Outbox,
    test_close_ends_a_run_and_the_next_send_starts_another,  # noqa: F401 (shared test)
    test_each_message_arrives_once_with_its_bytes_unchanged,  # noqa: F401 (shared test)
    test_unreachable_is_transient_and_marks_the_server_down,  # noqa: F401 (shared test)
)
from tests.transport_behaviour import make_reply as _raw


def _smtp_config(server: SmtpServer, **overrides: object) -> OutboundConfig:
    values: dict[str, object] = dict(kind="smtp", host="127.0.0.1", port=server.port, security="none",
                                     timeout_seconds=10.0)
    values.update(overrides)
    return OutboundConfig(**values)


@pytest.fixture
def transport(smtp_server: SmtpServer) -> Iterator[Transport]:
    transport = open_transport(_smtp_config(smtp_server))
    yield transport
    transport.close()


@pytest.fixture
def outbox(smtp_server: SmtpServer) -> Outbox:
    return lambda: [received.raw for received in smtp_server.messages()]


@pytest.fixture
def unreachable() -> Transport:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return SmtpTransport("127.0.0.1", port, "none", timeout=5.0)


def test_smtp_needs_a_host() -> None:
    with pytest.raises(ConfigError, match="outbound.host: required"):
        SmtpTransport.validate(OutboundConfig(kind="smtp"))


def test_smtp_delivers_the_exact_bytes_from_the_null_sender(smtp_server: SmtpServer) -> None:
    raw = _raw()
    open_transport(_smtp_config(smtp_server)).send(raw, "", [RECIPIENT])
    [received] = smtp_server.messages()
    assert received.mail_from == "<>"  # the null sender (RFC 3834)
    assert received.rcpt_tos == [RECIPIENT]
    assert received.raw.rstrip(b"\r\n") == raw.rstrip(b"\r\n")  # dot-stuffing undone, nothing rewritten


def test_smtp_starttls_with_auth_and_a_configured_ca(smtp_tls_server: SmtpServer) -> None:
    config = _smtp_config(smtp_tls_server, security="starttls", username=USERNAME, password=PASSWORD,
                          ca_bundle=str(smtp_tls_server.ca_file))
    open_transport(config).send(_raw(), "", [RECIPIENT])
    [received] = smtp_tls_server.messages()
    assert message_from_bytes(received.raw, policy=policy.default)["Subject"].endswith("[SECOR-2026-000042]")


def test_smtp_implicit_tls_with_auth(smtps_server: SmtpServer) -> None:
    transport = SmtpTransport("127.0.0.1", smtps_server.port, "ssl", USERNAME, PASSWORD, 10.0,
                              smtps_server.client_context())
    transport.send(_raw(), "", [RECIPIENT])
    assert len(smtps_server.messages()) == 1


def test_smtp_untrusted_certificate_is_refused(smtp_tls_server: SmtpServer) -> None:
    config = _smtp_config(smtp_tls_server, security="starttls", username=USERNAME, password=PASSWORD)
    with pytest.raises(TransientSendError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        open_transport(config).send(_raw(), "", [RECIPIENT])
    assert caught.value.server_down
    assert smtp_tls_server.messages() == []


def test_smtp_wrong_password_is_transient_and_marks_the_server_down(smtp_tls_server: SmtpServer) -> None:
    config = _smtp_config(smtp_tls_server, security="starttls", username=USERNAME, password="wrong",
                          ca_bundle=str(smtp_tls_server.ca_file))
    with pytest.raises(TransientSendError) as caught:
        open_transport(config).send(_raw(), "", [RECIPIENT])
    assert caught.value.server_down
    assert smtp_tls_server.messages() == []


def test_a_refused_recipient_leaves_the_session_usable_for_the_next_reply(smtp_server: SmtpServer) -> None:
    smtp_server.refuse.add(RECIPIENT)
    transport = open_transport(_smtp_config(smtp_server))
    with pytest.raises(PermanentSendError):
        transport.send(_raw(), "", [RECIPIENT])
    transport.send(_raw("<SECOR-2026-000043.1111@youracsa.ca>"), "", ["other@acme-roofing.ca"])
    transport.close()
    assert [m.rcpt_tos for m in smtp_server.messages()] == [["other@acme-roofing.ca"]]


def test_smtp_recipient_refused_with_550_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.refuse.add(RECIPIENT)
    with pytest.raises(PermanentSendError, match="550"):
        open_transport(_smtp_config(smtp_server)).send(_raw(), "", [RECIPIENT])
    assert smtp_server.messages() == []


def test_smtp_server_stopped_is_transient_then_works_again_on_the_same_port(smtp_server: SmtpServer) -> None:
    transport = open_transport(_smtp_config(smtp_server))
    smtp_server.stop()
    with pytest.raises(TransientSendError) as caught:
        transport.send(_raw(), "", [RECIPIENT])
    assert caught.value.server_down
    smtp_server.start()
    transport.send(_raw(), "", [RECIPIENT])
    assert len(smtp_server.messages()) == 1


def test_smtp_session_dropped_between_two_sends_is_replaced_before_sending(smtp_server: SmtpServer) -> None:
    transport = open_transport(_smtp_config(smtp_server))
    transport.send(_raw(), "", [RECIPIENT])
    smtp_server.stop()  # the server restarts while the reply job holds its session open
    smtp_server.start()
    transport.send(_raw("<SECOR-2026-000043.1111@youracsa.ca>"), "", [RECIPIENT])
    transport.close()
    assert len(smtp_server.messages()) == 2
