"""Real servers for the tests: Dovecot (IMAP), aiosmtpd (SMTP), PostgreSQL, HTTPS share-link providers.

A test that needs a server that is missing is skipped on a developer machine and fails in CI
(CI=true), so a green CI run never hides an untested path.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_server(available: bool, what: str) -> None:
    """Skip (developer machine) or fail (CI) when `what` is not available."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")
