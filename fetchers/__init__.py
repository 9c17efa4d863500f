"""Share providers and the one safe HTTP download path.

Public API: find_links (links.py), fetch_links and FetchResult (fetch.py).
"""

from fetchers.fetch import FetchResult, fetch_links
from fetchers.links import find_links

__all__ = ["FetchResult", "fetch_links", "find_links"]
