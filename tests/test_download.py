"""The one safe download path against a real HTTPS server: caps, time-outs, names, TLS, proxies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fetchers.fetch import fetch_links
from fetchers.net import Budget, Downloader, LinkProblem, filename_from_disposition, sanitize_name
from tests.servers.providers import SUBMISSION, ProviderServer
from triage.settings import ArchiveLimits

LIMITS = ArchiveLimits()


def dropbox(key: str, name: str = "file.zip") -> str:
    return f"https://www.dropbox.com/s/{key}/{name}?dl=0"


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


# --- Content-Disposition and names ------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("attachment; filename=\"plain.zip\"; filename*=UTF-8''%C3%89l%C3%A9ments%202026.zip", "Éléments 2026.zip"),
    ("attachment; filename*=UTF-8''first.zip; filename=\"second.zip\"", "first.zip"),
    ('attachment; filename="Acme \\"SECOR\\".zip"', 'Acme "SECOR".zip'),
    ("attachment; filename=bare.zip", "bare.zip"),
    ("inline", None),
    (None, None),
])
def test_filename_from_disposition_prefers_rfc5987(header: str | None, expected: str | None) -> None:
    assert filename_from_disposition(header) == expected


@pytest.mark.parametrize("raw, expected", [
    ("../../etc/cron.d/evil.zip", "evil.zip"),
    ("..\\..\\Windows\\evil.zip", "evil.zip"),
    ("name\x00with\x1fcontrols.pdf", "name_with_controls.pdf"),
    (".hidden.zip", "hidden.zip"),
    ("CON.pdf", "_CON.pdf"),
    ("", "download"),
    ("..", "download"),
])
def test_sanitize_name_keeps_one_safe_component(raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected


def test_sanitize_name_shortens_long_names_and_keeps_the_extension() -> None:
    name = sanitize_name("é" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 200


# --- successful downloads ---------------------------------------------------------------------------

def test_content_disposition_name_and_bytes_are_kept(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("utf8")], link_settings, LIMITS, tmp_path)
    assert result.findings == []
    assert result.name == "Éléments SECOR 2026.zip"
    assert result.path == tmp_path / "Éléments SECOR 2026.zip"
    assert result.path.read_bytes() == SUBMISSION


def test_hostile_file_name_is_sanitised(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("pathy")], link_settings, LIMITS, tmp_path / "dest")
    assert result.path == tmp_path / "dest" / "evil.zip"
    assert files_in(tmp_path) == ["dest/evil.zip"]


def test_chunked_zip_without_length_is_downloaded_whole(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://www.dropbox.com/sh/a1b2/c3d4?dl=0"], link_settings, LIMITS, tmp_path)
    assert result.findings == []
    assert result.path.name == "Acme Folder.zip"
    assert result.path.read_bytes() == SUBMISSION


def test_progress_reports_growing_byte_counts(link_settings, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    fetch_links([dropbox("plain")], link_settings, LIMITS, tmp_path, progress=lambda n, total: seen.append((n, total)))
    assert seen and seen[-1] == (len(SUBMISSION), len(SUBMISSION))
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)


def test_several_links_are_one_submission_in_one_folder(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("plain"), dropbox("plain"), dropbox("sclfile")], link_settings, LIMITS, tmp_path)
    assert result.findings == []
    assert result.path == tmp_path
    assert files_in(tmp_path) == ["Acme SCL.zip", "Acme SECOR 2026 (2).zip", "Acme SECOR 2026.zip"]


def test_one_failing_link_among_several_keeps_the_others_and_reports_it(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("plain"), dropbox("deleted")], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.not_found"]
    assert result.transient is False
    assert files_in(tmp_path) == ["Acme SECOR 2026.zip"]


def test_environment_proxies_and_netrc_are_ignored(provider_server, link_settings, tmp_path: Path,
                                                    monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a dead proxy: using it would fail
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    (tmp_path / "netrc").write_text("machine www.dropbox.com login spy password secret\n")
    result = fetch_links([dropbox("plain")], link_settings, LIMITS, tmp_path / "dest")
    assert result.findings == []
    assert provider_server.credentials_seen == []


# --- caps -------------------------------------------------------------------------------------------

def test_byte_cap_without_content_length(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("bigchunked")], link_settings, ArchiveLimits(max_archive_bytes=100_000), tmp_path)
    assert codes(result) == ["archive.too_large"]
    assert result.path is None and result.transient is False
    assert files_in(tmp_path) == []  # no partial file left behind


def test_declared_length_over_the_cap_is_refused_before_reading(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("bigdeclared")], link_settings, ArchiveLimits(max_archive_bytes=1_000_000), tmp_path)
    assert codes(result) == ["archive.too_large"]
    assert "1 MB" in result.findings[0].message
    assert files_in(tmp_path) == []


def test_cap_counts_every_link_of_a_submission(link_settings, tmp_path: Path) -> None:
    limits = ArchiveLimits(max_archive_bytes=len(SUBMISSION) * 2 - 10)
    result = fetch_links([dropbox("plain"), dropbox("utf8"), dropbox("sclfile")], link_settings, limits, tmp_path)
    assert codes(result) == ["archive.too_large"]  # the third link is not even tried


def test_content_length_shorter_than_the_body_never_yields_more(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("shortcl")], link_settings, LIMITS, tmp_path)
    assert result.path is not None
    assert result.path.stat().st_size == 1000  # what was declared, not the 200 000 bytes pushed


def test_content_length_longer_than_the_body_is_a_dropped_connection(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("longcl")], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient
    assert files_in(tmp_path) == []


def test_dropped_connection_is_transient(link_settings, tmp_path: Path) -> None:
    result = fetch_links([dropbox("drop")], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient
    assert "dropped" in result.findings[0].message


# --- time ---------------------------------------------------------------------------------------------

def test_trickling_server_cannot_hold_a_worker(provider_server: ProviderServer, tmp_path: Path) -> None:
    settings = provider_server.settings(read_timeout_seconds=0.5, deadline_seconds=1.5, min_bytes_per_second=1000)
    result = fetch_links([dropbox("trickle")], settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient
    assert "too slowly" in result.findings[0].message or "longer than" in result.findings[0].message


def test_total_deadline_applies_even_at_an_acceptable_rate(provider_server: ProviderServer, tmp_path: Path) -> None:
    settings = provider_server.settings(read_timeout_seconds=2.0, deadline_seconds=0.5, min_bytes_per_second=1)
    result = fetch_links([dropbox("trickle")], settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"]
    assert "longer than 0.5 seconds" in result.findings[0].message


def test_read_timeout_before_the_first_byte(provider_server: ProviderServer, tmp_path: Path) -> None:
    settings = provider_server.settings(read_timeout_seconds=0.5)
    result = fetch_links([dropbox("slowhead")], settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient
    assert "did not answer in time" in result.findings[0].message


def test_deadline_cuts_a_server_that_holds_back_its_headers(provider_server: ProviderServer, tmp_path: Path) -> None:
    # The server waits 3 s before answering; the read time-out (5 s) alone would let it finish.
    settings = provider_server.settings(read_timeout_seconds=5.0, deadline_seconds=1.0)
    result = fetch_links([dropbox("slowhead")], settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"]
    assert "longer than 1 seconds" in result.findings[0].message


@pytest.mark.parametrize("key", ["broken", "busy"])
def test_5xx_and_429_are_transient(link_settings, tmp_path: Path, key: str) -> None:
    result = fetch_links([dropbox(key)], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient


# --- HTML is never a document -------------------------------------------------------------------

@pytest.mark.parametrize("key", ["html", "htmlnotype"])
def test_html_page_where_a_file_was_expected_is_not_a_document(link_settings, tmp_path: Path, key: str) -> None:
    result = fetch_links([dropbox(key)], link_settings, LIMITS, tmp_path)
    assert result.path is None
    assert codes(result) == ["link.unsupported"]
    assert "web page instead of a file" in result.findings[0].message
    assert files_in(tmp_path) == []


# --- TLS ------------------------------------------------------------------------------------------

def _downloader(settings, tmp_path: Path) -> Downloader:
    return Downloader(settings=settings, budget=Budget(10_000_000), tmp_dir=tmp_path)


def test_certificate_is_checked_against_the_host_name_not_the_address(provider_server: ProviderServer,
                                                                      tmp_path: Path) -> None:
    # The server answers for this name but its certificate does not cover it.
    settings = provider_server.settings(extra_hosts=["files.acme-mirror.example"])
    settings = dataclasses.replace(settings, resolve={**settings.resolve,
                                                      "files.acme-mirror.example": f"127.0.0.1:{provider_server.port}"})
    downloader = _downloader(settings, tmp_path)
    with pytest.raises(LinkProblem) as problem:
        downloader.fetch("https://files.acme-mirror.example/file.zip")
    assert problem.value.code == "link.unavailable"
    assert "could not be verified" in problem.value.message
    downloader.close()


def test_untrusted_ca_is_refused(provider_server: ProviderServer, tmp_path: Path) -> None:
    result = fetch_links([dropbox("plain")], provider_server.settings(ca_bundle=""), LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"]
    assert "could not be verified" in result.findings[0].message


def test_sni_and_host_header_carry_the_provider_name(provider_server: ProviderServer, tmp_path: Path) -> None:
    before = len(provider_server.requests)
    fetch_links([dropbox("plain")], provider_server.settings(), LIMITS, tmp_path)
    hosts = [host for host, _ in provider_server.requests[before:]]
    assert hosts == ["www.dropbox.com", "uc1a2b3c4d5e.dl.dropboxusercontent.com"]
