"""SSRF: a share link must never make us connect to anything but a public provider address."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetchers.fetch import fetch_links
from fetchers.net import LinkProblem, check_url, is_ip_literal, is_public_address, resolve_host
from fetchers.settings import LinkSettings
from tests.servers.providers import ProviderServer
from triage.settings import ArchiveLimits

LIMITS = ArchiveLimits()


def run_counted(server: ProviderServer, settings: LinkSettings, url: str, dest: Path):
    """fetch_links, with the connections and requests the server saw meanwhile."""
    connections, requests = server.connections, len(server.requests)
    result = fetch_links([url], settings, LIMITS, dest)
    return result, server.connections - connections, server.requests[requests:]


@pytest.mark.parametrize("variant", ["loopback", "metadata", "mapped", "decimal", "http", "creds", "port", "foreign"])
def test_redirect_to_a_forbidden_target_is_refused(provider_server, link_settings, tmp_path: Path,
                                                   variant: str) -> None:
    url = f"https://www.dropbox.com/s/ssrf-{variant}/Acme.zip?dl=0"
    result, connections, seen = run_counted(provider_server, link_settings, url, tmp_path)
    assert [f.code for f in result.findings] == ["link.unsupported"]
    assert result.path is None and result.transient is False
    assert connections == 1  # the share link's own host, nothing after the redirect
    assert [p for _, p in seen] == ["/s/ssrf-" + variant + "/Acme.zip?dl=1"]


def test_provider_name_resolving_to_a_private_address_is_refused(provider_server, link_settings,
                                                                 tmp_path: Path) -> None:
    # localhost is allowed as a host here, but it is not pinned in `resolve`: DNS (/etc/hosts) says 127.0.0.1.
    settings = provider_server.settings(extra_hosts=["localhost"])
    url = "https://www.dropbox.com/s/ssrf-localhost/Acme.zip?dl=0"
    result, connections, _ = run_counted(provider_server, settings, url, tmp_path)
    assert [f.code for f in result.findings] == ["link.unsupported"]
    assert "private network address" in result.findings[0].message
    assert connections == 1


def test_allow_private_networks_turns_the_address_check_off(provider_server, tmp_path: Path) -> None:
    # The control for the test above: with the check off, a connection to localhost:443 is attempted.
    settings = provider_server.settings(extra_hosts=["localhost"], allow_private_networks=True,
                                        connect_timeout_seconds=2.0)
    url = "https://www.dropbox.com/s/ssrf-localhost/Acme.zip?dl=0"
    result = fetch_links([url], settings, LIMITS, tmp_path)
    assert [f.code for f in result.findings] == ["link.unavailable"]
    assert "private network" not in result.findings[0].message


def test_redirect_loop_stops_at_max_redirects(provider_server, tmp_path: Path) -> None:
    settings = provider_server.settings(max_redirects=3)
    result, _, seen = run_counted(provider_server, settings, "https://www.dropbox.com/s/ssrf-loop/x.zip?dl=0", tmp_path)
    assert [f.code for f in result.findings] == ["link.unavailable"]
    assert len(seen) == 4  # the first request and three redirects


def test_login_redirect_target_is_never_contacted(provider_server, link_settings, tmp_path: Path) -> None:
    result, _, seen = run_counted(provider_server, link_settings,
                                  "https://drive.google.com/file/d/1private/view", tmp_path)
    assert [f.code for f in result.findings] == ["link.sign_in_required"]
    assert {h for h, _ in seen} == {"drive.google.com"}


# --- the checks themselves --------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1", "2001:db8::1",
])
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "162.125.1.18", "142.250.72.14", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001",
                                  "[::1]", "::ffff:7f00:1", "1.2.3.4.", "www.dropbox.com.1"])
def test_ip_literal_spellings(host: str) -> None:
    assert is_ip_literal(host)


@pytest.mark.parametrize("host", ["www.dropbox.com", "cafe.de", "1drv.ms", "db.tt", "uc1a2b.dl.dropboxusercontent.com"])
def test_host_names_are_not_ip_literals(host: str) -> None:
    assert not is_ip_literal(host)


@pytest.mark.parametrize("url, code", [
    ("https://0x7f.1/x", "link.unsupported"),
    ("https://[::ffff:7f00:1]/x", "link.unsupported"),
    ("https://www.dropbox.com@127.0.0.1/x", "link.unsupported"),
    ("https://www.dropbox.com:8443/x", "link.unsupported"),
    ("ftp://www.dropbox.com/x", "link.unsupported"),
    ("https://metadata.google.internal/computeMetadata/v1/", "link.unsupported"),
    ("https://accounts.google.com/ServiceLogin?continue=x", "link.sign_in_required"),
])
def test_check_url_refuses(url: str, code: str) -> None:
    with pytest.raises(LinkProblem) as problem:
        check_url(url, LinkSettings())
    assert problem.value.code == code


def test_resolve_refuses_a_private_answer_unless_pinned_or_allowed() -> None:
    with pytest.raises(LinkProblem) as problem:
        resolve_host("localhost", LinkSettings())
    assert "private network address" in problem.value.message
    assert resolve_host("localhost", LinkSettings(allow_private_networks=True))[0] in ("127.0.0.1", "::1")
    assert resolve_host("localhost", LinkSettings(resolve={"localhost": "127.0.0.1:8443"})) == ("127.0.0.1", 8443)
