"""Prometheus /metrics scraped over HTTP from a real `secor-intake run` (Dovecot, SMTP) and `web`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from intake import metrics
from tests import mailfactory
from tests.daemon_helpers import RunningDaemon, Setup, scrape, scrape_when
from tests.pipeline_helpers import ROOT
from tests.servers.smtp import free_port

pytestmark = pytest.mark.server


def test_a_running_daemon_serves_its_counters_while_it_polls(tmp_path, dovecot_server, smtp_server):
    port = free_port()
    setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  metrics={"port": port})
    started = time.time()
    with RunningDaemon(setup) as daemon:
        first = scrape_when(port, lambda s: s.get(("secor_intake_polls_total", (("result", "ok"),)), 0) >= 1, 30)
        assert first[("secor_intake_last_success_timestamp_seconds", ())] >= started - 1
        assert first.get(("secor_intake_emails_total", (("outcome", "processed"),)), 0) == 0
        setup.append(mailfactory.submission_with_zip())
        setup.append(mailfactory.out_of_office())
        # The reply job runs in its own thread: it may send before the cycle that filed the email is counted.
        samples = scrape_when(port, lambda s: s.get(("secor_intake_replies_total", (("status", "sent"),)), 0) >= 1
                              and s.get(("secor_intake_emails_total", (("outcome", "ignored"),)), 0) >= 1, 60)
        assert daemon.alive()
    assert samples[("secor_intake_emails_total", (("outcome", "processed"),))] == 1
    assert samples[("secor_intake_emails_total", (("outcome", "ignored"),))] == 1
    assert samples[("secor_intake_submissions_total", (("verdict", "accepted"),))] + samples.get(
        ("secor_intake_submissions_total", (("verdict", "needs_review"),)), 0) == 1
    assert samples[("secor_intake_replies_total", (("status", "sent"),))] == 1
    assert samples[("secor_intake_poll_duration_seconds_count", ())] >= 2
    assert samples[("secor_intake_poll_duration_seconds_bucket", (("le", "+Inf"),))] >= 2
    assert samples[("secor_intake_outbox_backlog", ())] == 0
    assert samples[("secor_intake_messages", (("state", "abandoned"),))] == 0
    assert samples[("secor_intake_database_up", ())] == 1
    assert samples[("secor_intake_cases", (("qa_state", "new"),))] == 1
    assert ("secor_intake_imap_reconnects_total", ()) in samples
    assert len(smtp_server.messages()) == 1
    with pytest.raises(OSError):  # stopped with the daemon
        scrape(port)


def test_a_failing_mailbox_shows_in_the_poll_counters(tmp_path, dovecot_server, smtp_server):
    port = free_port()
    setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  imap_port=free_port(), metrics={"port": port})  # nothing listens there
    with RunningDaemon(setup) as daemon:
        samples = scrape_when(port, lambda s: s.get(("secor_intake_polls_total", (("result", "mailbox"),)), 0) >= 1, 30)
        assert daemon.alive()
    assert samples[("secor_intake_polls_total", (("result", "mailbox"),))] >= 1
    assert ("secor_intake_last_success_timestamp_seconds", ()) in samples
    assert samples[("secor_intake_last_success_timestamp_seconds", ())] == 0  # never succeeded


def test_a_port_already_taken_is_logged_and_the_daemon_carries_on(tmp_path, dovecot_server, smtp_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      metrics={"port": port})
        setup.append(mailfactory.submission_with_zip())
        with RunningDaemon(setup) as daemon:
            daemon.wait_for(lambda: len(smtp_server.messages()) == 1, 60)
            assert daemon.alive()
    assert len(smtp_server.messages()) == 1
    assert b"metrics: cannot listen" in daemon.stderr


def _answers(url: str, seconds: float) -> int | None:
    """The HTTP status of `url` once something listens there (None if nothing did in time)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                return page.status
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)


def test_the_workbench_serves_metrics_on_its_own_port(tmp_path, dovecot_server, smtp_server):
    metrics_port, web_port = free_port(), free_port()
    setup = Setup(tmp_path, dovecot_server, smtp_server, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  web={"metrics_port": metrics_port, "port": web_port})
    setup.append(mailfactory.submission_with_zip())
    assert setup.poll().returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "intake", "--config", str(setup.config_file), "web"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        samples = scrape_when(metrics_port, lambda s: ("secor_intake_cases", (("qa_state", "new"),)) in s, 30)
        # The metrics server starts before uvicorn listens: wait for the workbench's own port too.
        assert _answers(f"http://127.0.0.1:{web_port}/signin", 30) == 200  # the workbench still answers
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert samples[("secor_intake_cases", (("qa_state", "new"),))] == 1
    assert samples[("secor_intake_outbox_backlog", ())] == 0
    assert process.returncode == 0


def test_link_downloads_are_counted_by_provider_and_result():
    from prometheus_client import REGISTRY

    from triage.findings import finding
    from triage.report import Report, Source

    def downloads(provider: str, result: str) -> float:
        return REGISTRY.get_sample_value("secor_intake_link_downloads_total",
                                         {"provider": provider, "result": result}) or 0

    before = downloads("dropbox", "link.not_found")
    gone = Report(source=Source(kind="link"), findings=[finding("link.not_found", "The link is gone.")])
    metrics.count_link_download(mailfactory.DROPBOX_URL, gone, transient=False)
    assert downloads("dropbox", "link.not_found") == before + 1
    before = downloads("other", "link.unavailable")
    metrics.count_link_download("https://files.example.org/x.zip", Report(source=Source(kind="link"), findings=[]),
                                transient=True)
    assert downloads("other", "link.unavailable") == before + 1


def test_the_metrics_port_answers_only_metrics_and_names_no_server_software():
    from intake.metrics import start_server

    port = free_port()
    server = start_server("127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            assert b"secor_intake_polls" in page.read()
            assert "Python" not in page.headers["Server"] and "WSGI" not in page.headers["Server"]
        for path in ("/", "/favicon.ico", "/metricsx", "/admin/../metrics/x"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            assert refused.value.code == 404, path
            assert "Python" not in refused.value.headers["Server"], path
    finally:
        server.shutdown()
        server.server_close()
