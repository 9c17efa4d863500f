"""OAuth2 deployments for the tests: a Dovecot user whose IMAP and SMTP logins are XOAUTH2 with
tokens from the tests' token server (tests/servers/oauth2.py)."""

from __future__ import annotations

from pathlib import Path

from tests.daemon_helpers import Setup
from tests.servers.dovecot import DovecotServer
from tests.servers.oauth2 import TokenServer
from tests.servers.smtp import SmtpServer


class OAuth2Setup(Setup):
    """A Dovecot user whose mailbox and SMTP logins are XOAUTH2 with tokens from `token_server`."""

    def __init__(self, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer, token_server: TokenServer,
                 grant: str = "client_credentials", outbound_client: bool = False, db_url: str = "",
                 **sections: dict) -> None:
        user = dovecot.new_user()
        self.tokens = token_server
        self.client_id, self.client_secret = token_server.add_client(user, public=grant == "refresh_token")
        self.outbound_client_id, self.outbound_secret = token_server.add_client(user) if outbound_client else ("", "")
        # one CA file for the token endpoint and the SMTP server: both sections then share one token source
        bundle = tmp_path / "ca-bundle.pem"
        bundle.write_text(token_server.ca_file.read_text() + Path(smtp.ca_file).read_text())
        mailbox = {"auth": "oauth2", "password": "", "oauth2_grant": grant, "ca_bundle": str(bundle),
                   "oauth2_token_url": token_server.token_url, "oauth2_client_id": self.client_id,
                   "oauth2_scope": "https://outlook.office365.com/.default",
                   "oauth2_refresh_token_store": str(tmp_path / "state" / "refresh-token")}
        if self.client_secret:
            mailbox["oauth2_client_secret"] = self.client_secret
        self.first_refresh_token = ""
        if grant == "refresh_token":  # as a person's sign-in gave it
            self.first_refresh_token = mailbox["oauth2_refresh_token"] = token_server.issue_refresh_token(self.client_id)
        outbound = {"security": "starttls", "auth": "oauth2", "ca_bundle": str(bundle)}
        if outbound_client:  # an app registration of its own; the other oauth2_* keys come from [mailbox]
            outbound |= {"oauth2_client_id": self.outbound_client_id, "oauth2_client_secret": self.outbound_secret}
        super().__init__(tmp_path, dovecot, smtp, db_url or f"sqlite:///{tmp_path / 'intake.sqlite3'}", user=user,
                         **{"mailbox": mailbox | sections.pop("mailbox", {}),
                            "outbound": outbound | sections.pop("outbound", {}), **sections})

    def grants(self, grant: str = "client_credentials") -> int:
        return self.tokens.grant_count(self.client_id, grant)

    def secrets(self) -> list[str]:
        """What must never be printed: the client secret, every refresh and access token issued."""
        with self.tokens.lock:
            return [s for s in (self.client_secret, self.outbound_secret, *self.tokens.access, *self.tokens.refresh)
                    if s]


def no_secret_in(setup: OAuth2Setup, *outputs: str | bytes) -> None:
    text = "".join(o.decode(errors="replace") if isinstance(o, bytes) else o for o in outputs)
    for secret in setup.secrets():
        assert secret not in text
    assert "at~" not in text and "rt~" not in text  # no token at all, issued or revoked
