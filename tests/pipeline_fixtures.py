"""The embedded set-up (Maildir inbox, pickup-folder outbox, storage under tmp_path) as a fixture,
on SQLite and PostgreSQL: `setup` gives (config, services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.service import open_services
from tests.pipeline_helpers import maildir_config


@pytest.fixture
def setup(tmp_path: Path, db_url: str):
    config = maildir_config(tmp_path, db_url)
    services = open_services(config)
    yield config, services
    services.close()
