"""A throwaway Dovecot IMAP server on loopback for the mailbox tests.

The server never touches /etc/dovecot or system ports: it runs from a generated configuration
(`dovecot -F -c <tmp>/dovecot.conf`) with its own base_dir, state_dir and log, a passwd-file
userdb/passdb with plain passwords, Maildir++ storage under the temporary folder, a plain listener
(STARTTLS offered, plaintext login allowed on loopback) and an SSL listener, both on free ports of
127.0.0.1, with a certificate from a trustme test CA.

Privileges: run as an ordinary user, every Dovecot process runs as that user (no chroot). Run as
root, Dovecot's internal processes run as the system users "dovecot"/"dovenull" and mail is owned by
"dovecot" (Dovecot refuses mail access as uid 0); the temporary folder is made traversable for them.

An OAuth2 passdb points at a small introspection endpoint served here, so XOAUTH2 logins are really
verified by Dovecot: `issue_oauth2_token(user)` makes a token it will accept.
"""

from __future__ import annotations

import contextlib
import grp
import http.server
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from intake.mailbox.maildir import folder_dir_name
from tests.servers import require_server
from tests.servers.oauth2 import FormJsonHandler, TokenServer

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "secret-pass"


def dovecot_available() -> bool:
    """True when a Dovecot binary that answers `--version` is installed."""
    if not os.path.exists(DOVECOT):
        return False
    try:
        out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout[:1].isdigit()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited ({proc.returncode}): {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port}: {_tail(log)}")


def _tail(path: Path, chars: int | None = 2000) -> str:
    try:
        text = path.read_text(errors="replace")
        return text if chars is None else text[-chars:]
    except OSError:
        return "(no log)"


class _IntrospectionHandler(FormJsonHandler):
    """RFC 7662-style token introspection: POST token=... -> {"active": ..., "username": ...}."""

    tokens: dict[str, str] = {}

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        user = self.tokens.get(form.get("token", ""))
        return 200, {"active": True, "username": user} if user else {"active": False}


class DroppingProxy:
    """A one-connection-at-a-time TCP proxy that cuts the link after N bytes from the server.

    Used to simulate a connection dropped in the middle of a FETCH.
    """

    def __init__(self, target_port: int, server_bytes_limit: int) -> None:
        self.target_port = target_port
        self.limit = server_bytes_limit
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._closed = False
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        sent = 0

        def client_to_server() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    upstream.sendall(data)

        threading.Thread(target=client_to_server, daemon=True).start()
        with contextlib.suppress(OSError):
            while sent < self.limit and (data := upstream.recv(65536)):
                data = data[: self.limit - sent]
                client.sendall(data)
                sent += len(data)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


@dataclass
class DovecotServer:
    """A running Dovecot; one user per test via `new_user()`."""

    root: Path
    host: str
    port: int  # plain IMAP with STARTTLS
    ssl_port: int  # implicit TLS
    ca_file: Path  # the test CA that signed the server certificate
    mail_uid: int
    mail_gid: int
    tokens: dict[str, str] = field(default_factory=dict)  # OAuth2 token -> user
    password: str = PASSWORD
    command: list[str] = field(default_factory=list)  # how to start the server process
    process: subprocess.Popen | None = None
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def stop(self) -> None:
        """Stop the server (a fault test's outage); `start()` brings it back on the same ports."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait_for_port(self.port, self.process, self.root / "dovecot.log")
        _wait_for_port(self.ssl_port, self.process, self.root / "dovecot.log")

    def new_user(self) -> str:
        """A fresh account with an empty mailbox; its password is `self.password`.

        Each user has its own passwd-file (the path has %u), so Dovecot never serves a stale copy.
        """
        user = f"user{next(self._counter)}-{os.getpid()}"
        home = self.root / "home" / user
        line = f"{user}:{{PLAIN}}{self.password}:{self.mail_uid}:{self.mail_gid}::{home}::\n"
        (self.root / "users" / user).write_text(line)
        return user

    def maildir(self, user: str) -> Path:
        """The user's Maildir++ root (INBOX); folders are `.Name.Sub` below it."""
        return self.root / "home" / user / "Maildir"

    def folder_dir(self, user: str, folder: str) -> Path:
        """A folder's directory ("SECOR/Retourné" -> `<Maildir>/.SECOR.Retourn&AOk-`)."""
        if folder.upper() == "INBOX":
            return self.maildir(user)
        return self.maildir(user) / folder_dir_name(folder)  # Dovecot's Maildir++ layout is ours

    def reset_uidvalidity(self, user: str, folder: str) -> None:
        """Forget a folder's UIDs, so Dovecot gives it a new UIDVALIDITY (as after a restore).

        Call with no session open on the folder; the messages stay and get new UIDs.
        """
        folder_dir = self.folder_dir(user, folder)
        for name in os.listdir(folder_dir):
            if name.startswith("dovecot-uidlist") or name.startswith("dovecot.index"):
                os.remove(folder_dir / name)

    def session_stats(self, user: str, sessions: int, timeout: float = 10.0) -> list[dict[str, int]]:
        """The counters (in, out, body_count, body_bytes...) Dovecot logged for the user's first
        `sessions` finished IMAP sessions; waits for the log lines, which follow the logout."""
        pattern = re.compile(rf"imap\({re.escape(user)}\).*Disconnected: .* in=(\d+) .*")
        deadline = time.monotonic() + timeout
        while True:
            lines = [m.group(0) for m in map(pattern.search, _tail(self.root / "dovecot.log", None).splitlines()) if m]
            if len(lines) >= sessions or time.monotonic() > deadline:
                return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)} for line in lines]
            time.sleep(0.05)

    def kick(self, user: str) -> None:
        """Disconnect the user's sessions from the server side (`doveadm kick`: the client sees BYE/EOF)."""
        subprocess.run([shutil.which("doveadm") or "/usr/bin/doveadm", "-c", str(self.root / "dovecot.conf"),
                        "kick", user], check=True, capture_output=True, timeout=20)

    def issue_oauth2_token(self, user: str) -> str:
        """An access token Dovecot's OAuth2 passdb accepts for `user`."""
        token = f"tok-{user}-{len(self.tokens)}-{os.urandom(8).hex()}"
        self.tokens[token] = user
        return token

    @contextlib.contextmanager
    def dropping_proxy(self, server_bytes_limit: int) -> Iterator[DroppingProxy]:
        """A plain-IMAP port that drops the connection after the server sent that many bytes."""
        proxy = DroppingProxy(self.port, server_bytes_limit)
        try:
            yield proxy
        finally:
            proxy.close()


def _ids() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid) for the current privileges."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, me, os.getuid(), os.getgid()
    mail = pwd.getpwnam("dovecot")
    return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid


def _config(root: Path, port: int, ssl_port: int) -> str:
    internal, login, mail_uid, _ = _ids()
    chroot = "" if os.geteuid() != 0 else "login"
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
instance_name = secor-test-{os.getpid()}
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = {min(mail_uid, 500)}
first_valid_gid = 0
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0 secs
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
namespace inbox {{
  inbox = yes
  separator = .
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
}}
service imap-login {{
  chroot = {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # no slowing down of later logins after a refused one (tests refuse tokens on purpose)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _oauth2_config(introspection_url: str, ca_file: Path | None) -> str:
    return f"""
introspection_mode = post
introspection_url = {introspection_url}
{f"tls_ca_cert_file = {ca_file}" if ca_file else ""}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


@contextlib.contextmanager
def run_dovecot(token_server: TokenServer | None = None) -> Iterator[DovecotServer]:
    """Start Dovecot in a fresh temporary folder; stop it and remove the folder afterwards.

    XOAUTH2 tokens are checked at the fixture's own plain-HTTP introspection endpoint, or at
    `token_server`'s over TLS (Dovecot trusts its test CA).
    """
    import trustme

    # Not under pytest's tmp_path: that tree is private to the test user (0700), and as root
    # Dovecot's own users must traverse it.
    root = Path(tempfile.mkdtemp(prefix="secor-dovecot-"))
    _, _, mail_uid, mail_gid = _ids()
    os.chmod(root, 0o755)
    (root / "home").mkdir()
    os.chown(root / "home", mail_uid, mail_gid)
    (root / "users").mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))

    handler = type("Introspection", (_IntrospectionHandler,), {"tokens": {}})
    oauth = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=oauth.serve_forever, daemon=True).start()

    port, ssl_port = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, ssl_port))
    if token_server is None:
        oauth2_conf = _oauth2_config(f"http://127.0.0.1:{oauth.server_address[1]}/introspect", None)
    else:
        shutil.copy(token_server.ca_file, root / "oauth2-ca.pem")  # where Dovecot's own users can read it
        oauth2_conf = _oauth2_config(token_server.introspection_url, root / "oauth2-ca.pem")
    (root / "oauth2.conf.ext").write_text(oauth2_conf)
    server = DovecotServer(root=root, host="127.0.0.1", port=port, ssl_port=ssl_port, ca_file=root / "ca.pem",
                           mail_uid=mail_uid, mail_gid=mail_gid, tokens=handler.tokens,
                           command=[DOVECOT, "-F", "-c", str(conf)])
    try:
        server.start()
        yield server
    finally:
        server.stop()
        oauth.shutdown()
        oauth.server_close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One Dovecot for the session (skipped locally, failed in CI, when Dovecot is missing)."""
    require_server(dovecot_available(), "Dovecot")
    with run_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def oauth2_dovecot(token_server: TokenServer) -> Iterator[DovecotServer]:
    """A Dovecot for the session whose oauth2 passdb asks `token_server` (over TLS) about tokens."""
    require_server(dovecot_available(), "Dovecot")
    with run_dovecot(token_server) as server:
        yield server


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of one test's own, which the test may stop and start (fault tests)."""
    require_server(dovecot_available(), "Dovecot")
    with run_dovecot() as server:
        yield server
