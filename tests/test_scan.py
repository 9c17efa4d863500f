"""Virus scanning against a real clamd started by the test (tests/servers/clamd.py)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from intake import users
from intake.cases.queries import find_case, show_document
from intake.config import ScanConfig
from intake.db import Case, InboxMessage
from intake.mailbox.maildir import MaildirSource
from intake.scan import Clamd, ScannerUnavailable, StreamTooLong, scan_folder
from intake.service import open_services, poll_cycle
from intake.web.app import create_app
from tests import mailfactory
from tests.pipeline_helpers import (
    body_text,
    maildir_config,
    outbox_messages,
    run_cli,
    tracking_numbers,
    with_section,
    write_config,
)
from tests.servers.clamd import BODY_MARKER, BODY_SIGNATURE, EICAR, EICAR_SIGNATURE, STREAM_MAX
from tests.web_helpers import PASSWORD, sign_in

INFECTED = "Element 3 - Hazard Control/Hazard control procedure.pdf"


def zip_with(extra: dict[str, bytes]) -> bytes:
    """The clean sample submission with `extra` entries added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(mailfactory.sample_zip())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for name, data in extra.items():
            target.writestr(zipfile.ZipInfo(name, date_time=mailfactory.ZIP_DATE), data)
    return out.getvalue()


def closed_socket_path(tmp_path: Path) -> str:
    return str(tmp_path / "no-clamd.sock")


def test_clamd_reports_clean_and_infected_files(clamd_server, tmp_path: Path):
    clamd = Clamd(str(clamd_server.socket), 10)
    (tmp_path / "clean.pdf").write_bytes(b"%PDF-1.4\nnothing to see\n%%EOF\n")
    (tmp_path / "eicar.com").write_bytes(EICAR)
    (tmp_path / "body.docx").write_bytes(b"PK\x03\x04 some text " + BODY_MARKER + b" more text")
    assert clamd.scan_file(tmp_path / "clean.pdf") is None
    assert clamd.scan_file(tmp_path / "eicar.com") == EICAR_SIGNATURE
    assert clamd.scan_file(tmp_path / "body.docx") == BODY_SIGNATURE


def test_a_file_over_clamds_stream_limit_is_reported_not_scanned(clamd_server, tmp_path: Path):
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (STREAM_MAX + 4096))
    with pytest.raises(StreamTooLong):
        Clamd(str(clamd_server.socket), 10).scan_file(big)
    # Our own limit higher than clamd's: clamd's refusal still ends as "not scanned", not as clean.
    result = scan_folder(tmp_path, ScanConfig(clamd=str(clamd_server.socket), stream_max_bytes=10 * STREAM_MAX))
    assert result.not_scanned == ["big.pdf"] and result.hits == {}
    # Our limit lower: the file is never sent.
    result = scan_folder(tmp_path, ScanConfig(clamd=str(clamd_server.socket), stream_max_bytes=1000))
    assert result.not_scanned == ["big.pdf"]


def test_an_unreachable_scanner_is_unavailable(tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(ScannerUnavailable):
        scan_folder(tmp_path, ScanConfig(clamd=closed_socket_path(tmp_path)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        with pytest.raises(ScannerUnavailable):
            scan_folder(tmp_path, ScanConfig(clamd=f"tcp://127.0.0.1:{port}"))


def test_a_server_that_is_not_clamd_is_unavailable(tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "fake.sock"))
        server.listen(1)
        import threading

        def answer():
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"UNKNOWN COMMAND\0")

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(ScannerUnavailable, match="UNKNOWN COMMAND"):
            scan_folder(tmp_path, ScanConfig(clamd=str(tmp_path / "fake.sock"), timeout_seconds=5))


@pytest.fixture
def scanned(tmp_path: Path, clamd_server):
    def make(**scan):
        config = with_section(maildir_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}"), "scan",
                              **{"clamd": str(clamd_server.socket), **scan})
        config = with_section(config, "processing", retry_base_seconds=0.0, max_attempts=2)
        return config, open_services(config)
    return make


def deliver(config, raw: bytes) -> None:
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", raw)


def inbox_count(config) -> int:
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        return len(source.list_messages("INBOX"))


def test_an_infected_submission_is_returned_naming_the_file_not_the_signature(scanned):
    config, services = scanned()
    try:
        deliver(config, mailfactory.submission_with_zip(zip_with({INFECTED: EICAR})))
        poll_cycle(services)
        [number] = tracking_numbers(services.sessions)
        with services.sessions() as session:
            shown = show_document(session, find_case(session, number))
        with services.sessions.begin() as session:
            users.add_user(session, "ana", "analyst", PASSWORD)
        with TestClient(create_app(config, services), follow_redirects=True) as client:
            sign_in(client)
            page = client.get(f"/cases/{number}").text
    finally:
        services.close()
    assert f"{INFECTED}: {EICAR_SIGNATURE} (not stored)" in page  # the workbench shows QA the signature
    assert shown["verdict"] == "returned"
    [malware] = [f for f in shown["findings"] if f["code"] == "format.malware"]
    assert malware["severity"] == "reject" and malware["path"] == INFECTED
    assert INFECTED in malware["message"] and EICAR_SIGNATURE not in malware["message"]
    # QA sees the signature; the submitter does not.
    assert shown["summary"]["scan"]["hits"] == [{"path": INFECTED, "signature": EICAR_SIGNATURE}]
    [reply] = outbox_messages(config.resolve_path(config.outbound.path))
    assert INFECTED in body_text(reply) and EICAR_SIGNATURE not in body_text(reply)
    # The infected file is not stored (the workbench serves stored files); the clean ones are.
    files = services.storage.root / number / "1" / "files"
    assert not (files / INFECTED).exists()
    assert (files / "SECOR Evaluation Tool 2026.pdf").exists() or any(files.rglob("*.pdf"))
    assert json.loads((services.storage.root / number / "1" / "report.json").read_text())["summary"]["scan"]["hits"]


def filed_once(config, services, raw: bytes) -> tuple[str, dict]:
    """Deliver `raw`, run one cycle, close the services; the case's verdict and first report."""
    try:
        deliver(config, raw)
        poll_cycle(services)
        with services.sessions() as session:
            case = session.scalar(select(Case))
            return case.verdict, case.versions[0].report
    finally:
        services.close()


def test_a_clean_submission_is_recorded_as_scanned(scanned):
    verdict, report = filed_once(*scanned(), mailfactory.submission_with_zip())
    assert report["summary"]["scan"]["scanned"] is True and report["summary"]["scan"]["hits"] == []
    assert not [f for f in report["findings"] if f["code"].startswith(("format.malware", "scan."))]
    assert verdict != "returned"


def test_a_required_scanner_that_is_down_holds_the_email_then_files_it_once(scanned, tmp_path: Path, clamd_server):
    config, services = scanned(clamd=closed_socket_path(tmp_path), required=True)
    deliver(config, mailfactory.submission_with_zip(zip_with({INFECTED: EICAR})))
    try:
        for _ in range(3):
            poll_cycle(services)
        with services.sessions() as session:
            [row] = session.scalars(select(InboxMessage)).all()
            assert (row.state, row.attempts) == ("failed", 0)  # not the email's fault: never counted
            assert "clamd" in row.last_error
            assert session.scalar(select(Case)) is None
    finally:
        services.close()
    assert inbox_count(config) == 1
    assert outbox_messages(config.resolve_path(config.outbound.path)) == []

    config, services = scanned()  # the scanner is back
    try:
        poll_cycle(services)
        with services.sessions() as session:
            [case] = session.scalars(select(Case)).all()
            assert case.verdict == "returned"
    finally:
        services.close()
    assert inbox_count(config) == 0
    assert len(outbox_messages(config.resolve_path(config.outbound.path))) == 1


def test_an_optional_scanner_that_is_down_files_with_an_info_finding(scanned, tmp_path: Path):
    config, services = scanned(clamd=closed_socket_path(tmp_path), required=False)
    verdict, report = filed_once(config, services, mailfactory.submission_with_zip())
    [note] = [f for f in report["findings"] if f["code"] == "scan.not_scanned"]
    assert note["severity"] == "info" and note["path"] is None
    assert report["summary"]["scan"]["scanned"] is False and "clamd" in report["summary"]["scan"]["error"]
    assert verdict != "returned"
    assert inbox_count(config) == 0


def test_scanning_off_adds_nothing(tmp_path: Path):
    config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _, report = filed_once(config, open_services(config), mailfactory.submission_with_zip(zip_with({INFECTED: EICAR})))
    assert "scan" not in report["summary"]


# -- `secor-intake triage` with [scan] --------------------------------------------------------


def triage_cli(tmp_path: Path, target: Path | str, links: dict | None = None, **scan) -> subprocess.CompletedProcess:
    """`secor-intake triage TARGET --json` with a configuration whose `[scan]` is `scan`, in `tmp_path`
    (which holds no database afterwards: triage stays read-only)."""
    config = write_config(tmp_path / "cli.toml", {"storage": {"path": str(tmp_path / "storage")},
                                                  "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
                                                  "links": links or {}, "scan": scan})
    return run_cli(config, "triage", str(target), "--json")


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=mailfactory.ZIP_DATE), data)
    return out.getvalue()


@pytest.mark.parametrize("where", ["in the zip", "in a zip inside the zip"])
def test_triage_of_an_infected_zip_is_returned(clamd_server, tmp_path: Path, where: str):
    if where == "in the zip":
        extra, infected = {INFECTED: EICAR}, INFECTED
    else:
        extra = {"Element 3 - Hazard Control/Inspections.zip": zip_bytes({"Inspection March.pdf": EICAR})}
        infected = "Element 3 - Hazard Control/Inspections/Inspection March.pdf"
    submission = tmp_path / "Acme SECOR.zip"
    submission.write_bytes(zip_with(extra))
    done = triage_cli(tmp_path, submission, clamd=str(clamd_server.socket))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "returned"
    [malware] = [f for f in report["findings"] if f["code"] == "format.malware"]
    assert malware["path"].endswith(infected.rpartition("/")[2]) and malware["severity"] == "reject"
    assert report["summary"]["scan"]["hits"][0]["signature"] == EICAR_SIGNATURE
    assert submission.read_bytes() == zip_with(extra)  # the operator's file is left as it was
    assert not (tmp_path / "db.sqlite3").exists() and not (tmp_path / "storage").exists()


def test_triage_of_an_infected_share_link_is_returned(clamd_server, provider_server, tmp_path: Path):
    shutil.copy(provider_server.ca_file, tmp_path / "test-ca.pem")
    links = {"resolve": provider_server.settings().resolve, "ca_bundle": "test-ca.pem", "read_timeout_seconds": 5.0}
    done = triage_cli(tmp_path, "https://www.dropbox.com/s/infected/Acme%20SECOR.zip?dl=0", links,
                      clamd=str(clamd_server.socket))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["source"]["kind"] == "link"
    assert [f["path"] for f in report["findings"] if f["code"] == "format.malware"] == [
        "Element 3 - Hazard Control/Inspection.pdf"]
    assert not (tmp_path / "db.sqlite3").exists()


def test_triage_of_a_folder_scans_it_in_place_and_deletes_nothing(clamd_server, tmp_path: Path):
    folder = tmp_path / "submission"
    with zipfile.ZipFile(io.BytesIO(zip_with({}))) as zf:
        zf.extractall(folder)
    (folder / "Inspections.zip").write_bytes(zip_bytes({"Inspection March.pdf": EICAR}))
    done = triage_cli(tmp_path, folder, clamd=str(clamd_server.socket))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"] if f["code"] == "format.malware"] == ["Inspections.zip"]
    assert (folder / "Inspections.zip").exists()


def test_triage_of_a_clean_zip_says_it_was_scanned(clamd_server, tmp_path: Path):
    submission = tmp_path / "clean.zip"
    submission.write_bytes(mailfactory.sample_zip())
    done = triage_cli(tmp_path, submission, clamd=str(clamd_server.socket))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["summary"]["scan"] == {"scanner": "clamd", "scanned": True, "hits": [], "not_scanned": [],
                                         "error": None}


def test_triage_with_a_required_scanner_down_cannot_run(tmp_path: Path):
    submission = tmp_path / "infected.zip"
    submission.write_bytes(zip_with({INFECTED: EICAR}))
    done = triage_cli(tmp_path, submission, clamd=closed_socket_path(tmp_path), required=True)
    assert done.returncode == 2
    assert done.stdout == ""  # no report that could be read as a verdict
    assert "virus scanner unavailable" in done.stderr and "no-clamd.sock" in done.stderr


def test_triage_with_an_optional_scanner_down_reports_it_not_scanned(tmp_path: Path):
    submission = tmp_path / "clean.zip"
    submission.write_bytes(mailfactory.sample_zip())
    done = triage_cli(tmp_path, submission, clamd=closed_socket_path(tmp_path), required=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [note] = [f for f in report["findings"] if f["code"] == "scan.not_scanned"]
    assert note["severity"] == "info"
    assert report["summary"]["scan"]["scanned"] is False
    assert "no virus scan" in done.stderr  # the operator is told on stderr as well
