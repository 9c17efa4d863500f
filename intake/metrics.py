"""Prometheus metrics (prometheus-client) of the daemon and the workbench, served on `/metrics`.

Counters are counted where the daemon sees the events (a cycle's CycleStats, a reply run's
SendStats, a link download); the database's own state (outbox backlog, messages waiting for a
retry or a person, cases by QA state) is read at scrape time, so every process that shares the
database reports the same numbers. A port that cannot be bound is logged, never fatal: the mail
comes first.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("secor_intake.metrics")

EMAILS = Counter("secor_intake_emails", "Emails taken, by outcome (processed, returned, ignored, "
                 "too_large, copy, failed, abandoned)", ["outcome"])
SUBMISSIONS = Counter("secor_intake_submissions", "Versions filed, by triage verdict", ["verdict"])
REPLIES = Counter("secor_intake_replies", "Reply send attempts, by status (sent, deferred, failed)", ["status"])
POLL_DURATION = Histogram("secor_intake_poll_duration_seconds", "Duration of one intake cycle (successful or not)",
                          buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900))
POLLS = Counter("secor_intake_polls", "Intake cycles, by result (ok, mailbox, database, other)", ["result"])
LAST_SUCCESS = Gauge("secor_intake_last_success_timestamp_seconds", "Unix time of the last successful intake cycle")
LINK_DOWNLOADS = Counter("secor_intake_link_downloads", "Share-link downloads, by provider and result "
                         "(ok, or the link finding code)", ["provider", "result"])
IMAP_RECONNECTS = Counter("secor_intake_imap_reconnects", "Mail watcher (IMAP IDLE) connections opened again "
                          "after a failure")
DECISIONS = Counter("secor_intake_web_decisions", "QA decisions recorded through the workbench", ["decision"])


class DatabaseCollector(Collector):
    """Gauges read from the shared database at scrape time."""

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from intake.db import Case, InboxMessage, Reply

        try:
            with self.sessions() as session:
                backlog = session.scalar(select(func.count(Reply.id)).where(Reply.status.in_(("pending", "sending"))))
                messages = dict(session.execute(select(InboxMessage.state, func.count(InboxMessage.id)).where(
                    InboxMessage.state.in_(("failed", "abandoned"))).group_by(InboxMessage.state)).all())
                cases = dict(session.execute(select(Case.qa_state, func.count(Case.id))
                                             .group_by(Case.qa_state)).all())
        except Exception as exc:  # the database is down: say so, and let the scrape succeed
            log.warning("metrics: database unreadable: %s", exc)
            up = GaugeMetricFamily("secor_intake_database_up", "Whether the database answered this scrape")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("secor_intake_database_up", "Whether the database answered this scrape")
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("secor_intake_outbox_backlog", "Replies waiting to be sent (pending or sending)",
                                value=backlog or 0)
        waiting = GaugeMetricFamily("secor_intake_messages", "Emails that failed and wait for a retry (failed) "
                                    "or for a person (abandoned)", labels=["state"])
        for state in ("failed", "abandoned"):
            waiting.add_metric([state], messages.get(state, 0))
        yield waiting
        by_state = GaugeMetricFamily("secor_intake_cases", "Cases by QA state", labels=["qa_state"])
        for state, number in sorted(cases.items()):
            by_state.add_metric([state], number)
        yield by_state


def serve(host: str, port: int, sessions: Any) -> Any:
    """Serve /metrics on host:port in a thread (with the database gauges); None when off or not bindable."""
    if not port:
        return None
    REGISTRY.register(DatabaseCollector(sessions))
    try:
        server = start_server(host, port)
    except OSError as exc:
        log.error("metrics: cannot listen on %s:%d: %s; running without /metrics", host, port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server


class _MetricsHandler(BaseHTTPRequestHandler):
    """`GET /metrics` (any query) and nothing else: 404 elsewhere, no server software named."""

    server_version = "metrics"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.partition("?")[0] != "/metrics":
            self._answer(404, b"not found\n", "text/plain; charset=utf-8")
            return
        self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(405, b"", "text/plain; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not worth a log line each
        pass


def start_server(host: str, port: int) -> ThreadingHTTPServer:
    """The /metrics server on host:port, in a daemon thread; `shutdown()` stops it."""
    server_class = type("MetricsServer", (ThreadingHTTPServer,), {
        "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET, "daemon_threads": True})
    server = server_class((host, port), _MetricsHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def count_cycle(stats: Any, seconds: float, result: str) -> None:
    """A cycle's CycleStats (None when it failed before any) into the counters."""
    POLL_DURATION.observe(seconds)
    POLLS.labels(result).inc()
    if result == "ok":
        LAST_SUCCESS.set(time.time())
    if stats is None:
        return
    for outcome, number in stats.outcomes.items():
        EMAILS.labels(str(outcome)).inc(number)
    for outcome, number in (("copy", stats.duplicates), ("failed", stats.failed), ("abandoned", stats.abandoned)):
        if number:
            EMAILS.labels(outcome).inc(number)
    for verdict, number in stats.verdicts.items():
        SUBMISSIONS.labels(verdict).inc(number)


def count_replies(stats: Any) -> None:
    for status in ("sent", "deferred", "failed"):
        if getattr(stats, status):
            REPLIES.labels(status).inc(getattr(stats, status))


def count_link_download(url: str, report: Any, transient: bool) -> None:
    from fetchers.links import classify

    kind = classify(url)
    provider = kind.provider if kind is not None else "other"
    problem = next((f.code for f in report.findings if f.code.startswith("link.")), None)
    LINK_DOWNLOADS.labels(provider, "link.unavailable" if transient else problem or "ok").inc()
