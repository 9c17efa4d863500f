"""SmtpTransport: submission to an SMTP server with smtplib (implicit TLS, STARTTLS or plain)."""

from __future__ import annotations

import smtplib
import socket
import ssl

from intake.outbound.base import PermanentSendError, TransientSendError, Transport


def _by_code(code: int, text: str) -> TransientSendError | PermanentSendError:
    """5xx is permanent; anything else (4xx, odd codes) is worth another try."""
    return PermanentSendError(text) if 500 <= code < 600 else TransientSendError(text)


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}"


class SmtpTransport(Transport):
    """One connection per message: replies are few, and a fresh connection survives server restarts.

    `security` is "ssl" (implicit TLS, port 465), "starttls" (required, port 587) or "none".
    Certificates are checked against `ssl_context` (default: the system's trust store).
    """

    def __init__(self, host: str, port: int, security: str = "starttls", username: str = "",
                 password: str = "", timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"security must be ssl, starttls or none, not {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

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
            if self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> None:
        """Send; MAIL FROM `<>` when `mail_from` is "" (RFC 3834 auto-replies)."""
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}", server_down=True) from exc
        try:
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
            raise _by_code(exc.smtp_code, _reply_text(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        finally:
            # After acceptance a failed QUIT changes nothing: the message is on its way.
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
