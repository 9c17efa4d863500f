"""A real OAuth2 authorization server of the tests' own, over TLS on loopback (a trustme test CA).

Endpoints: `/token` (client_credentials; refresh_token with rotation, the old refresh token revoked;
the device-code grant), `/device` (RFC 8628 device authorization) and `/introspect` (RFC 7662, which
Dovecot's oauth2 passdb and the XOAUTH2 SMTP server ask). Access tokens live `access_lifetime`
seconds (short in the tests, so runs must renew them); `revoke()` ends one early.
"""

from __future__ import annotations

import base64
import http.server
import itertools
import json
import os
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

BAD_SECRET = ("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
              "is the client secret value, not the client secret ID.")


@dataclass
class Client:
    user: str  # the mailbox its tokens open
    secret: str  # "" for a public client (device flow)
    lifetime: float | None = None  # of its access tokens; default the server's
    certificate: bytes = b""  # PEM: a client that proves itself with assertions signed by its key


@dataclass
class Device:
    client_id: str
    user_code: str
    approved: bool = False


@dataclass
class TokenServer:
    ca_file: Path
    access_lifetime: float = 3600.0
    device_interval: float = 0.2  # real servers say 5 s
    clients: dict[str, Client] = field(default_factory=dict)
    access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (user, expires at)
    refresh: dict[str, str] = field(default_factory=dict)  # valid refresh token -> client id
    devices: dict[str, Device] = field(default_factory=dict)  # device code -> device
    grants: list[tuple[str, str]] = field(default_factory=list)  # (client id, grant_type) of each token request
    introspections: list[str] = field(default_factory=list)  # users whose tokens were asked about, "" when inactive
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def device_url(self) -> str:
        return f"{self.url}/device"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    def add_client(self, user: str, public: bool = False) -> tuple[str, str]:
        """A new app registration for `user`'s mailbox: (client id, client secret)."""
        with self.lock:
            client_id = f"client-{next(self._ids)}"
            secret = "" if public else f"cs~{os.urandom(12).hex()}"
            self.clients[client_id] = Client(user, secret)
            return client_id, secret

    def add_certificate_client(self, user: str, certificate_pem: bytes) -> str:
        """An app registration that authenticates with a certificate (no secret): its client id."""
        with self.lock:
            client_id = f"client-{next(self._ids)}"
            self.clients[client_id] = Client(user, "", certificate=certificate_pem)
            return client_id

    def issue_refresh_token(self, client_id: str) -> str:
        with self.lock:
            return self._new_refresh(client_id)

    def _new_refresh(self, client_id: str) -> str:
        token = f"rt~{os.urandom(16).hex()}"
        self.refresh[token] = client_id
        return token

    def revoke(self, token: str) -> None:
        """End an access token before its time (an admin revoking sessions)."""
        with self.lock:
            self.access.pop(token, None)

    def revoke_all(self, user: str) -> list[str]:
        with self.lock:
            tokens = [t for t, (u, _) in self.access.items() if u == user]
            for token in tokens:
                del self.access[token]
            return tokens

    def approve(self, user_code: str) -> None:
        """The person signs in and enters the code."""
        with self.lock:
            for device in self.devices.values():
                if device.user_code == user_code:
                    device.approved = True

    def user_of(self, token: str) -> str | None:
        """The user an access token is valid for now, else None."""
        with self.lock:
            user, expires = self.access.get(token, ("", 0.0))
            return user if user and time.monotonic() < expires else None

    def grant_count(self, client_id: str, grant_type: str) -> int:
        with self.lock:
            return self.grants.count((client_id, grant_type))

    # -- the endpoints ---------------------------------------------------------------------------

    def handle(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            if path == "/introspect":
                user, expires = self.access.get(form.get("token", ""), ("", 0.0))
                active = bool(user) and time.monotonic() < expires
                self.introspections.append(user if active else "")
                return 200, {"active": True, "username": user} if active else {"active": False}
            client_id = form.get("client_id", "")
            client = self.clients.get(client_id)
            if client is None:
                return 401, {"error": "invalid_client", "error_description": f"AADSTS700016: unknown client {client_id}"}
            if path == "/device":
                device_code, user_code = f"dc~{os.urandom(8).hex()}", f"U{next(self._ids):04d}"
                self.devices[device_code] = Device(client_id, user_code)
                return 200, {"device_code": device_code, "user_code": user_code, "expires_in": 900,
                             "verification_uri": f"{self.url}/devicelogin", "interval": self.device_interval}
            grant = form.get("grant_type", "")
            self.grants.append((client_id, grant))
            if client.certificate and not self._assertion_valid(client, client_id, form):
                return 401, {"error": "invalid_client",
                             "error_description": "AADSTS700027: Client assertion contains an invalid signature."}
            if client.secret and form.get("client_secret") != client.secret:
                return 401, {"error": "invalid_client", "error_description": BAD_SECRET}
            if grant == "client_credentials":
                return 200, self._tokens(client, None)
            if grant == "refresh_token":
                old = form.get("refresh_token", "")
                if self.refresh.get(old) != client_id:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "AADSTS70000: The refresh token was revoked or has expired."}
                del self.refresh[old]  # rotation: the old one is refused from now on
                return 200, self._tokens(client, client_id)
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                device = self.devices.get(form.get("device_code", ""))
                if device is None or device.client_id != client_id:
                    return 400, {"error": "expired_token", "error_description": "unknown device code"}
                if not device.approved:
                    return 400, {"error": "authorization_pending", "error_description": "waiting for the user"}
                del self.devices[form["device_code"]]
                return 200, self._tokens(client, client_id)
            return 400, {"error": "unsupported_grant_type"}

    def _assertion_valid(self, client: Client, client_id: str, form: dict[str, str]) -> bool:
        """RFC 7523: an RS256 JWT for this endpoint from this client, unexpired, signed by the key of
        the certificate its x5t names."""
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return False
        try:
            header_b64, claims_b64, signature_b64 = form["client_assertion"].split(".")
            header, claims = (json.loads(_unb64url(part)) for part in (header_b64, claims_b64))
            certificate = x509.load_pem_x509_certificate(client.certificate)
            certificate.public_key().verify(_unb64url(signature_b64), f"{header_b64}.{claims_b64}".encode(),
                                            padding.PKCS1v15(), hashes.SHA256())
        except (KeyError, ValueError, InvalidSignature):
            return False
        thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA1())).rstrip(b"=").decode()
        now, skew = time.time(), 60
        return (header.get("alg") == "RS256" and header.get("x5t") == thumbprint
                and claims.get("aud") == self.token_url and claims.get("iss") == claims.get("sub") == client_id
                and claims.get("nbf", 0) <= now + skew and now < claims.get("exp", 0) <= now + 600 + skew)

    def _tokens(self, client: Client, refresh_for: str | None) -> dict:
        token = f"at~{os.urandom(16).hex()}"
        lifetime = client.lifetime or self.access_lifetime
        self.access[token] = (client.user, time.monotonic() + lifetime)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        if refresh_for is not None:
            body["refresh_token"] = self._new_refresh(refresh_for)
        return body


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FormJsonHandler(http.server.BaseHTTPRequestHandler):
    """An OAuth2-style endpoint: a form POSTed, a JSON answer from `answer(path, form)`."""

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        raise NotImplementedError

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        status, body = self.answer(urllib.parse.urlsplit(self.path).path, form)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


class _Handler(FormJsonHandler):
    server_state: TokenServer

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict]:
        return self.server_state.handle(path, form)


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    """The token server for the session (each test registers clients of its own)."""
    import trustme

    folder = tmp_path_factory.mktemp("oauth2")
    os.chmod(folder, 0o755)  # Dovecot's auth process (another user when run as root) reads the CA
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    os.chmod(folder / "ca.pem", 0o644)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    state = TokenServer(ca_file=folder / "ca.pem")
    handler = type("TokenHandler", (_Handler,), {"server_state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state
    httpd.shutdown()
    httpd.server_close()
