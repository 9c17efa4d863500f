"""Virus scanning with clamd: every file of a submission is streamed to it (INSTREAM) before filing.

A hit is `format.malware` (reject): the submitter is told which file, never the signature; the
signature is kept for QA in the report's `summary.scan`. A file over `[scan] stream_max_bytes`
(keep it at or under clamd's StreamMaxLength) is not sent: a `scan.not_scanned` finding names it.
A scanner that cannot be reached raises ScannerUnavailable when `[scan] required`, else the
submission is filed with a `scan.not_scanned` finding.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intake.config import ScanConfig
from triage.engine import finish_report
from triage.findings import Finding, finding
from triage.report import Report

log = logging.getLogger("secor_intake.scan")

CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd cannot be reached or answered nonsense: not the email's fault, it is retried later."""


class StreamTooLong(Exception):
    """clamd refused the stream as over its StreamMaxLength."""


@dataclass
class ScanResult:
    hits: dict[str, str] = field(default_factory=dict)  # path inside the submission -> signature
    not_scanned: list[str] = field(default_factory=list)  # paths over the stream limit
    unavailable: str | None = None  # why the scanner could not be used (required = false)

    def to_dict(self, scanner: str) -> dict[str, Any]:
        return {"scanner": scanner, "scanned": self.unavailable is None,
                "hits": [{"path": p, "signature": s} for p, s in sorted(self.hits.items())],
                "not_scanned": sorted(self.not_scanned), "error": self.unavailable}


class Clamd:
    """A clamd client speaking the null-terminated ("z") commands, one connection per command."""

    def __init__(self, address: str, timeout: float) -> None:
        self.address, self.timeout = address, timeout

    def _connect(self) -> socket.socket:
        try:
            if self.address.startswith("tcp://"):
                host, _, port = self.address[len("tcp://"):].rpartition(":")
                return socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.address)
            except BaseException:
                sock.close()
                raise
            return sock
        except (OSError, ValueError) as exc:
            raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from None

    @staticmethod
    def _answer(sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return self._answer(sock) == "PONG"
        except (OSError, ScannerUnavailable):
            return False

    def scan_file(self, path: Path) -> str | None:
        """The signature clamd finds in the file, or None when it is clean."""
        with self._connect() as sock, path.open("rb") as stream:
            try:
                sock.sendall(b"zINSTREAM\0")
                while chunk := stream.read(CHUNK):
                    sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                sock.sendall(struct.pack("!L", 0))
            except OSError as exc:  # clamd answers, then closes, once a stream passes its limit
                sent_error: OSError | None = exc
            else:
                sent_error = None
            try:
                answer = self._answer(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address}: {sent_error or exc}") from None
        if answer.endswith("size limit exceeded. ERROR"):
            raise StreamTooLong(path.name)
        if answer == "stream: OK":
            return None
        if answer.startswith("stream: ") and answer.endswith(" FOUND"):
            return answer[len("stream: "):-len(" FOUND")]
        raise ScannerUnavailable(f"clamd at {self.address} answered {answer!r}" + (f" ({sent_error})" if sent_error else ""))


def scan_folder(files: Path, config: ScanConfig) -> ScanResult:
    """Stream every regular file under `files` to clamd; raises ScannerUnavailable if it is down."""
    clamd = Clamd(config.clamd, config.timeout_seconds)
    result = ScanResult()
    for path in sorted(p for p in files.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(files).as_posix()
        if path.stat().st_size > config.stream_max_bytes:
            result.not_scanned.append(relative)
            continue
        try:
            signature = clamd.scan_file(path)
        except StreamTooLong:
            result.not_scanned.append(relative)
            continue
        if signature is not None:
            result.hits[relative] = signature
    return result


def findings_for(result: ScanResult) -> list[Finding]:
    """What the submitter (hits) and QA (what was not scanned) are told; signatures stay out."""
    out = [finding("format.malware", f"'{path}' contains a virus or other malicious content, so the submission "
                   "cannot be accepted. Please check the computer it came from, then send a clean copy.", path)
           for path in sorted(result.hits)]
    if result.unavailable is not None:
        out.append(finding("scan.not_scanned", "The files were not scanned for viruses because the scanner "
                           "was unavailable."))
    out += [finding("scan.not_scanned", f"'{path}' was not scanned for viruses because it is larger than the "
                    "scanner accepts.", path) for path in result.not_scanned]
    return out


def scan_findings(files: Path, config: ScanConfig) -> tuple[list[Finding], dict[str, Any]]:
    """The scan's findings and its `summary.scan` entry (none when no scanner is configured or the
    folder is missing); `files` is the folder of the submission's files, read and never changed."""
    if not config.clamd or not files.is_dir():
        return [], {}
    try:
        result = scan_folder(files, config)
    except ScannerUnavailable as exc:
        if config.required:
            raise
        log.warning("no virus scan: %s", exc)
        result = ScanResult(unavailable=str(exc))
    return findings_for(result), {"scan": result.to_dict("clamd")}


def scan_report(report: Report, files: Path, config: ScanConfig, severities: dict[str, str]) -> Report:
    """The report with the scan's findings and `summary.scan` added (`secor-intake triage` scans the
    operator's own copy; the daemon adds them where the version is recorded, see scan_submission)."""
    findings, summary = scan_findings(files, config)
    if not summary:
        return report
    return finish_report(report.source, [*report.findings, *findings], severities, {**report.summary, **summary},
                         report.documents)


def scan_submission(files: Path, config: ScanConfig) -> tuple[list[Finding], dict[str, Any]]:
    """`scan_findings` for filing: infected files are also deleted, so the workbench never serves them.
    The report is finished with these findings where the version is recorded."""
    findings, summary = scan_findings(files, config)
    for hit in summary.get("scan", {}).get("hits", []):
        (files / hit["path"]).unlink()
        log.warning("virus found in %r (%s): the file is not stored", hit["path"], hit["signature"])
    return findings, summary
