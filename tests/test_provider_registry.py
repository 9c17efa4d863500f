"""The provider registry: one object per provider, and everything derived from the list."""

from __future__ import annotations

import pytest

from fetchers.hosts import is_login_url, is_provider_host
from fetchers.links import classify, find_links
from fetchers.providers import PROVIDERS, provider_named, supported_services_phrase

EXAMPLES = {
    "dropbox": "https://www.dropbox.com/scl/fi/a1/Acme.zip?rlkey=k&dl=0",
    "google_drive": "https://drive.google.com/drive/folders/1F",
    "google_docs": "https://docs.google.com/document/d/1D/edit",
    "onedrive": "https://1drv.ms/u/s!AbC",
    "sharepoint": "https://contoso.sharepoint.com/:u:/g/personal/jane/EaBc",
}


def test_every_provider_is_registered_once_under_its_own_name() -> None:
    names = [p.name for p in PROVIDERS]
    assert sorted(names) == sorted(EXAMPLES) and len(set(names)) == len(names)
    assert all(provider_named(name).name == name for name in names)
    with pytest.raises(KeyError):
        provider_named("box")


@pytest.mark.parametrize("name, url", EXAMPLES.items())
def test_each_provider_recognises_its_links_and_serves_them_from_its_hosts(name: str, url: str) -> None:
    kind = classify(url)
    assert kind is not None and kind.supported and kind.provider == name
    assert find_links(f"Here it is: {url}") == [url]
    host = url.split("/")[2]
    assert is_provider_host(host) and not is_login_url(url)


def test_sign_in_pages_are_never_provider_hosts() -> None:
    for provider in PROVIDERS:
        assert not any(is_provider_host(h) for h in provider.sign_in_hosts)
        assert all(is_login_url(f"https://{h}/") for h in provider.sign_in_hosts)
        assert all(is_login_url(f"https://{'tenant' + h if h.startswith('.') else h}{path}")
                   for h, path in provider.sign_in_paths)


def test_what_submitters_are_told_names_each_advertised_provider_once() -> None:
    phrase = supported_services_phrase()
    assert phrase == "Dropbox, Google Drive, OneDrive or SharePoint"
    for provider in PROVIDERS:
        assert (provider.display_name in phrase) is provider.advertised
