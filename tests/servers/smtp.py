"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

`SmtpServer` can be stopped and started again on the same port ("SMTP down, then up"), refuse
chosen recipients with 550, and offer STARTTLS with AUTH (a trustme certificate) or implicit TLS.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERNAME = "replies@example.org"
PASSWORD = "s3cret-for-tests"


@dataclass(frozen=True)
class Received:
    mail_from: str  # as aiosmtpd reports it: "<>" for the null sender
    rcpt_tos: list[str]
    raw: bytes  # the message as it arrived (after SMTP dot-unstuffing)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    """Accepts everything except the recipients in `server.refuse`; records each message."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        if address.lower() in self.server.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.server.lock:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Message accepted for delivery"


class _XOAuth2Handler(_Handler):
    """SASL XOAUTH2 only: the bearer token must be valid for the user at the token server."""

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd naming)
        try:
            blob = base64.b64decode(args[1], validate=True) if len(args) == 2 else \
                await server.challenge_auth("", encode_to_b64=False)
            fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        except (binascii.Error, UnicodeDecodeError, ValueError, AttributeError):
            fields = {}
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        ok = self.server.xoauth2 is not None and self.server.xoauth2(user, token)
        with self.server.lock:
            self.server.auth_results.append(ok)
        if ok:
            return AuthResult(success=True, auth_data=user)
        # RFC 7628 3.2.2: an error challenge, answered with an empty line, then 535
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False)  # aiosmtpd then answers 535


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USERNAME \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)


class _QuietController(Controller):
    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # implicit TLS with auth_require_tls=False: aiosmtpd warns, but the connection is TLS
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


@dataclass
class SmtpServer:
    """An aiosmtpd server on 127.0.0.1:`port`; `tls` is None, "starttls" (with AUTH) or "ssl"."""

    port: int = field(default_factory=free_port)
    tls: str | None = None
    cert_dir: Path | None = None
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # lower-cased recipients answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)
    ca_file: Path | None = None
    xoauth2: Callable[[str, str], bool] | None = None  # (user, token) -> valid: XOAUTH2 is the only AUTH
    auth_results: list[bool] = field(default_factory=list)  # each XOAUTH2 attempt: accepted?
    _controller: Controller | None = None

    def __post_init__(self) -> None:
        self._server_context: ssl.SSLContext | None = None
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._server_context)
            assert self.cert_dir is not None, "a TLS server needs cert_dir for its CA file"
            self.ca_file = self.cert_dir / "smtp-ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_file))

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's test CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def start(self) -> None:
        """Listen (again) on the same port; a stopped controller cannot restart, so build a new one."""
        kwargs: dict[str, Any] = {}
        if self.tls == "starttls" and self.xoauth2 is not None:
            kwargs = {"tls_context": self._server_context, "require_starttls": True, "auth_required": True,
                      "auth_exclude_mechanism": ["LOGIN", "PLAIN"]}
        elif self.tls == "starttls":
            kwargs = {"tls_context": self._server_context, "require_starttls": True, "auth_required": True,
                      "authenticator": _authenticate}
        elif self.tls == "ssl":
            kwargs = {"ssl_context": self._server_context, "auth_required": True, "authenticator": _authenticate,
                      "auth_require_tls": False}  # aiosmtpd's check knows STARTTLS only; this is TLS throughout
        handler = _XOAuth2Handler(self) if self.xoauth2 is not None else _Handler(self)
        self._controller = _QuietController(handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH) on a free loopback port."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_tls_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS and AUTH (USERNAME / PASSWORD); trust `ca_file`."""
    server = SmtpServer(tls="starttls", cert_dir=tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def xoauth2_smtp_server(tmp_path: Path, token_server: Any) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS and takes only AUTH XOAUTH2 with a token `token_server`
    says is valid for the user; trust `ca_file`."""
    server = SmtpServer(tls="starttls", cert_dir=tmp_path,
                        xoauth2=lambda user, token: bool(user) and token_server.user_of(token) == user)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtps_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An implicit-TLS SMTP server (port-465 style) that requires AUTH; trust `ca_file`."""
    server = SmtpServer(tls="ssl", cert_dir=tmp_path)
    server.start()
    yield server
    server.stop()
