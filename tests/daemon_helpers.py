"""A real `secor-intake` against Dovecot, an SMTP server and a database: the daemon and fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from prometheus_client.parser import text_string_to_metric_families

from intake.db import make_engine, session_factory
from tests.pipeline_helpers import ROOT, run_cli, write_config


class Setup:
    """One Dovecot user, one SMTP server, one database: a config file for the real CLI."""

    def __init__(self, tmp_path: Path, dovecot, smtp, db_url: str, imap_port: int | None = None,
                 user: str | None = None, **sections: dict[str, Any]) -> None:
        self.tmp_path, self.dovecot, self.smtp, self.db_url = tmp_path, dovecot, smtp, db_url
        self.user = user or dovecot.new_user()
        values = {
            "mailbox": {"kind": "imap", "host": "127.0.0.1", "port": imap_port or dovecot.port, "security": "none",
                        "username": self.user, "password": dovecot.password, "timeout_seconds": 10.0},
            "outbound": {"kind": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                         "timeout_seconds": 10.0, "retry_base_seconds": 0.0},
            "database": {"url": db_url},
            "storage": {"path": str(tmp_path / "submissions")},
            "health": {"path": str(tmp_path / "health.json")},
            "processing": {"retry_base_seconds": 0.0},
            "schedule": {"poll_seconds": 1.0, "reply_seconds": 1.0},
            "metrics": {"port": 0},  # tests/test_metrics.py gives its daemons a free port
        }
        for section, overrides in sections.items():
            values.setdefault(section, {}).update(overrides)
        self.config_file = write_config(tmp_path / f"secor-intake-{imap_port or 'direct'}.toml", values)

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", self.dovecot.port, ssl=False, timeout=10)
        client.login(self.user, self.dovecot.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.append(folder, raw)

    def folder_counts(self) -> dict[str, int]:
        with self.client() as client:
            folders = [(name, delimiter.decode()) for _, delimiter, name in client.list_folders()]
            return {name.replace(delimiter, "/"): client.folder_status(name, ["MESSAGES"])[b"MESSAGES"]
                    for name, delimiter in folders}

    def poll(self, **env: str) -> subprocess.CompletedProcess:
        return run_cli(self.config_file, "poll", env=env)

    def sessions(self):
        return session_factory(make_engine(self.db_url))


class RunningDaemon:
    """`secor-intake run` as a real process, stopped with SIGTERM on leaving the block.

    Its stderr goes to a file (a pipe nobody reads would fill and block a talkative daemon).
    """

    def __init__(self, setup: Setup, env: dict[str, str] | None = None) -> None:
        self.setup = setup
        self.env = env or {}
        self.returncode: int | None = None
        self.log_path = setup.tmp_path / f"daemon-{time.monotonic_ns()}.log"

    def __enter__(self) -> "RunningDaemon":
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "intake", "--config", str(self.setup.config_file), "run"],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._log,
                                        env={**os.environ, **self.env})
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=90)
        self._log.close()
        self.returncode = self.process.returncode

    @property
    def stderr(self) -> bytes:
        return self.log_path.read_bytes()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, condition, seconds: float) -> None:
        """Wait until condition() holds or the time is up (the caller asserts the outcome)."""
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.1)

    def health_written(self) -> bool:
        return (self.setup.tmp_path / "health.json").exists()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of http://127.0.0.1:port/metrics as {(name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_when(port: int, condition, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            samples = scrape(port)
        except OSError:
            samples = {}
        if samples and condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)
