"""OAuth2 on IMAP and SMTP against real servers: the tests' own token server over TLS
(tests/servers/oauth2.py), Dovecot's oauth2 passdb asking it about each token, and an SMTP server
that takes only XOAUTH2 with a token it knows. The real CLI runs as operators run it."""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from intake.config import ConfigError, load_config
from intake.oauth2 import OAuth2Settings, TokenSource, device_url_of
from intake.tls import client_context
from tests import mailfactory
from tests.daemon_helpers import RunningDaemon
from tests.oauth2_helpers import OAuth2Setup, no_secret_in
from tests.pipeline_helpers import ROOT, run_cli
from tests.servers.oauth2 import BAD_SECRET, TokenServer

pytestmark = pytest.mark.server

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def oauth2_setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server) -> OAuth2Setup:
    return OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server)


def post(token_server: TokenServer, form: dict[str, str]) -> tuple[int, dict]:
    """A token request of the test's own, as another client would make it."""
    request = urllib.request.Request(token_server.token_url, data=urllib.parse.urlencode(form).encode())
    try:
        with urllib.request.urlopen(request, context=client_context(str(token_server.ca_file)), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_client_credentials_poll_takes_mail_and_replies_over_xoauth2_with_one_token(oauth2_setup: OAuth2Setup):
    setup = oauth2_setup
    setup.append(mailfactory.submission_with_zip())
    done = setup.poll()
    assert done.returncode == 0, done.stderr
    assert setup.folder_counts()["INBOX"] == 0
    assert len(setup.smtp.messages()) == 1
    assert setup.smtp.auth_results == [True]
    # IMAP and SMTP of one process share one token source: one grant for both logins
    assert setup.grants() == 1
    assert setup.dovecot.root.joinpath("dovecot.log").read_text().count(f"imap({setup.user})") >= 1
    no_secret_in(setup, done.stdout, done.stderr)


def test_a_running_daemon_renews_short_lived_tokens(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        schedule={"poll_seconds": 1.0, "idle": False})
    token_server.clients[setup.client_id].lifetime = 3.0
    with RunningDaemon(setup) as daemon:
        setup.append(mailfactory.submission_with_zip())
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 1, 30)
        daemon.wait_for(lambda: setup.grants() >= 3, 30)  # two renewals: the first token lived 3 s
        setup.append(mailfactory.submission_with_zip(sender="second@acme.example",
                                                         message_id="<second@acme.example>"))
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 2, 30)
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert len(setup.smtp.messages()) == 2
    logins = token_server.introspections.count(setup.user)
    assert 3 <= setup.grants() < logins  # renewed, and reused between renewals (one login a second)
    assert setup.folder_counts()["INBOX"] == 0
    no_secret_in(setup, daemon.stderr)


def test_a_token_revoked_early_is_renewed_once_and_the_reply_goes_out_once(tmp_path, oauth2_dovecot,
                                                                           xoauth2_smtp_server, token_server):
    """Both sides hold a cached token the server has revoked: the first AUTH of each is refused, the
    second (with a newly fetched token) accepted. [outbound] has an app registration of its own."""
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, outbound_client=True,
                        schedule={"poll_seconds": 1.0, "idle": False})
    smtp_client = setup.outbound_client_id
    with RunningDaemon(setup) as daemon:
        setup.append(mailfactory.submission_with_zip())
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 1, 30)
        assert token_server.revoke_all(setup.user)  # an administrator ends every session
        before = len(token_server.introspections)
        setup.append(mailfactory.submission_with_zip(sender="second@acme.example",
                                                     message_id="<second@acme.example>"))
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 2, 30)
        daemon.wait_for(lambda: setup.folder_counts()["INBOX"] == 0, 10)
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert [m.rcpt_tos for m in setup.smtp.messages()] == [["jane.doe@acme-roofing.ca"], ["second@acme.example"]]
    assert setup.smtp.auth_results == [True, False, True]  # refused once, then the new token
    assert "" in token_server.introspections[before:]  # Dovecot was shown the revoked token, and refused it
    assert setup.grants() == 2 and token_server.grant_count(smtp_client, "client_credentials") == 2
    assert setup.folder_counts()["INBOX"] == 0
    assert b"trying once more with a new token" in daemon.stderr
    no_secret_in(setup, daemon.stderr)


def test_rotated_refresh_tokens_are_saved_0600_and_the_old_ones_are_refused(tmp_path, oauth2_dovecot,
                                                                            xoauth2_smtp_server, token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, grant="refresh_token")
    store = tmp_path / "state" / "refresh-token"
    seen = [setup.first_refresh_token]
    for round_ in (1, 2):  # the second poll starts from the saved token: the configured one is revoked
        setup.append(mailfactory.submission_with_zip(message_id=f"<round{round_}@acme.example>"))
        grants = setup.grants("refresh_token")
        done = setup.poll()
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
        saved = store.read_text().strip()
        assert saved not in seen
        seen.append(saved)
        assert setup.grants("refresh_token") == grants + 1  # IMAP and SMTP shared the one access token
        assert post(token_server, {"grant_type": "refresh_token", "client_id": setup.client_id,
                                   "refresh_token": seen[-2]}) == \
            (400, {"error": "invalid_grant",
                   "error_description": "AADSTS70000: The refresh token was revoked or has expired."})
        no_secret_in(setup, done.stdout, done.stderr)
    assert len(setup.smtp.messages()) == 2 and setup.folder_counts()["INBOX"] == 0


@pytest.mark.parametrize("section", ["mailbox", "outbound"])
def test_a_wrong_client_secret_is_one_line_exit_2_mail_untouched_and_health_1(tmp_path, oauth2_dovecot,
                                                                              xoauth2_smtp_server, token_server,
                                                                              section):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        outbound_client=section == "outbound",
                        **{section: {"oauth2_client_secret": "cs~not-the-secret"}})
    setup.append(mailfactory.submission_with_zip())
    done = setup.poll()
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"secor-intake: {section}: OAuth2 token endpoint {token_server.token_url} refused the client_credentials "
        f"grant: invalid_client: {BAD_SECRET}"]
    assert setup.folder_counts() == {"INBOX": 1}  # nothing moved, no folder made
    assert setup.smtp.messages() == [] and setup.smtp.auth_results == []
    health = run_cli(setup.config_file, "health")
    assert health.returncode == 1
    assert f"{section}: OAuth2 token endpoint" in health.stdout and "invalid_client" in health.stdout
    no_secret_in(setup, done.stdout, done.stderr, health.stdout, health.stderr)
    assert "cs~not-the-secret" not in done.stderr + health.stdout


def test_run_with_a_refused_client_keeps_retrying_and_takes_the_mail_once_it_is_fixed(tmp_path, oauth2_dovecot,
                                                                                       xoauth2_smtp_server,
                                                                                       token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        schedule={"poll_seconds": 1.0, "idle": False})
    right = token_server.clients[setup.client_id].secret
    token_server.clients[setup.client_id].secret = "cs~rotated-by-an-admin"
    setup.append(mailfactory.submission_with_zip())
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(lambda: setup.grants() >= 3, 30)  # at its backoff: 1, 2 s...
        assert daemon.alive()
        assert setup.folder_counts() == {"INBOX": 1} and setup.smtp.messages() == []
        health = run_cli(setup.config_file, "health")
        assert health.returncode == 1 and "invalid_client" in health.stdout
        token_server.clients[setup.client_id].secret = right  # the operator puts things right
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 1, 60)
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert len(setup.smtp.messages()) == 1 and setup.folder_counts()["INBOX"] == 0
    assert b"login refused: mailbox: OAuth2 token endpoint" in daemon.stderr
    no_secret_in(setup, daemon.stderr, health.stdout)


def test_device_authorization_gets_the_first_refresh_token_without_a_browser_on_the_server(
        tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server, grant="refresh_token",
                        mailbox={"oauth2_refresh_token": "", "oauth2_device_url": token_server.device_url,
                                 "oauth2_scope": "https://outlook.office365.com/IMAP.AccessAsUser.All "
                                                 "https://outlook.office365.com/SMTP.Send offline_access"})
    store = tmp_path / "state" / "refresh-token"
    setup.append(mailfactory.submission_with_zip())
    before = setup.poll()
    assert before.returncode == 2
    assert "no OAuth2 refresh token configured or saved" in before.stderr
    assert "secor-intake oauth2 authorize mailbox" in before.stderr

    process = subprocess.Popen([sys.executable, "-m", "intake", "--config", str(setup.config_file), "oauth2",
                                "authorize", "mailbox"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        prompt = process.stdout.readline()
        code = re.search(r"enter the code (\S+) ", prompt).group(1)
        assert f"open {token_server.url}/devicelogin" in prompt
        deadline = time.monotonic() + 20
        while setup.grants(DEVICE_GRANT) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # it polls while the person signs in
        token_server.approve(code)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert setup.grants(DEVICE_GRANT) >= 3  # pending twice at least, then the tokens
    assert f"saved the refresh token in {store}" in out
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert store.read_text().strip() in token_server.refresh
    no_secret_in(setup, prompt, out, err)

    done = setup.poll()  # the saved refresh token serves IMAP and SMTP
    assert done.returncode == 0, done.stderr
    assert len(setup.smtp.messages()) == 1 and setup.folder_counts()["INBOX"] == 0


MAILBOX_OAUTH2 = ('[mailbox]\nkind = "imap"\nhost = "outlook.office365.com"\nusername = "cor@youracsa.ca"\n'
                  'auth = "oauth2"\noauth2_grant = "client_credentials"\n'
                  'oauth2_token_url = "https://login.microsoftonline.com/T/oauth2/v2.0/token"\n'
                  'oauth2_client_id = "app"\noauth2_client_secret = "s"\n'
                  'oauth2_scope = "https://outlook.office365.com/.default"\n')
SMTP_OAUTH2 = '[outbound]\nkind = "smtp"\nhost = "smtp.office365.com"\nauth = "oauth2"\n'


def test_outbound_takes_the_mailbox_oauth2_settings_it_leaves_out(tmp_path):
    (tmp_path / "c.toml").write_text(MAILBOX_OAUTH2 + SMTP_OAUTH2 + 'oauth2_client_id = "smtp-app"\n')
    config = load_config(tmp_path / "c.toml", env={})
    outbound = config.outbound
    assert (outbound.username, outbound.oauth2_client_id, outbound.oauth2_client_secret, outbound.oauth2_grant,
            outbound.oauth2_token_url, outbound.oauth2_scope, outbound.oauth2_refresh_token_store) == (
        "cor@youracsa.ca", "smtp-app", "s", "client_credentials", config.mailbox.oauth2_token_url,
        "https://outlook.office365.com/.default", "var/oauth2-refresh-token")
    assert device_url_of(outbound) == "https://login.microsoftonline.com/T/oauth2/v2.0/devicecode"


@pytest.mark.parametrize("text, key", [
    (MAILBOX_OAUTH2.replace('oauth2_client_secret = "s"\n', ""), "mailbox.oauth2_client_secret: required"),
    (MAILBOX_OAUTH2.replace('"client_credentials"', '"password"'), "mailbox.oauth2_grant: must be one of"),
    (MAILBOX_OAUTH2 + SMTP_OAUTH2 + 'oauth2_token_url = "http://tokens.example.org/token"\n',
     "outbound.oauth2_token_url: must be an https:// URL"),
    (MAILBOX_OAUTH2 + SMTP_OAUTH2 + 'oauth2_token_url = "http://localhost.example.org/token"\n',
     "outbound.oauth2_token_url: must be an https:// URL"),
    (MAILBOX_OAUTH2.replace("client_credentials", "refresh_token") + SMTP_OAUTH2 + 'oauth2_client_id = "other"\n',
     "outbound.oauth2_refresh_token_store: must differ"),
])
def test_each_oauth2_mistake_names_its_key(tmp_path, text, key):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(tmp_path / "c.toml", env={})


def test_client_credentials_with_a_certificate_instead_of_a_secret(tmp_path, oauth2_dovecot, xoauth2_smtp_server,
                                                                   token_server):
    import trustme

    registered, other = (trustme.CA().issue_cert("secor-intake", key_type=trustme.KeyType.RSA) for _ in range(2))
    for name, cert in (("app.pem", registered), ("other.pem", other)):
        (tmp_path / name).write_bytes(cert.cert_chain_pems[0].bytes() + cert.private_key_pem.bytes())
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        mailbox={"oauth2_client_certificate": str(tmp_path / "app.pem")})
    certificate_client = token_server.add_certificate_client(setup.user, registered.cert_chain_pems[0].bytes())
    setup_text = setup.config_file.read_text().replace(setup.client_id, certificate_client) \
        .replace(f'oauth2_client_secret = "{setup.client_secret}"\n', "")
    assert "oauth2_client_secret" not in setup_text
    setup.config_file.write_text(setup_text)
    setup.append(mailfactory.submission_with_zip())
    done = setup.poll()
    assert done.returncode == 0, done.stderr
    assert len(setup.smtp.messages()) == 1 and token_server.grant_count(certificate_client, "client_credentials") == 1

    # the app registration knows another certificate: refused, saying so
    setup.config_file.write_text(setup_text.replace("app.pem", "other.pem"))
    setup.append(mailfactory.submission_with_zip(message_id="<again@acme.example>"))
    done = setup.poll()
    assert done.returncode == 2
    assert "mailbox: OAuth2 token endpoint" in done.stderr and "AADSTS700027" in done.stderr
    assert setup.folder_counts()["INBOX"] == 1
    no_secret_in(setup, done.stderr)
    assert "PRIVATE KEY" not in done.stderr


def test_the_idle_watcher_the_poll_and_the_reply_job_share_one_token(tmp_path, oauth2_dovecot, xoauth2_smtp_server,
                                                                     token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        schedule={"poll_seconds": 600.0, "idle": True})
    with RunningDaemon(setup) as daemon:
        daemon.wait_for(daemon.health_written, 30)  # the first poll ran; the watcher holds IDLE
        setup.append(mailfactory.submission_with_zip())
        daemon.wait_for(lambda: len(setup.smtp.messages()) == 1, 60)  # only IDLE can start this poll
    assert daemon.returncode == 0, daemon.stderr.decode()
    assert len(setup.smtp.messages()) == 1
    assert token_server.introspections.count(setup.user) >= 3  # watcher, two polls (and SMTP, asked directly)
    assert setup.grants() == 1
    no_secret_in(setup, daemon.stderr)


def test_an_unreachable_token_endpoint_is_one_line_naming_it_and_mail_waits(tmp_path, oauth2_dovecot,
                                                                             xoauth2_smtp_server, token_server):
    setup = OAuth2Setup(tmp_path, oauth2_dovecot, xoauth2_smtp_server, token_server,
                        mailbox={"oauth2_token_url": "https://127.0.0.1:9/token", "timeout_seconds": 5.0})
    setup.append(mailfactory.submission_with_zip())
    done = setup.poll()
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("secor-intake: mailbox: OAuth2 endpoint https://127.0.0.1:9/token unreachable: ")
    assert setup.folder_counts() == {"INBOX": 1} and setup.smtp.messages() == []
    no_secret_in(setup, done.stdout, done.stderr)


def test_no_token_in_debug_logs(oauth2_setup: OAuth2Setup):
    """Even at DEBUG, where the IMAP and SMTP libraries log their exchanges, no token is written."""
    setup = oauth2_setup
    setup.append(mailfactory.submission_with_zip())
    done = setup.poll(SECOR_INTAKE_LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert len(setup.smtp.messages()) == 1 and " DEBUG " in done.stderr
    no_secret_in(setup, done.stdout, done.stderr)
    xoauth2 = [base64.b64encode(f"user={setup.user}\x01auth=Bearer {token}\x01\x01".encode()).decode()
               for token in token_server_tokens(setup)]
    assert not any(blob in done.stderr for blob in xoauth2)
    assert "Bearer" not in done.stderr and "dXNlcj" not in done.stderr  # base64 of "user="


def token_server_tokens(setup: OAuth2Setup) -> list[str]:
    with setup.tokens.lock:
        return list(setup.tokens.access)


def test_a_token_is_reused_then_renewed_shortly_before_it_expires(token_server: TokenServer):
    """Proactive renewal, so no server ever sees an expired token: a tenth of the lifetime early."""
    client_id, secret = token_server.add_client("renewal-user")
    token_server.clients[client_id].lifetime = 6.0
    source = TokenSource(OAuth2Settings(grant="client_credentials", token_url=token_server.token_url,
                                        client_id=client_id, client_secret=secret,
                                        ca_bundle=str(token_server.ca_file)), "mailbox")
    first = source.token()
    assert source.token() == first and token_server.grant_count(client_id, "client_credentials") == 1
    time.sleep(5.5)  # past 6 - 0.6 s: renewed although the first is still valid
    second = source.token()
    assert token_server.user_of(first) == "renewal-user"
    assert second != first and token_server.grant_count(client_id, "client_credentials") == 2
    assert source.renew(first) == second  # a job still holding the old one gets the new, no new grant
    assert token_server.grant_count(client_id, "client_credentials") == 2
    assert source.renew(second) != second  # the new one refused: fetched once more
    assert token_server.grant_count(client_id, "client_credentials") == 3
