"""Configuration: file, environment overrides, secret files, and one clear line per mistake."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from intake.config import ConfigError, _sections, load_config
from tests.pipeline_helpers import ROOT, run_cli

EXAMPLE = ROOT / "config" / "secor-intake.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secor-intake.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_live_under_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.mailbox.kind == "maildir" and config.outbound.kind == "file"
    assert config.resolve_path(config.mailbox.path) == tmp_path / "var" / "maildir"
    assert config.database_url == f"sqlite:///{tmp_path}/var/secor-intake.sqlite3"


def test_the_example_names_every_key_and_loads(tmp_path):
    text = EXAMPLE.read_text()
    for section, cls in _sections().items():
        assert f"[{section}]" in text
        for f in dataclasses.fields(cls):
            assert re.search(rf"^{f.name} = ", text, re.MULTILINE), f"{section}.{f.name} missing from the example"
    config = load_config(EXAMPLE, env={"SECOR_INTAKE_MAILBOX_PASSWORD": "x"})
    assert config.mailbox.kind == "imap" and config.outbound.kind == "smtp"


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, '[schedule]\npoll_seconds = 60\n[triage]\nmax_employees = 10\n')
    config = load_config(path, env={"SECOR_INTAKE_SCHEDULE_POLL_SECONDS": "5",
                                    "SECOR_INTAKE_SCHEDULE_IDLE": "false",
                                    "SECOR_INTAKE_TRIAGE_SEVERITIES": '{"label.unclear_name" = "info"}',
                                    "SECOR_INTAKE_LOG_FORMAT": "json"})
    assert config.schedule.poll_seconds == 5.0 and config.schedule.idle is False
    assert config.triage.severities == {"label.unclear_name": "info"}
    assert config.log.format == "json"


def test_secrets_from_files(tmp_path):
    (tmp_path / "imap-password").write_text("s3cret\n")
    (tmp_path / "smtp-password").write_text("other\n")
    path = write(tmp_path, '[mailbox]\nkind = "imap"\nhost = "imap.example.org"\nusername = "cor"\n'
                           'password_file = "imap-password"\n')
    config = load_config(path, env={"SECOR_INTAKE_OUTBOUND_PASSWORD_FILE": str(tmp_path / "smtp-password")})
    assert config.mailbox.password == "s3cret"
    assert config.outbound.password == "other"
    shown = f"{config!r} {config.mailbox!r} {config.outbound!r} {[config, config.mailbox]}"
    assert "s3cret" not in shown and "other" not in shown  # a log line or a traceback never shows them


@pytest.mark.parametrize("text, env, key", [
    ('[mailbox]\ncolour = "blue"\n', {}, "mailbox.colour: unknown key"),
    ('[mailbx]\nkind = "imap"\n', {}, "mailbx: unknown section"),
    ('[schedule]\npoll_seconds = "often"\n', {}, "schedule.poll_seconds: expected float"),
    ('[mailbox]\nkind = "pop3"\n', {}, "mailbox.kind: must be one of imap, maildir"),
    ('[mailbox]\nkind = "imap"\nusername = "cor"\npassword = "x"\n', {}, "mailbox.host: required"),
    ('[mailbox]\nkind = "imap"\nhost = "h"\nusername = "cor"\n', {}, "mailbox.password: required"),
    ('[outbound]\nkind = "smtp"\n', {}, "outbound.host: required"),
    ('[triage]\nseverities = {"label.nope" = "info"}\n', {}, "triage.severities: unknown finding code"),
    ('[triage]\nseverities = {"label.unclear_name" = "fatal"}\n', {}, "triage.severities: severity"),
    ('[links]\nresolve = {"www.dropbox.com" = "127.0.0.1"}\n', {}, "links.resolve.www.dropbox.com"),
    ('[limits]\nmax_entries = -1\n', {}, "limits.max_entries: must not be negative"),
    ('', {"SECOR_INTAKE_LIMITS_MAX_RATIO": "lots"}, "SECOR_INTAKE_LIMITS_MAX_RATIO"),
    ('[mailbox]\npassword_file = "/nonexistent/secret"\n', {}, "mailbox.password_file: cannot read"),
    ('not toml at all [', {}, "not valid TOML"),
])
def test_each_mistake_names_its_key(tmp_path, text, env, key):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text), env=env)
    assert key in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_configuration_stops_the_cli_with_one_line_and_exit_2(tmp_path):
    result = run_cli(write(tmp_path, '[schedule]\npoll_seconds = "often"\n'), "poll")
    assert result.returncode == 2
    assert result.stderr.strip() == "secor-intake: configuration: schedule.poll_seconds: expected float, got str 'often'"


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path, '[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none"\n')
    result = run_cli(path, "poll")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("secor-intake: database unreachable:")


def test_json_log_format_gives_one_object_per_line(tmp_path):
    import json

    (tmp_path / "maildir").mkdir()
    path = write(tmp_path, f'[mailbox]\npath = "{tmp_path / "maildir"}"\n[database]\nurl = "sqlite:///{tmp_path / "db.sqlite3"}"\n'
                           '[log]\nformat = "json"\n')
    result = run_cli(path, "poll")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any("cycle:" in line["message"] for line in lines)
