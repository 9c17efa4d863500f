"""FileTransport (the pickup folder): the transport contract, file names and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.config import OutboundConfig
from intake.outbound import TransientSendError, Transport, open_transport
from intake.outbound.file import FileTransport
from tests.transport_behaviour import (
    RECIPIENT,
    Outbox,
    test_close_ends_a_run_and_the_next_send_starts_another,  # noqa: F401 (shared test)
    test_each_message_arrives_once_with_its_bytes_unchanged,  # noqa: F401 (shared test)
    test_unreachable_is_transient_and_marks_the_server_down,  # noqa: F401 (shared test)
)
from tests.transport_behaviour import make_reply as _raw


@pytest.fixture
def transport(tmp_path: Path) -> Transport:
    return FileTransport(tmp_path / "outbox")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return lambda: [p.read_bytes() for p in sorted((tmp_path / "outbox").iterdir())]


@pytest.fixture
def unreachable(tmp_path: Path) -> Transport:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the folder should be")
    return FileTransport(blocker)


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
