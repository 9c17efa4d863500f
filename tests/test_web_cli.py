"""`secor-intake user ...` and `secor-intake web` as processes and through main(); the QA fields of
`submissions --json` and `show --json`."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from intake.cli import main
from tests.pipeline_helpers import ROOT, write_config
from tests.web_helpers import PASSWORD, seed


def _config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path / "secor-intake.toml", {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "maildir")},
        "outbound": {"kind": "file", "path": str(tmp_path / "outbox")},
        "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        "storage": {"path": str(tmp_path / "submissions")},
        "health": {"path": str(tmp_path / "health.json")},
    })


def _run(monkeypatch, capsys, config: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_user_commands_and_their_exit_statuses(tmp_path: Path, monkeypatch, capsys) -> None:
    config = _config_file(tmp_path)
    status, _, err = _run(monkeypatch, capsys, config, "user", "add", "ana", "--role", "admin", stdin=PASSWORD + "\n")
    assert status == 0 and f"added to sqlite:///{tmp_path / 'db.sqlite3'}" in err  # which database it wrote
    status, _, err = _run(monkeypatch, capsys, config, "user", "add", "ana", stdin=PASSWORD + "\n")
    assert status == 2 and "exists" in err
    status, _, err = _run(monkeypatch, capsys, config, "user", "add", "ben", stdin="short\n")
    assert status == 2 and "too weak" in err and len(err.strip().splitlines()) == 1
    secret = tmp_path / "pw"
    secret.write_text("another long passphrase\n")
    assert _run(monkeypatch, capsys, config, "user", "add", "ben", "--password-file", str(secret))[0] == 0
    assert _run(monkeypatch, capsys, config, "user", "disable", "ben")[0] == 0
    assert _run(monkeypatch, capsys, config, "user", "disable", "nobody")[0] == 2
    assert _run(monkeypatch, capsys, config, "user", "passwd", "ana", stdin="a brand new passphrase\n")[0] == 0
    assert _run(monkeypatch, capsys, config, "user", "passwd", "nobody", stdin="a brand new passphrase\n")[0] == 2
    status, out, _ = _run(monkeypatch, capsys, config, "user", "list", "--json")
    listed = {u["username"]: u for u in json.loads(out)}
    assert status == 0 and listed["ana"]["role"] == "admin" and listed["ben"]["disabled"] is True
    assert "password" not in out


def test_submissions_and_show_json_carry_the_qa_fields(tmp_path: Path, monkeypatch, capsys) -> None:
    config = _config_file(tmp_path)
    bench = seed(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    bench.services.close()
    status, out, _ = _run(monkeypatch, capsys, config, "submissions", "--json")
    rows = json.loads(out)
    assert status == 0 and {row["qa_state"] for row in rows} == {"new"}
    status, out, _ = _run(monkeypatch, capsys, config, "show", bench.clean, "--json")
    assert status == 0 and json.loads(out)["qa"] == {"state": "new", "assignee": None, "decision": None,
                                                     "decided_by": None, "decided_at": None, "note": None,
            "due_on": None, "overdue": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_serves_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    config, port = _config_file(tmp_path), _free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "intake", "--config", str(config), "web", "--port", str(port)],
                               env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/signin", timeout=2) as response:
                    page = response.read().decode()
                    assert response.headers["X-Content-Type-Options"] == "nosniff"
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "web did not start"
                time.sleep(0.2)
        assert "Username" in page and "Sign in" in page
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert f"serving the workbench at http://127.0.0.1:{port}/" in process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("problem", ["config", "database"])
def test_web_exits_2_on_bad_config_or_unreachable_database(tmp_path: Path, problem: str) -> None:
    config = _config_file(tmp_path)
    extra = {"SECOR_INTAKE_WEB_PORT": "not-a-port"} if problem == "config" else {
        "SECOR_INTAKE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = subprocess.run([sys.executable, "-m", "intake", "--config", str(config), "web"],
                            env=os.environ | {"PYTHONPATH": str(ROOT)} | extra, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path: Path) -> None:
    from intake.config import ConfigError, load_config

    config = _config_file(tmp_path)
    assert load_config(config, env={"SECOR_INTAKE_WEB_TRUSTED_PROXIES": '["10.0.0.0/24", "::1"]'}).web.trusted_proxies
    with pytest.raises(ConfigError, match="web.trusted_proxies"):
        load_config(config, env={"SECOR_INTAKE_WEB_TRUSTED_PROXIES": '["proxy.example"]'})


def test_user_add_at_a_terminal_prompts_without_echo(tmp_path: Path) -> None:
    import fcntl
    import termios

    config = _config_file(tmp_path)
    controller, terminal = os.openpty()

    def own_terminal() -> None:  # the child's controlling terminal is the pty: getpass opens /dev/tty
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([sys.executable, "-m", "intake", "--config", str(config), "user", "add", "cy"],
                               stdin=terminal, stdout=terminal, stderr=terminal, preexec_fn=own_terminal,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})
    os.close(terminal)
    seen = b""

    def read_until(wanted: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while wanted not in seen:
            assert time.monotonic() < deadline, seen
            try:
                seen += os.read(controller, 1024)
            except OSError:  # the child closed the terminal
                return

    try:
        read_until(b"Password for cy:")
        os.write(controller, PASSWORD.encode() + b"\n")
        read_until(b"again:")
        os.write(controller, PASSWORD.encode() + b"\n")
        assert process.wait(timeout=60) == 0
        read_until(b"added to")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert b"added to sqlite:///" in seen and PASSWORD.encode() not in seen  # the password never echoed
