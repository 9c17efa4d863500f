"""The container image, built by scripts/image.sh (`make image`) and run with podman.

The module builds the image first (the layer cache makes a rebuild of unchanged sources quick; CI
builds from nothing), then runs it as an admin would: `demo` with nothing mounted, `run` without a
configuration, the daemon and the workbench on a volume with a mounted configuration, and a daemon
polling the Dovecot and answering through the SMTP server of the tests.
"""

from __future__ import annotations

import email
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

import intake
from tests import mailfactory
from tests.daemon_helpers import Setup, scrape_when
from tests.pipeline_helpers import ROOT, write_config
from tests.servers import require_server
from tests.servers.clamd import EICAR, signature_database
from tests.servers.dovecot import free_port

pytestmark = [pytest.mark.server, pytest.mark.timeout(1200)]

IMAGE = "secor-intake:latest"
STAND_INS = {"SECOR_POSTGRES_IMAGE": "secor-postgres-standin:15", "SECOR_CLAMD_IMAGE": "secor-clamd-standin:latest"}
PODMAN_COMPOSE = Path(sys.executable).with_name("podman-compose")  # the test extra's
CONFIG_IN_IMAGE = "/etc/secor-intake/secor-intake.toml"
DATA = "/var/lib/secor-intake"
HOST_FROM_CONTAINER = "10.0.2.2"  # slirp4netns's address for the host's loopback (allow_host_loopback)
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "var" / "podman" / "containers.conf")}


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=PODMAN_ENV)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}")
    return result


def build(log: Path, *targets: str) -> None:
    """scripts/image.sh TARGETS, its output kept in a file (a build prints thousands of lines)."""
    with log.open("wb") as out:
        result = subprocess.run(["bash", str(ROOT / "scripts" / "image.sh"), *targets], stdout=out,
                                stderr=subprocess.STDOUT, timeout=900)
    assert result.returncode == 0, log.read_text(errors="replace")[-5000:]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    """The image and the compose test's stand-ins, in one run of the script (one base image)."""
    require_server(all(shutil.which(tool) for tool in ("podman", "runc", "debootstrap")),
                   "podman, runc and debootstrap (Debian packages)")
    build(tmp_path_factory.mktemp("image") / "build.log", "image", "stand-ins")
    return IMAGE


class Container:
    """A detached `podman run`; removed (with its anonymous volumes) on leaving the block."""

    def __init__(self, *args: str) -> None:
        self.name = f"secor-test-{uuid.uuid4().hex[:12]}"
        self.args = args

    def __enter__(self) -> "Container":
        podman("run", "-d", "--name", self.name, *self.args)
        return self

    def __exit__(self, *exc_info: object) -> None:
        podman("rm", "-f", "-v", "-t", "0", self.name, check=False)

    def wait(self, timeout: float = 120) -> int:
        return int(podman("wait", self.name, timeout=timeout).stdout.strip())

    def logs(self) -> str:
        return podman("logs", self.name).stdout + podman("logs", self.name).stderr

    def healthy(self) -> bool:
        return podman("healthcheck", "run", self.name, check=False).returncode == 0

    def stop_with_sigterm(self) -> int:
        podman("kill", "--signal", "TERM", self.name)
        return self.wait(timeout=100)


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def data_on_volume(**sections: dict) -> dict[str, dict]:
    """Configuration sections that keep the database, storage and health file on the data volume."""
    return {"database": {"url": f"sqlite:///{DATA}/secor-intake.sqlite3"},
            "storage": {"path": f"{DATA}/submissions"},
            "health": {"path": f"{DATA}/health.json"},
            "schedule": {"poll_seconds": 1.0, "reply_seconds": 1.0},
            **sections}


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"secor-test-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", name)
    yield name
    podman("volume", "rm", "-f", name, check=False)


def exec_in(container: str, *command: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(["podman", "exec", "-i", container, *command], input=stdin, capture_output=True,
                            timeout=60, env=PODMAN_ENV)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode()


def test_the_image_is_labelled_with_the_one_version_runs_as_a_user_and_checks_its_health(image):
    [inspected] = json.loads(podman("image", "inspect", image).stdout)
    assert inspected["Labels"]["org.opencontainers.image.version"] == intake.__version__
    assert inspected["Healthcheck"]["Test"] == ["CMD", "secor-intake", "health"]  # kept: Docker format
    assert inspected["Config"]["User"] == "secor"
    assert podman("run", "--rm", image, "--version").stdout.strip() == f"secor-intake {intake.__version__}"
    # The build's mounts (apt sources, CA bundle, pip.conf) leave at most empty mount points behind.
    sizes = podman("run", "--rm", "--entrypoint", "sh", image, "-c",
                   "cat /etc/pip.conf /run/secor-build/ca.crt /etc/apt/sources.list.d/* 2>/dev/null | wc -c")
    assert sizes.stdout.strip() == "0"
    # No compiler in the runtime stage.
    assert podman("run", "--rm", "--entrypoint", "sh", image, "-c", "command -v gcc cc", check=False).stdout == ""


def test_demo_runs_with_nothing_mounted(image):
    with Container(image, "demo") as demo:
        assert demo.wait() == 0, demo.logs()
        output = demo.logs()
    assert "Seeded 4 emails" in output and "One cycle: 4 emails taken" in output
    assert "sign in as demo with the password" in output


def test_run_without_a_configuration_is_refused_in_one_line(image):
    with Container(image, "run") as daemon:
        assert daemon.wait() == 2
        assert daemon.logs().splitlines() == [
            f"secor-intake: configuration: SECOR_INTAKE_CONFIG: no such file {CONFIG_IN_IMAGE}"]


def test_daemon_and_workbench_on_a_volume_behind_published_ports(image, volume, tmp_path):
    """The default container network: /metrics and the sign-in page reached through published ports."""
    config = write_config(tmp_path / "secor-intake.toml", data_on_volume(
        mailbox={"kind": "maildir", "path": f"{DATA}/maildir"},
        outbound={"kind": "file", "path": f"{DATA}/outbox"},
        metrics={"host": "0.0.0.0", "port": 9464},
    ))
    config.chmod(0o644)
    mounts = ["-v", f"{volume}:{DATA}", "-v", f"{config}:{CONFIG_IN_IMAGE}:ro"]
    metrics_port, web_port = free_port(), free_port()
    with Container(*mounts, "-p", f"127.0.0.1:{metrics_port}:9464", image, "run") as daemon:
        assert wait_until(daemon.healthy, 90), daemon.logs()
        polls_ok = ("secor_intake_polls_total", (("result", "ok"),))
        samples = scrape_when(metrics_port, lambda s: s.get(polls_ok), 30)
        assert samples.get(polls_ok, 0) >= 1, (samples, daemon.logs())
        with Container(*mounts, "-p", f"127.0.0.1:{web_port}:8080", image, "web", "--host", "0.0.0.0") as web:
            assert wait_until(lambda: http_status(f"http://127.0.0.1:{web_port}/signin") == 200, 60), web.logs()
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/signin", timeout=5) as response:
                assert b'name="password"' in response.read()
            assert web.stop_with_sigterm() == 0, web.logs()
        assert daemon.stop_with_sigterm() == 0, daemon.logs()


def test_daemon_in_the_image_polls_dovecot_and_replies_over_smtp_on_the_host(image, volume, tmp_path,
                                                                              dovecot_server, smtp_server):
    """The container in a network of its own (slirp4netns) reaches the host's loopback at 10.0.2.2.

    The tests' Dovecot and SMTP server listen on 127.0.0.1 only, as every test server here must; slirp4netns
    carries the container's connections to them without a route off the machine.
    """
    metrics_port = free_port()
    setup = Setup(tmp_path, dovecot_server, smtp_server, "sqlite://", **data_on_volume(
        mailbox={"host": HOST_FROM_CONTAINER, "allow_plaintext_remote": True},  # plain IMAP, to the host's loopback
        outbound={"host": HOST_FROM_CONTAINER},
        metrics={"host": "0.0.0.0", "port": 9464}))
    setup.config_file.chmod(0o644)
    setup.append(mailfactory.submission_with_zip())
    with Container("--network", "slirp4netns:allow_host_loopback=true", "-p", f"127.0.0.1:{metrics_port}:9464",
                   "-v", f"{volume}:{DATA}", "-v", f"{setup.config_file}:{CONFIG_IN_IMAGE}:ro", image, "run") as daemon:
        assert wait_until(lambda: smtp_server.messages(), 120), daemon.logs()
        [received] = smtp_server.messages()
        reply = email.message_from_bytes(received.raw)
        assert "SECOR-" in reply["Subject"] and received.rcpt_tos == ["jane.doe@acme-roofing.ca"]
        assert wait_until(lambda: setup.folder_counts().get("SECOR/Processed") == 1, 30)
        assert setup.folder_counts()["INBOX"] == 0
        assert wait_until(daemon.healthy, 30), daemon.logs()
        sent = ("secor_intake_replies_total", (("status", "sent"),))
        samples = scrape_when(metrics_port, lambda s: s.get(sent), 30)
        assert samples.get(sent) == 1, samples
        assert daemon.stop_with_sigterm() == 0, daemon.logs()


def test_the_clamd_stand_in_carries_the_tests_signature_database():
    folder = ROOT / "tests" / "images" / "clamd"
    assert {name: (folder / name).read_text() for name in signature_database()} == signature_database()


def test_compose_runs_the_daemon_on_postgresql_and_clamd_a_submission_goes_through_and_down_is_clean(
        image, tmp_path):
    require_server(PODMAN_COMPOSE.exists(), "podman-compose (pip install -e '.[test]')")
    project = f"secor-test-{uuid.uuid4().hex[:12]}"
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    write_config(tmp_path / "secor-intake.toml", {
        "mailbox": {"kind": "maildir", "path": f"{DATA}/maildir"},
        "outbound": {"kind": "file", "path": f"{DATA}/outbox"},
        "schedule": {"poll_seconds": 1.0, "reply_seconds": 1.0},
    }).chmod(0o644)
    (tmp_path / ".env").write_text(f"SECOR_DB_PASSWORD={secrets.token_hex(16)}\n")
    web_port = free_port()
    env = {**PODMAN_ENV, **STAND_INS, "SECOR_INTAKE_IMAGE": image, "SECOR_METRICS_PORT": str(free_port()),
           "SECOR_WEB_PORT": str(web_port), "SECOR_WEB_METRICS_PORT": str(free_port())}

    def compose(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PODMAN_COMPOSE), "-p", project, "-f", str(tmp_path / "docker-compose.yml"), *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    daemon, web, postgres = (f"{project}_{service}_1" for service in ("daemon", "web", "postgres"))
    try:
        up = compose("up", "-d")
        assert up.returncode == 0, up.stderr[-3000:]
        # podman 4.3 has no health-conditioned start: the daemon restarts until PostgreSQL answers.
        assert wait_until(lambda: podman("healthcheck", "run", daemon, check=False).returncode == 0, 180), \
            podman("logs", "--tail", "30", daemon).stderr
        raw = mailfactory.submission_with_zip(mailfactory.tiny_zip({"Acme/eicar.com": EICAR}))
        exec_in(daemon, "python3", "-c", "import mailbox, sys; "
                f"mailbox.Maildir('{DATA}/maildir').add(sys.stdin.buffer.read())", stdin=raw)
        assert wait_until(lambda: json.loads(exec_in(daemon, "secor-intake", "submissions", "--json")), 60)
        [case] = json.loads(exec_in(daemon, "secor-intake", "submissions", "--json"))
        shown = json.loads(exec_in(daemon, "secor-intake", "show", case["tracking_number"], "--json"))
        assert shown["summary"]["scan"]["hits"] == [{"path": "Acme/eicar.com", "signature": "Secor.Test.EICAR-Hash.UNOFFICIAL"}]
        assert "format.malware" in [finding["code"] for finding in shown["findings"]]
        stored = exec_in(postgres, "psql", "-U", "secor", "-d", "secor", "-tAc", "select count(*) from submission")
        assert stored.strip() == "1"  # the case is in PostgreSQL
        assert wait_until(lambda: http_status(f"http://127.0.0.1:{web_port}/signin") == 200, 60)
        stop = compose("stop")
        assert stop.returncode == 0, stop.stderr[-3000:]
        exits = podman("ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                       "--format", "{{.Names}} {{.ExitCode}}").stdout.split("\n")
        assert sorted(line for line in exits if line) == sorted(
            f"{project}_{service}_1 0" for service in ("postgres", "clamd", "daemon", "web"))
    finally:
        down = compose("down", "-v")
    assert down.returncode == 0, down.stderr[-3000:]
    label = f"label=io.podman.compose.project={project}"
    assert podman("ps", "-a", "-q", "--filter", label).stdout == ""
    assert podman("volume", "ls", "-q", "--filter", label).stdout == ""
    assert podman("network", "exists", f"{project}_default", check=False).returncode == 1
