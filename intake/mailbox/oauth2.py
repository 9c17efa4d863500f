"""OAuth2 access tokens for XOAUTH2 IMAP logins.

Two token sources, both callables returning an access token:
- `CommandTokenSource`: runs `oauth2_token_command` (split like a shell command line, run without a
  shell) and reads the token from its stdout, for operators who keep tokens in another tool;
- `RefreshTokenSource`: the refresh-token grant (RFC 6749 section 6) against `oauth2_token_url`.
  A refresh token the server rotates is saved atomically (mode 0600) to `oauth2_refresh_token_store`,
  and a saved token is preferred over the configured one on the next start.
A refused or expired token raises LoginRefused; an unreachable endpoint raises MailboxError.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import requests

from intake.config import MailboxConfig
from intake.mailbox.base import LoginRefused, MailboxError

TokenSource = Callable[[], str]


class CommandTokenSource:
    """An access token printed on stdout by an operator-supplied command."""

    def __init__(self, command: str, timeout: float = 60.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise MailboxError("mailbox.oauth2_token_command is empty")
        self.timeout = timeout

    def __call__(self) -> str:
        try:
            done = subprocess.run(self.argv, capture_output=True, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LoginRefused(f"oauth2_token_command could not run: {exc}") from exc
        token = done.stdout.strip()
        if done.returncode != 0 or not token:
            detail = done.stderr.strip().splitlines()[-1:] or ["no token on stdout"]
            raise LoginRefused(f"oauth2_token_command failed (exit {done.returncode}): {detail[0]}")
        return token


class RefreshTokenSource:
    """Access tokens from the refresh-token grant; rotated refresh tokens are kept in `store`."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                 store: Path, timeout: float = 60.0, session: requests.Session | None = None) -> None:
        if not token_url:
            raise MailboxError("mailbox.oauth2_token_url is required for the refresh-token flow")
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.store, self.timeout = store, timeout
        self.session = session or requests.Session()
        self.refresh_token = self._saved_token() or refresh_token
        if not self.refresh_token:
            raise LoginRefused("no OAuth2 refresh token configured or saved")

    def _saved_token(self) -> str:
        try:
            return self.store.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise MailboxError(f"cannot read {self.store}: {exc.strerror}") from exc

    def __call__(self) -> str:
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token,
                "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            response = self.session.post(self.token_url, data=form, timeout=self.timeout,
                                         headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise MailboxError(f"OAuth2 token endpoint unreachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code in (400, 401, 403):
            error = body.get("error_description") or body.get("error") or response.reason
            raise LoginRefused(f"OAuth2 token endpoint refused the refresh token "
                               f"(HTTP {response.status_code}): {error}")
        if response.status_code != 200 or not body.get("access_token"):
            raise MailboxError(f"OAuth2 token endpoint answered HTTP {response.status_code} "
                               "without an access token")
        rotated = body.get("refresh_token")
        if rotated and rotated != self.refresh_token:
            save_secret(self.store, rotated)
            self.refresh_token = rotated
        return str(body["access_token"])


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


def token_source(config: MailboxConfig, resolve: Callable[[str], Path]) -> TokenSource:
    """The configured token source: the command when set, else the refresh-token flow."""
    if config.oauth2_token_command:
        return CommandTokenSource(config.oauth2_token_command, timeout=config.timeout_seconds)
    return RefreshTokenSource(config.oauth2_token_url, config.oauth2_client_id,
                              config.oauth2_client_secret, config.oauth2_refresh_token,
                              resolve(config.oauth2_refresh_token_store),
                              timeout=config.timeout_seconds)
