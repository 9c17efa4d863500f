"""Each provider's share links against the fake providers: success and every failure shape."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from fetchers.fetch import fetch_links
from tests.servers.providers import AUTHKEY, FOLDER_FILES, RESOURCEKEY, RLKEY, SUBMISSION, XLSX, ProviderServer
from triage.settings import ArchiveLimits

LIMITS = ArchiveLimits()
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def requests_during(server: ProviderServer, action: Callable[[], T]) -> tuple[T, list[tuple[str, str]]]:
    """What `action` returned, and the (host, path) requests the server saw while it ran."""
    before = len(server.requests)
    result = action()
    return result, server.requests[before:]


# --- Dropbox ----------------------------------------------------------------------------------------

def test_dropbox_preview_link_downloads_with_dl_1(provider_server, link_settings, tmp_path: Path) -> None:
    result, seen = requests_during(provider_server, lambda: fetch_links(
        ["https://www.dropbox.com/s/plain/Acme%20SECOR.zip?dl=0"], link_settings, LIMITS, tmp_path))
    assert result.findings == [] and result.path.read_bytes() == SUBMISSION
    assert seen[0] == ("www.dropbox.com", "/s/plain/Acme%20SECOR.zip?dl=1")  # the dl=0 preview never fetched
    assert seen[1][0] == "uc1a2b3c4d5e.dl.dropboxusercontent.com"


def test_dropbox_scl_file_keeps_rlkey(provider_server, link_settings, tmp_path: Path) -> None:
    url = f"https://www.dropbox.com/scl/fi/h2x9/Acme%20SCL.zip?rlkey={RLKEY}&st=abc123&dl=0"
    _, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert f"rlkey={RLKEY}" in seen[0][1] and "dl=1" in seen[0][1]
    assert files_in(tmp_path) == ["Acme SCL.zip"]


def test_dropbox_scl_folder_arrives_as_a_zip(link_settings, tmp_path: Path) -> None:
    url = f"https://www.dropbox.com/scl/fo/f0ld3r/AAB7?rlkey={RLKEY}&dl=0"
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert result.name == "Acme SECOR Folder.zip" and result.path.read_bytes() == SUBMISSION


def test_dropbox_link_without_rlkey_needs_no_request(provider_server, link_settings, tmp_path: Path) -> None:
    connections = provider_server.connections
    result = fetch_links(["https://www.dropbox.com/scl/fi/h2x9/Acme.zip?dl=0"], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.sign_in_required"]
    assert "rlkey" in result.findings[0].message and "Copy link" in result.findings[0].message
    assert provider_server.connections == connections


def test_dropbox_wrong_rlkey_is_not_found(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://www.dropbox.com/scl/fi/h2x9/Acme.zip?rlkey=stale&dl=0"], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.not_found"]


def test_dropbox_short_link(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://db.tt/AbCd1234"], link_settings, LIMITS, tmp_path)
    assert result.findings == [] and result.name == "Acme SECOR 2026.zip"


def test_dropbox_private_link_is_sign_in_and_the_login_page_is_never_fetched(provider_server, link_settings,
                                                                               tmp_path: Path) -> None:
    _, seen = requests_during(provider_server, lambda: fetch_links(
        ["https://www.dropbox.com/s/private/Acme.zip?dl=0"], link_settings, LIMITS, tmp_path))
    assert [p for _, p in seen if p.startswith("/login")] == []


@pytest.mark.parametrize("key, code", [("deleted", "link.not_found"), ("expired", "link.not_found"),
                                       ("private", "link.sign_in_required"), ("busy", "link.unavailable")])
def test_dropbox_failures(link_settings, tmp_path: Path, key: str, code: str) -> None:
    result = fetch_links([f"https://www.dropbox.com/s/{key}/Acme.zip?dl=0"], link_settings, LIMITS, tmp_path)
    assert codes(result) == [code]
    assert result.transient is (code == "link.unavailable")
    assert "attach the zip" in result.findings[0].message


# --- Google Drive -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://drive.google.com/file/d/1single/view?usp=sharing",
    "https://drive.google.com/file/u/1/d/1single/view",
    "https://drive.google.com/open?id=1single",
    "https://drive.google.com/uc?id=1single&export=download",
    "https://drive.usercontent.google.com/download?id=1single&export=download&authuser=0",
])
def test_drive_file_link_shapes(link_settings, tmp_path: Path, url: str) -> None:
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert result.findings == []
    assert result.name == "Acme SECOR 2026.zip" and result.path.read_bytes() == SUBMISSION


def test_drive_large_file_warning_form_is_submitted(provider_server, link_settings, tmp_path: Path) -> None:
    result, seen = requests_during(provider_server, lambda: fetch_links(
        ["https://drive.google.com/file/d/1bigfile/view"], link_settings, LIMITS, tmp_path))
    assert result.findings == [] and result.name == "Acme SECOR scans.zip"
    confirmed = [p for h, p in seen if h == "drive.usercontent.google.com" and "confirm=t" in p]
    assert confirmed and f"uuid={provider_server.confirm_uuid}" in confirmed[0]
    assert files_in(tmp_path) == ["Acme SECOR scans.zip"]  # the warning page left nothing behind


def test_drive_quota_page_is_transient(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://drive.google.com/file/d/1quota/view"], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unavailable"] and result.transient
    assert "quota" in result.findings[0].message


def test_drive_resourcekey_is_kept(provider_server, link_settings, tmp_path: Path) -> None:
    url = f"https://drive.google.com/file/d/1rkfile/view?usp=sharing&resourcekey={RESOURCEKEY}"
    _, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert all(f"resourcekey={RESOURCEKEY}" in p for h, p in seen)
    assert files_in(tmp_path) == ["Acme with key.zip"]


@pytest.mark.parametrize("url", ["https://drive.google.com/file/d/1rkfile/view?usp=sharing",  # resourcekey lost
                                 "https://drive.google.com/file/d/1private/view",
                                 "https://drive.google.com/drive/folders/1privfold",
                                 "https://docs.google.com/document/d/1privdoc/edit"])
def test_drive_sign_in(provider_server, link_settings, tmp_path: Path, url: str) -> None:
    result, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert codes(result) == ["link.sign_in_required"]
    assert "anyone with the link" in result.findings[0].message
    assert "accounts.google.com" not in {h for h, _ in seen}


def test_drive_deleted_file_is_not_found(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://drive.google.com/file/d/1gone/view"], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.not_found"]


def test_drive_folder_with_more_than_50_files_subfolders_and_native_docs(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://drive.google.com/drive/folders/1rootfold?usp=sharing"], link_settings, LIMITS,
                         tmp_path)
    assert result.findings == []
    assert result.path == tmp_path / "Acme SECOR 2026" and result.name == "Acme SECOR 2026"
    files = files_in(result.path)
    assert len([f for f in files if f.startswith("Inspection ")]) == FOLDER_FILES
    assert "Element 2 - Hazards/Hazard Assessment.pdf" in files
    assert "Element 2 - Hazards/Hazard Assessment (2).pdf" in files  # same name twice: both kept
    assert "Element 2 - Hazards/Field Level/Field Level Hazard Assessment.pdf" in files
    assert "SECOR Evaluation Tool.pdf" in files and "Orientation Slides.pdf" in files
    assert (result.path / "Hazard Register.xlsx").read_bytes() == XLSX
    assert (result.path / "SECOR Evaluation Tool.pdf").read_bytes().startswith(b"%PDF")
    assert len(files) == FOLDER_FILES + 3 + 3


def test_drive_open_link_to_a_folder(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://drive.google.com/open?id=1subfold"], link_settings, LIMITS, tmp_path)
    assert files_in(result.path) == ["Field Level/Field Level Hazard Assessment.pdf", "Hazard Assessment (2).pdf",
                                     "Hazard Assessment.pdf"]


def test_drive_folder_over_the_entry_limit(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://drive.google.com/drive/folders/1rootfold"], link_settings,
                         ArchiveLimits(max_entries=20), tmp_path)
    assert codes(result) == ["archive.too_large"]
    assert files_in(tmp_path) == []  # the partial tree is removed


# --- Google Docs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url, name, magic", [
    ("https://docs.google.com/document/d/1doctool/edit?usp=sharing", "SECOR Evaluation Tool.pdf", b"%PDF"),
    ("https://docs.google.com/spreadsheets/d/1sheetreg/edit#gid=0", "Hazard Register.xlsx", b"PK"),
    ("https://docs.google.com/presentation/d/1slides/edit", "Orientation Slides.pdf", b"%PDF"),
])
def test_docs_are_exported(link_settings, tmp_path: Path, url: str, name: str, magic: bytes) -> None:
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert result.findings == [] and result.name == name
    assert result.path.read_bytes().startswith(magic)


# --- OneDrive ----------------------------------------------------------------------------------------

def test_onedrive_old_short_link(provider_server, link_settings, tmp_path: Path) -> None:
    _, seen = requests_during(provider_server, lambda: fetch_links(["https://1drv.ms/u/s!OLDTOKEN"], link_settings,
                                                                LIMITS, tmp_path))
    assert ("onedrive.live.com", f"/download?resid=ABC123%21101&authkey=%21{AUTHKEY[1:]}") in seen
    assert files_in(tmp_path) == ["Acme OneDrive.zip"]


def test_onedrive_new_link_without_anonymous_download_says_so(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://1drv.ms/u/c/abc123/NEWTOKEN"], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.sign_in_required"]
    assert "no longer lets this kind of personal OneDrive link be downloaded without signing in" in \
        result.findings[0].message


def test_onedrive_new_link_with_anonymous_download(link_settings, tmp_path: Path) -> None:
    result = fetch_links(["https://1drv.ms/u/c/abc123/OPENTOKEN"], link_settings, LIMITS, tmp_path)
    assert result.findings == [] and result.name == "Acme New OneDrive.zip"


@pytest.mark.parametrize("url", ["https://1drv.ms/u/s!NOKEY", "https://onedrive.live.com/redir?resid=ABC123!101"])
def test_onedrive_without_a_valid_authkey(provider_server, link_settings, tmp_path: Path, url: str) -> None:
    result, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert codes(result) == ["link.sign_in_required"]
    assert "login.live.com" not in {h for h, _ in seen}


# --- SharePoint / OneDrive for Business ----------------------------------------------------------

def test_sharepoint_file_link_with_download_1(provider_server, link_settings, tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/:u:/g/personal/jane_contoso_com/EFILE?e=x1Y2"
    _, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert "download=1" in seen[0][1] and "/_layouts/15/download.aspx" in seen[1][1]
    assert files_in(tmp_path) == ["Acme SharePoint.zip"]


def test_sharepoint_download_aspx_link_is_fetched_as_is(provider_server, link_settings, tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/personal/jane_contoso_com/_layouts/15/download.aspx?share=EFILE"
    _, seen = requests_during(provider_server, lambda: fetch_links([url], link_settings, LIMITS, tmp_path))
    assert seen == [("contoso-my.sharepoint.com", "/personal/jane_contoso_com/_layouts/15/download.aspx?share=EFILE")]
    assert files_in(tmp_path) == ["Acme SharePoint.zip"]


def test_sharepoint_organisation_only_link_ends_in_sign_in(provider_server, link_settings, tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/:u:/r/personal/jane_contoso_com/Documents/Acme.zip?csf=1"
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.sign_in_required"]
    assert not any(h == "login.microsoftonline.com" for h, _ in provider_server.requests)


def test_sharepoint_folder_link_says_what_to_do(link_settings, tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/:f:/g/personal/jane_contoso_com/EFOLDER?e=abc"
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unsupported"]
    assert "Zip the folder" in result.findings[0].message


def test_sharepoint_missing_item(link_settings, tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/:u:/g/personal/jane_contoso_com/EGONE"
    assert codes(fetch_links([url], link_settings, LIMITS, tmp_path)) == ["link.not_found"]


# --- unsupported providers ------------------------------------------------------------------------

@pytest.mark.parametrize("url, provider", [("https://we.tl/t-AbC123", "WeTransfer"),
                                           ("https://wetransfer.com/downloads/abc/def", "WeTransfer"),
                                           ("https://app.box.com/s/q1w2e3r4", "Box"),
                                           ("https://www.example.com/acme.zip", None)])
def test_unsupported_links_name_what_works(provider_server, link_settings, tmp_path: Path, url: str,
                                           provider: str | None) -> None:
    connections = provider_server.connections
    result = fetch_links([url], link_settings, LIMITS, tmp_path)
    assert codes(result) == ["link.unsupported"] and result.transient is False
    message = result.findings[0].message
    assert (provider or url) in message and "Attach the zip" in message and "Google Drive" in message
    assert provider_server.connections == connections


# --- the command line, end to end -------------------------------------------------------------------

def _cli_command(server: ProviderServer, tmp_path: Path, url: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment for `secor-intake triage URL --json` with a [links] section."""
    shutil.copy(server.ca_file, tmp_path / "test-ca.pem")
    resolve = ", ".join(f'"{h}" = "{v}"' for h, v in server.settings().resolve.items())
    config = tmp_path / "secor-intake.toml"
    config.write_text(f'[links]\nresolve = {{ {resolve} }}\nca_bundle = "test-ca.pem"\n'
                      "read_timeout_seconds = 5.0\n", encoding="utf-8")  # ca_bundle relative to the config
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    return ([sys.executable, "-m", "intake", "--config", str(config), "triage", url, "--json"],
            {**env, "PYTHONPATH": str(ROOT)})


def _run_cli(server: ProviderServer, tmp_path: Path, url: str) -> subprocess.CompletedProcess:
    command, env = _cli_command(server, tmp_path, url)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_cli_triages_a_share_link_end_to_end(provider_server, tmp_path: Path) -> None:
    url = "https://www.dropbox.com/s/plain/Acme%20SECOR.zip?dl=0"
    done = _run_cli(provider_server, tmp_path, url)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["source"] == {"kind": "link", "name": "Acme SECOR 2026.zip", "url": url}
    assert report["summary"]["files"] == 3
    assert not [f for f in report["findings"] if f["code"].startswith("link.")]
    assert "downloading" not in done.stderr  # stderr is not a TTY: no progress line


def test_cli_reports_a_link_failure_as_a_finding(provider_server, tmp_path: Path) -> None:
    done = _run_cli(provider_server, tmp_path, "https://www.dropbox.com/s/deleted/Acme.zip?dl=0")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "returned"
    assert [f["code"] for f in report["findings"]] == ["link.not_found"]


def test_cli_shows_progress_on_a_terminal(provider_server, tmp_path: Path) -> None:
    command, env = _cli_command(provider_server, tmp_path, "https://www.dropbox.com/s/plain/Acme%20SECOR.zip?dl=0")
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=terminal, timeout=120)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert done.returncode in (0, 1)
    assert b"downloading:" in shown
    assert b"downloading" not in done.stdout  # the JSON on stdout stays clean
    assert json.loads(done.stdout)["source"]["kind"] == "link"
