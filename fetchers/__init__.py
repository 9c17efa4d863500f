"""Share providers and the one safe HTTP download path.

Public API: find_links (fetchers.links), fetch_links and FetchResult (fetchers.fetch); the providers
are registered in fetchers.providers. Nothing is imported here, so that reading the settings
(fetchers.settings) does not load the HTTP stack.
"""
