"""The registry of share-link providers we download from.

Adding a provider: write a module in this package with a `Provider` subclass (fetchers.providers.base)
and list it in PROVIDERS. Link recognition (fetchers.links), the hosts we connect to and the sign-in
pages we never fetch (fetchers.hosts), and what submitters are told works all follow from this list.
"""

from __future__ import annotations

from fetchers.providers.base import Got, Job, Link, Provider
from fetchers.providers.dropbox import Dropbox
from fetchers.providers.google_docs import GoogleDocs
from fetchers.providers.google_drive import GoogleDrive
from fetchers.providers.onedrive import OneDrive
from fetchers.providers.sharepoint import SharePoint

__all__ = ["PROVIDERS", "Got", "Job", "Link", "Provider", "provider_named", "supported_services_phrase"]

# In the order links are recognised (the first provider that recognises a link gets it).
PROVIDERS: tuple[Provider, ...] = (Dropbox(), GoogleDrive(), GoogleDocs(), OneDrive(), SharePoint())


def provider_named(name: str) -> Provider:
    """The registered provider called `name` (Provider.name); KeyError if there is none."""
    for provider in PROVIDERS:
        if provider.name == name:
            return provider
    raise KeyError(name)


def supported_services_phrase() -> str:
    """The services submitters may share a link from, in words: "Dropbox, Google Drive, OneDrive or SharePoint"."""
    names = [p.display_name for p in PROVIDERS if p.advertised]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
