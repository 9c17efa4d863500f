"""`secor-intake check` against real servers: green on a good configuration, red naming the part for
each broken one, never a secret in its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.db import upgrade
from tests.oauth2_helpers import OAuth2Setup, no_secret_in
from tests.pipeline_helpers import run_cli, write_config

pytestmark = pytest.mark.server

FOLDERS = ["INBOX", "SECOR/Processed", "SECOR/Returned", "SECOR/Ignored", "SECOR/Failed"]


def deployment(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, clamd_socket: str, db_url: str = "",
               folders: list[str] = FOLDERS, **sections: dict) -> OAuth2Setup:
    """A deployment on its first day: database migrated, the folders made."""
    sections.setdefault("scan", {}).setdefault("clamd", clamd_socket)
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, outbound_client=True,
                        db_url=db_url, **sections)
    with setup.client() as client:
        for folder in folders[1:]:
            client.create_folder(folder.replace("/", "."))
    if "database" not in sections:
        upgrade(setup.db_url)
    return setup


def check(setup: OAuth2Setup) -> tuple[int, list[dict]]:
    done = run_cli(setup.config_file, "check", "--json")
    no_secret_in(setup, done.stdout, done.stderr)
    return done.returncode, json.loads(done.stdout)


def test_check_is_green_on_a_good_configuration(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                                                clamd_server, db_url):
    setup = deployment(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, str(clamd_server.socket),
                       db_url=db_url)
    done = run_cli(setup.config_file, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    configuration", "ok    database", "ok    storage", "ok    oauth2 token (mailbox)",
        "ok    oauth2 token (outbound)", "ok    mailbox login",
        *[f"ok    mailbox folder {folder}" for folder in FOLDERS], "ok    outbound", "ok    clamd"]
    assert "XOAUTH2" in lines[-2] and setup.smtp.messages() == []  # logged in, sent nothing
    assert setup.smtp.auth_results == [True]
    no_secret_in(setup, done.stdout, done.stderr)
    code, outcomes = check(setup)
    assert code == 0 and all(o["ok"] is True and o["detail"] for o in outcomes)


def test_a_filing_folder_not_made_yet_is_no_failure_but_is_named(tmp_path, oauth2_dovecot, xoauth2_smtp_server,
                                                                  token_server):
    setup = deployment(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, "", folders=FOLDERS[:3])
    code, outcomes = check(setup)
    assert code == 0, outcomes
    details = {o["check"]: o["detail"] for o in outcomes}
    for folder in FOLDERS[3:]:
        assert details[f"mailbox folder {folder}"] == \
            f"{folder} is not there yet: the first move into it makes it (check the name)"
    assert details["mailbox folder SECOR/Processed"].startswith("SECOR/Processed exists (UIDVALIDITY ")
    with setup.client() as client:  # and check made none
        assert {name for _, _, name in client.list_folders()} == {"INBOX", "SECOR", "SECOR.Processed",
                                                                 "SECOR.Returned"}


BROKEN = {
    "database unreachable": ({"database": {"url": "postgresql+psycopg://secor:pw-in-url@127.0.0.1:9/none"}},
                             {"database": "postgresql+psycopg://secor:***@127.0.0.1:9/none"}),
    "database not migrated": ({"database": {"url": "sqlite:///{tmp}/empty.sqlite3"}},
                              {"database": "has no schema: run `secor-intake db upgrade`"}),
    "database file missing": ({"database": {"url": "sqlite:///{tmp}/new/intake.sqlite3"}},
                              {"database": "no such database file: run `secor-intake db upgrade`"}),
    "storage not writable": ({"storage": {"path": "{tmp}/a-file"}}, {"storage": "a-file"}),
    "mailbox login": ({"mailbox": {"username": "someone-else"}, "outbound": {"username": "{user}"}},
                      {"mailbox login": "XOAUTH2 login for someone-else refused",
                       **{f"mailbox folder {f}": "not tried: the mailbox login failed" for f in FOLDERS}}),
    "a missing inbox folder": ({"mailbox": {"folder": "INBXO"}},
                               {"mailbox folder INBXO": "INBXO does not exist (mailbox.folder: check the name)"}),
    "SMTP login": ({"outbound": {"username": "someone-else"}}, {"outbound": "535"}),
    "token": ({"mailbox": {"oauth2_client_secret": "cs~wrong"}},
              {"oauth2 token (mailbox)": "invalid_client: AADSTS7000215",
               "mailbox login": "invalid_client: AADSTS7000215",
               **{f"mailbox folder {f}": "not tried: the mailbox login failed" for f in FOLDERS}}),
    "clamd": ({"scan": {"clamd": "{tmp}/no-clamd.sock"}}, {"clamd": "no-clamd.sock"}),
}


@pytest.mark.parametrize("broken", BROKEN)
def test_check_is_red_naming_each_broken_part(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, broken):
    overrides, failing = BROKEN[broken]
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    user_hint = {"{tmp}": str(tmp_path)}
    sections = {section: {key: _fill(value, user_hint) for key, value in values.items()}
                for section, values in overrides.items()}
    scan = sections.pop("scan", {"clamd": ""})
    setup = deployment(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, scan["clamd"], **sections)
    if "{user}" in json.dumps(overrides):  # the XOAUTH2 user that the token is for
        _rewrite(setup, "{user}", setup.user)
    code, outcomes = check(setup)
    assert code == 1
    failed = {o["check"]: o["detail"] for o in outcomes if not o["ok"]}
    assert set(failed) == set(failing), outcomes
    for name, words in failing.items():
        assert words in failed[name]
    assert "cs~wrong" not in json.dumps(outcomes) and "pw-in-url" not in json.dumps(outcomes)
    assert not (tmp_path / "new").exists()  # check made no database


def test_check_on_an_invalid_configuration_exits_2(tmp_path):
    config = write_config(tmp_path / "bad.toml", {"outbound": {"kind": "smtp", "host": "smtp.example.org",
                                                              "auth": "oauth2"}})
    done = run_cli(config, "check")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("secor-intake: configuration: outbound.username: required when "
                                   "outbound.auth = \"oauth2\" (or mailbox.username)")


def _fill(value: object, hints: dict[str, str]) -> object:
    if isinstance(value, str):
        for hint, text in hints.items():
            value = value.replace(hint, text)
    return value


def _rewrite(setup: OAuth2Setup, placeholder: str, value: str) -> None:
    path = Path(setup.config_file)
    path.write_text(path.read_text().replace(placeholder, value))
