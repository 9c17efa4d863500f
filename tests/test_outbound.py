"""Outbound transports against a real SMTP server on loopback and a real pickup folder."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.config import OutboundConfig
from intake.outbound import PermanentSendError, TransientSendError, open_transport
from intake.outbound.file import FileTransport
from intake.outbound.smtp import SmtpTransport
from tests.servers.smtp import PASSWORD, USERNAME, SmtpServer

RECIPIENT = "jane.doe@acme-roofing.ca"


def _raw(message_id: str = "<SECOR-2026-000042.0a1b2c3d4e5f6789@youracsa.ca>") -> bytes:
    msg = EmailMessage()
    msg["From"] = "ACSA COR Department <COR@youracsa.ca>"
    msg["To"] = RECIPIENT
    msg["Subject"] = "Re: SECOR submission [SECOR-2026-000042]"
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Your tracking number is SECOR-2026-000042.\n.\nA line with a lone dot above.\n")
    return msg.as_bytes(policy=policy.SMTP)


def _smtp_config(server: SmtpServer, **overrides: object) -> OutboundConfig:
    values: dict[str, object] = dict(kind="smtp", host="127.0.0.1", port=server.port, security="none",
                                     timeout_seconds=10.0)
    values.update(overrides)
    return OutboundConfig(**values)


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


def test_file_transport_writes_one_eml_per_reply_named_after_its_message_id(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    transport = open_transport(OutboundConfig(kind="file", path="outbox"), resolve_path=lambda p: tmp_path / p)
    assert isinstance(transport, FileTransport)
    first, second = _raw(), _raw("<SECOR-2026-000043.1111@youracsa.ca>")
    transport.send(first, "", [RECIPIENT])
    transport.send(second, "", [RECIPIENT])
    transport.send(first, "", [RECIPIENT])  # a resend replaces the file with the same bytes
    files = sorted(p.name for p in outbox.iterdir())
    assert files == ["SECOR-2026-000042.0a1b2c3d4e5f6789@youracsa.ca.eml", "SECOR-2026-000043.1111@youracsa.ca.eml"]
    assert (outbox / files[0]).read_bytes() == first  # no temporary file left behind either


def test_file_transport_failure_is_transient_and_leaves_no_partial_file(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(TransientSendError):
        FileTransport(blocker).send(_raw(), "", [RECIPIENT])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox"]


def test_file_transport_names_are_safe(tmp_path: Path) -> None:
    FileTransport(tmp_path).send(_raw("<../../etc/passwd@evil>"), "", [RECIPIENT])
    [written] = list(tmp_path.iterdir())
    assert written.parent == tmp_path and "/" not in written.name and written.name.endswith(".eml")
