"""SmtpTransport: submission to an SMTP server with smtplib (implicit TLS, STARTTLS or plain)."""

from __future__ import annotations

import smtplib
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from intake.config import ConfigError, OutboundConfig
from intake.outbound.base import PermanentSendError, TransientSendError, Transport
from intake.tls import client_context

if TYPE_CHECKING:
    from intake.oauth2 import TokenSource


def _by_code(code: int, text: str) -> TransientSendError | PermanentSendError:
    """5xx is permanent; anything else (4xx, odd codes) is worth another try."""
    return PermanentSendError(text) if 500 <= code < 600 else TransientSendError(text)


def _xoauth2_response(user: str, token: str) -> Callable[..., str]:
    """smtplib's authobject: the initial response, then "" to a 334 error challenge (RFC 7628 3.2.3)."""
    def respond(challenge: bytes | None = None) -> str:
        return f"user={user}\x01auth=Bearer {token}\x01\x01" if challenge is None else ""
    return respond


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}"


class SmtpTransport(Transport):
    """One connection per run of sends (a reply job), QUIT only at `close()`.

    The reply job records "sent" as soon as the server has accepted the DATA, and only then ends the
    session, so a crash in the QUIT exchange cannot cause a resend. A connection the server dropped
    between two sends (NOOP fails) is replaced by a fresh one before anything is sent.
    `security` is "ssl" (implicit TLS, port 465), "starttls" (required, port 587) or "none".
    Certificates are checked against `ssl_context` (default: the system's trust store). With a
    `token_source`, the login is SASL XOAUTH2 as `username` (a refused token is renewed once).
    """

    def __init__(self, host: str, port: int, security: str = "starttls", username: str = "",
                 password: str = "", timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None,
                 token_source: TokenSource | None = None) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"security must be ssl, starttls or none, not {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.token_source = token_source
        self._client: smtplib.SMTP | None = None

    @classmethod
    def validate(cls, config: OutboundConfig) -> None:
        if not config.host:
            raise ConfigError("outbound.host: required when outbound.kind = \"smtp\"")
        if config.auth == "oauth2":
            from intake import oauth2

            if not config.username:
                raise ConfigError("outbound.username: required when outbound.auth = \"oauth2\" "
                                  "(or mailbox.username)")
            oauth2.validate("outbound", config)

    @classmethod
    def from_config(cls, config: OutboundConfig, resolve_path: Callable[[str], Path]) -> SmtpTransport:
        """Certificates checked against the system's roots plus `ca_bundle`."""
        context = client_context(str(resolve_path(config.ca_bundle)) if config.ca_bundle else None)
        token = None
        if config.auth == "oauth2":
            from intake.oauth2 import settings_for, shared_token_source

            token = shared_token_source(settings_for(config, resolve_path), "outbound")
        return cls(config.host, config.port, config.security, config.username, config.password,
                   config.timeout_seconds, context, token_source=token)

    def _connect(self) -> smtplib.SMTP:
        """A connected, secured and authenticated client."""
        # An explicit EHLO name: smtplib would otherwise ask DNS for our FQDN, which can hang.
        local = socket.gethostname() or "localhost"
        if self.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, local_hostname=local,
                                                    timeout=self.timeout, context=self.ssl_context)
        else:
            client = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=self.ssl_context)
                client.ehlo()
            if self.token_source is not None:
                self._xoauth2(client, self.token_source)
            elif self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def _xoauth2(self, client: smtplib.SMTP, source: TokenSource) -> None:
        """AUTH XOAUTH2; once refused (revoked early, expired by the server's clock), again with a new token."""
        token = source.token()
        try:
            client.auth("XOAUTH2", _xoauth2_response(self.username, token))
            return
        except smtplib.SMTPAuthenticationError:
            pass
        client.auth("XOAUTH2", _xoauth2_response(self.username, source.renew(token)))

    def check(self) -> str:
        """Connect, secure and log in, then QUIT: nothing is sent."""
        client = self._connect()
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
        how = "XOAUTH2" if self.token_source is not None else "password" if self.username else "no login"
        return f"smtp {self.host}:{self.port} ({self.security}, {how})"

    def _session(self) -> smtplib.SMTP:
        """The open session, checked with NOOP, or a new one."""
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self._client.close()
            self._client = None
        from intake.mailbox.base import MailboxError  # what a token source raises

        try:
            self._client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}", server_down=True) from exc
        except MailboxError as exc:  # no token: nothing can go out, keep every reply for later
            raise TransientSendError(str(exc), server_down=True) from exc
        return self._client

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        """Send; MAIL FROM `<>` when `mail_from` is "" (RFC 3834 auto-replies)."""
        client = self._session()
        try:
            # On a refusal smtplib sends RSET itself, so the session stays usable for the next reply.
            client.sendmail(mail_from, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = "; ".join(f"{rcpt}: {_reply_text(code, msg)}" for rcpt, (code, msg) in exc.recipients.items())
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentSendError(f"recipient refused: {text}") from exc
            raise TransientSendError(f"recipient deferred: {text}") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _by_code(exc.smtp_code, f"refused: {_reply_text(exc.smtp_code, exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _by_code(exc.smtp_code, _reply_text(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}") from exc

    def close(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
