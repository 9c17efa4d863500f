"""OAuth2 access tokens for SASL XOAUTH2 logins, shared by the IMAP mailbox and the SMTP transport.

Grants (`oauth2_grant`):
- "client_credentials" (RFC 6749 4.4): the app's own identity, `client_id` and `client_secret` in
  the form, or instead of the secret a client assertion signed with the app's certificate
  (`oauth2_client_certificate`, RFC 7523); Microsoft's recommended way for a service;
- "refresh_token" (RFC 6749 6): a refresh token got once by a person (`secor-intake oauth2
  authorize`, RFC 8628 device flow); a rotated one is saved (0600) in `oauth2_refresh_token_store`
  before the new access token is used, and a saved one wins over the configured one;
- "command": `oauth2_token_command` prints an access token (for operators who keep tokens elsewhere).

One `TokenSource` per process and per credential set (`shared_token_source`): the poll, the IDLE
watcher and the reply job reuse one access token until shortly before its `expires_in`, and a
server that refuses one gets exactly one freshly fetched token (`renew`).

Errors are one line naming the configuration section and the endpoint's `error` /
`error_description`: `TokenRefused` (an operator must act) or `TokenUnavailable` (try again later).
No secret (client secret, refresh or access token) is ever put in a message.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from intake.mailbox.base import LoginRefused, MailboxError

if TYPE_CHECKING:
    from intake.config import MailboxConfig, OutboundConfig

GRANTS = ("client_credentials", "refresh_token", "command")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 600  # Microsoft takes at most 10 minutes
RENEW_BEFORE_SECONDS = 60.0  # a token this close to its expiry is renewed before use...
RENEW_BEFORE_FRACTION = 0.1  # ...or this share of its lifetime, for short-lived tokens


class TokenRefused(LoginRefused):
    """The token endpoint refused the client or the grant (or the command failed): an operator must act."""


class TokenUnavailable(MailboxError):
    """The token endpoint could not be reached or gave no token: try again later."""


@dataclass(frozen=True)
class OAuth2Settings:
    """One credential set; equal settings share one TokenSource in a process."""

    grant: str
    token_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    client_certificate: str = ""  # PEM file: the app's certificate and its private key
    scope: str = ""
    refresh_token: str = field(default="", repr=False)
    store: Path | None = None  # refresh_token grant: where rotated refresh tokens are kept
    command: str = ""
    device_url: str = ""  # device authorization endpoint (RFC 8628)
    ca_bundle: str = ""  # extra CA file for the endpoint's TLS, besides the system's roots
    timeout: float = 60.0

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.refresh_token) if s)

    def endpoint(self) -> str:
        """The token URL without its query, for messages."""
        parts = urllib.parse.urlsplit(self.token_url)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def grant_of(config: MailboxConfig | OutboundConfig) -> str:
    """The configured grant; by default "command" when a token command is set, else "refresh_token"."""
    return config.oauth2_grant or ("command" if config.oauth2_token_command else "refresh_token")


def device_url_of(config: MailboxConfig | OutboundConfig) -> str:
    """`oauth2_device_url`, else the device endpoint beside Microsoft's or Google's token endpoint."""
    if config.oauth2_device_url:
        return config.oauth2_device_url
    url = config.oauth2_token_url
    if url.startswith("https://login.microsoftonline.com/") and url.endswith("/oauth2/v2.0/token"):
        return url.removesuffix("token") + "devicecode"
    if url == "https://oauth2.googleapis.com/token":
        return "https://oauth2.googleapis.com/device/code"
    return ""


def settings_for(config: MailboxConfig | OutboundConfig, resolve_path: Callable[[str], Path]) -> OAuth2Settings:
    """The credential set a section's `oauth2_*` keys describe (paths made absolute)."""
    grant = grant_of(config)
    return OAuth2Settings(
        grant=grant, token_url=config.oauth2_token_url, client_id=config.oauth2_client_id,
        client_secret=config.oauth2_client_secret, scope=config.oauth2_scope,
        client_certificate=str(resolve_path(config.oauth2_client_certificate)) if config.oauth2_client_certificate else "",
        refresh_token=config.oauth2_refresh_token,
        store=resolve_path(config.oauth2_refresh_token_store) if config.oauth2_refresh_token_store else None,
        command=config.oauth2_token_command, device_url=device_url_of(config),
        ca_bundle=str(resolve_path(config.ca_bundle)) if config.ca_bundle else "",
        timeout=config.timeout_seconds)


def validate(section: str, config: MailboxConfig | OutboundConfig) -> None:
    """Raise ConfigError naming the key a section's grant needs and lacks."""
    from intake.config import ConfigError

    grant = grant_of(config)
    needed = {"command": ("oauth2_token_command",),
              "client_credentials": ("oauth2_token_url", "oauth2_client_id", "oauth2_client_secret"),
              "refresh_token": ("oauth2_token_url", "oauth2_client_id", "oauth2_refresh_token_store")}[grant]
    if grant == "client_credentials" and config.oauth2_client_certificate:
        needed = ("oauth2_token_url", "oauth2_client_id")  # the certificate stands for the secret
    for key in needed:
        if not getattr(config, key):
            raise ConfigError(f"{section}.{key}: required when {section}.auth = \"oauth2\" "
                              f"and oauth2_grant = \"{grant}\"")
    if grant != "command":
        from intake.mailbox.imap import is_loopback

        url = urllib.parse.urlsplit(config.oauth2_token_url)
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.hostname or "")):
            raise ConfigError(f"{section}.oauth2_token_url: must be an https:// URL")


class TokenSource:
    """Access tokens for one credential set, cached until shortly before they expire; thread-safe."""

    def __init__(self, settings: OAuth2Settings, label: str) -> None:
        self.settings = settings
        self.label = label  # the configuration section(s) using it, for messages
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0  # time.monotonic() after which the cached token is not used

    def token(self) -> str:
        """A valid access token: the cached one, or a new one."""
        with self._lock:
            if self._token and time.monotonic() < self._renew_at:
                return self._token
            return self._fetch()

    def renew(self, refused: str) -> str:
        """A new access token after a server refused `refused` (revoked early, or expired by its clock).

        When another job already replaced that token, its replacement is returned.
        """
        with self._lock:
            if self._token and self._token != refused and time.monotonic() < self._renew_at:
                return self._token
            return self._fetch()

    def fresh(self) -> str:
        """A newly fetched token, whatever is cached (`secor-intake check` tries the endpoint for real)."""
        with self._lock:
            return self._fetch()

    def _fetch(self) -> str:
        s = self.settings
        self._token, self._renew_at = "", 0.0
        if s.grant == "command":
            return self._run_command()  # no lifetime known: run it for every login
        if s.grant == "client_credentials" and s.client_certificate:
            form = {"grant_type": "client_credentials", "client_id": s.client_id,
                    "client_assertion_type": JWT_BEARER_ASSERTION,
                    "client_assertion": client_assertion(s, self.label)}
        elif s.grant == "client_credentials":
            form = {"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": s.client_secret}
        else:
            refresh = self._current_refresh_token()
            form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": s.client_id}
            if s.client_secret:
                form["client_secret"] = s.client_secret
        if s.scope:
            form["scope"] = s.scope
        status, body = post_form(s, s.token_url, form, self.label)
        if status != 200:
            raise refusal(self.label, f"refused the {s.grant} grant", status, body, s)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenUnavailable(f"{self.label}: OAuth2 token endpoint {s.endpoint()} answered without an access token")
        rotated = body.get("refresh_token")
        if s.grant == "refresh_token" and s.store and isinstance(rotated, str) and rotated \
                and rotated != form["refresh_token"]:
            save_secret(s.store, rotated)  # before use: the old one may be revoked from now on
        lifetime = _seconds(body.get("expires_in"))
        if lifetime is not None:
            margin = min(RENEW_BEFORE_SECONDS, lifetime * RENEW_BEFORE_FRACTION)
            self._token, self._renew_at = token, time.monotonic() + lifetime - margin
        return token

    def _current_refresh_token(self) -> str:
        """The saved refresh token, read afresh (another process may have rotated it), else the configured one."""
        s = self.settings
        saved = ""
        if s.store is not None:
            try:
                saved = s.store.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise TokenUnavailable(f"{self.label}: cannot read {s.store}: {exc.strerror}") from None
        token = saved or s.refresh_token
        if not token:
            raise TokenRefused(f"{self.label}: no OAuth2 refresh token configured or saved in {s.store}; "
                               f"run `secor-intake oauth2 authorize {self.label.split()[0]}`")
        return token

    def _run_command(self) -> str:
        argv = shlex.split(self.settings.command)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.settings.timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise TokenRefused(f"{self.label}: oauth2_token_command could not run: {exc}") from None
        token = done.stdout.strip()
        if done.returncode != 0 or not token:
            detail = done.stderr.strip().splitlines()[-1:] or ["no token on stdout"]
            raise TokenRefused(f"{self.label}: oauth2_token_command failed (exit {done.returncode}): {detail[0]}")
        return token


def client_assertion(settings: OAuth2Settings, label: str) -> str:
    """A JWT (RS256) naming the client to the token endpoint, signed with the certificate's key;
    `x5t` is the certificate's SHA-1 thumbprint, as Microsoft identifies the certificate by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        pem = Path(settings.client_certificate).read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
        key = serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise TokenRefused(f"{label}: oauth2_client_certificate {settings.client_certificate}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TokenRefused(f"{label}: oauth2_client_certificate: an RSA key is needed (RS256)")
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5t": _b64url(certificate.fingerprint(hashes.SHA1()))}  # noqa: S303 - a name, not a security hash
    claims = {"aud": settings.token_url, "iss": settings.client_id, "sub": settings.client_id,
              "jti": os.urandom(16).hex(), "iat": now, "nbf": now, "exp": now + ASSERTION_LIFETIME_SECONDS}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def post_form(settings: OAuth2Settings, url: str, form: dict[str, str], label: str) -> tuple[int, dict[str, Any]]:
    """POST a form to an OAuth2 endpoint; (HTTP status, JSON body). TLS: system roots plus `ca_bundle`."""
    from intake.tls import client_context

    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"Accept": "application/json",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        context = client_context(settings.ca_bundle or None)
        with urllib.request.urlopen(request, timeout=settings.timeout, context=context) as response:  # noqa: S310 - operator's URL
            status, raw = response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(1_000_000)
    except (OSError, ValueError) as exc:  # URLError, a time-out, TLS, an unreadable ca_bundle
        reason = getattr(exc, "reason", None) or exc
        where = urllib.parse.urlsplit(url)
        raise TokenUnavailable(f"{label}: OAuth2 endpoint {where.scheme}://{where.netloc}{where.path} "
                               f"unreachable: {_scrub(str(reason), settings.secrets)}") from None
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


def refusal(label: str, what: str, status: int, body: dict[str, Any], settings: OAuth2Settings) -> MailboxError:
    """The error for a non-200 answer: TokenRefused when the endpoint says why (RFC 6749 5.2), else passing."""
    error = str(body.get("error") or "")
    description = " ".join(str(body.get("error_description") or "").split())  # Microsoft's are multi-line
    where = settings.endpoint()
    if error and status < 500:
        detail = f"{error}: {description}" if description else error
        return TokenRefused(f"{label}: OAuth2 token endpoint {where} {what}: {_scrub(detail, settings.secrets)}")
    return TokenUnavailable(f"{label}: OAuth2 token endpoint {where} answered HTTP {status}")


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    return text


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def save_secret(path: Path, value: str) -> None:
    """Write `value` to `path` atomically with mode 0600 (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_SOURCES: dict[OAuth2Settings, TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def shared_token_source(settings: OAuth2Settings, section: str) -> TokenSource:
    """The process's one TokenSource for these settings; `section` joins its label for messages."""
    with _SOURCES_LOCK:
        source = _SOURCES.get(settings)
        if source is None:
            source = _SOURCES[settings] = TokenSource(settings, section)
        elif section not in source.label.split(" and "):
            source.label = f"{source.label} and {section}"
        return source


def device_authorize(settings: OAuth2Settings, section: str, out: TextIO,
                     sleep: Callable[[float], None] = time.sleep) -> Path:
    """RFC 8628: show the code and the address to a person, poll until they allowed us, save the
    refresh token (0600) in the store. Returns the store's path; raises TokenRefused/TokenUnavailable."""
    if not settings.device_url:
        raise TokenRefused(f"{section}: oauth2_device_url is required (no known device endpoint for "
                           f"{settings.endpoint()})")
    if settings.store is None:
        raise TokenRefused(f"{section}: oauth2_refresh_token_store is required")
    form = {"client_id": settings.client_id}
    if settings.scope:
        form["scope"] = settings.scope
    status, body = post_form(settings, settings.device_url, form, section)
    device_code, user_code = body.get("device_code"), body.get("user_code")
    if status != 200 or not device_code or not user_code:
        raise refusal(section, "refused the device authorization", status, body, settings)
    address = body.get("verification_uri") or body.get("verification_url")  # Google says "url"
    minutes = int((_seconds(body.get("expires_in")) or 900) // 60)
    out.write(f"To let secor-intake use the [{section}] account, open {address} in a browser and enter "
              f"the code {user_code} (valid {minutes} minutes). Waiting...\n")
    out.flush()
    interval = _seconds(body.get("interval")) or 5.0
    deadline = time.monotonic() + (_seconds(body.get("expires_in")) or 900)
    poll = {"grant_type": DEVICE_CODE_GRANT, "device_code": str(device_code), "client_id": settings.client_id}
    if settings.client_secret:  # Google's device flow wants it; Microsoft's public clients have none
        poll["client_secret"] = settings.client_secret
    while time.monotonic() < deadline:
        sleep(interval)
        status, body = post_form(settings, settings.token_url, poll, section)
        error = body.get("error")
        if status == 200 and isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            save_secret(settings.store, body["refresh_token"])
            return settings.store
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5.0
            continue
        if status == 200:
            raise TokenRefused(f"{section}: the token endpoint gave no refresh token (ask for the "
                               "offline_access scope, or access_type=offline)")
        raise refusal(section, "refused the device code", status, body, settings)
    raise TokenRefused(f"{section}: the device code expired before it was entered")
