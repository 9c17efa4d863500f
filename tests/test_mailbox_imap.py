"""The IMAP mail source against a real Dovecot on loopback (tests/servers/dovecot.py)."""

from __future__ import annotations

import io
import shlex
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from imapclient import IMAPClient

from intake.config import MailboxConfig
from intake.mailbox import (
    LoginRefused,
    MailboxError,
    MailSource,
    open_mail_source,
)
from intake.mailbox.imap import ImapSource
from tests.mailbox_behaviour import (
    Deliver,
    make_message,
    test_folder_exists_creates_nothing,  # noqa: F401 (shared test)
    test_move_of_a_message_already_gone_is_a_no_op,  # noqa: F401 (shared test)
    test_too_large_raises_before_fetching,  # noqa: F401 (shared test)
)
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.server


@pytest.fixture
def user(dovecot_server: DovecotServer) -> str:
    """A fresh Dovecot account (empty mailbox) for each test."""
    return dovecot_server.new_user()


def imap_config(server: DovecotServer, user: str, **overrides: object) -> MailboxConfig:
    values: dict[str, object] = dict(kind="imap", host=server.host, port=server.port, security="none",
                                     username=user, password=server.password, timeout_seconds=10.0)
    values.update(overrides)
    return MailboxConfig(**values)  # type: ignore[arg-type]


def source_for(server: DovecotServer, user: str, **overrides: object) -> MailSource:
    return open_mail_source(imap_config(server, user, **overrides), Path)


def imap_append(source: MailSource, folder: str, raw: bytes, when: datetime | None = None) -> None:
    """APPEND a message, creating the folder: how the tests seed a mailbox (the daemon never appends)."""
    assert isinstance(source, ImapSource)
    source.client.append(source._ensure_folder(folder), raw, flags=(), msg_time=when)


@pytest.fixture
def source(dovecot_server: DovecotServer, user: str) -> Iterator[MailSource]:
    with source_for(dovecot_server, user) as src:
        yield src


@pytest.fixture
def deliver(source: MailSource) -> Deliver:
    return lambda folder, raw: imap_append(source, folder, raw)


@pytest.fixture
def raw(dovecot_server: DovecotServer, user: str) -> Iterator[IMAPClient]:
    """A second, independent connection: the test's own view of the server."""
    client = IMAPClient(dovecot_server.host, dovecot_server.port, ssl=False, timeout=10)
    client.login(user, dovecot_server.password)
    yield client
    client.logout()


def test_account_identity(source: MailSource, dovecot_server: DovecotServer, user: str) -> None:
    assert source.account == f"imap://{user}@127.0.0.1"


def test_append_list_fetch_move_round_trip(source: MailSource, raw: IMAPClient) -> None:
    first, second = make_message("one@acme.example"), make_message("two@acme.example", 500)
    when = datetime(2026, 11, 20, 14, 30, 5, tzinfo=timezone.utc)
    imap_append(source, "INBOX", first, when=when)
    imap_append(source, "INBOX", second)

    refs = source.list_messages("INBOX")
    assert [r.message_id for r in refs] == ["<one@acme.example>", "<two@acme.example>"]
    assert [r.size for r in refs] == [len(first), len(second)]
    assert refs[0].internal_date == when and refs[0].internal_date.tzinfo is not None
    assert refs[0].uidvalidity == source.folder_state("INBOX").uidvalidity

    out = io.BytesIO()
    assert source.fetch(refs[0], out, max_bytes=10_000) == len(first)
    assert out.getvalue() == first

    source.move(refs[0], "SECOR/Processed")
    assert [r.message_id for r in source.list_messages("INBOX")] == ["<two@acme.example>"]
    moved = source.list_messages("SECOR/Processed")
    assert [(r.message_id, r.size, r.internal_date) for r in moved] == [("<one@acme.example>", len(first), when)]
    out = io.BytesIO()
    source.fetch(moved[0], out, max_bytes=10_000)
    assert out.getvalue() == first
    assert "SECOR.Processed" in {name for _, _, name in raw.list_folders()}


def test_listing_reads_no_body(dovecot_server: DovecotServer, user: str) -> None:
    with source_for(dovecot_server, user) as src:
        imap_append(src, "INBOX", make_message("big@acme.example", 200_000))
    with source_for(dovecot_server, user) as src:
        (ref,) = src.list_messages("INBOX")
    assert ref.size > 200_000 and ref.message_id == "<big@acme.example>"
    stats = dovecot_server.session_stats(user, sessions=2)
    assert len(stats) == 2 and stats[1]["body_bytes"] == 0  # Dovecot's own count for the listing session


def test_chunked_fetch_of_3mb_message(dovecot_server: DovecotServer, user: str) -> None:
    message = make_message("large@acme.example", 3 * 1024 * 1024)
    with source_for(dovecot_server, user, fetch_chunk_bytes=256 * 1024) as src:
        imap_append(src, "INBOX", message)
        (ref,) = src.list_messages("INBOX")
        out = io.BytesIO()
        assert src.fetch(ref, out, max_bytes=4 * 1024 * 1024) == len(message)
    assert out.getvalue() == message


def test_fetch_does_not_set_seen(source: MailSource, raw: IMAPClient) -> None:
    imap_append(source, "INBOX", make_message("unseen@acme.example"))
    (ref,) = source.list_messages("INBOX")
    source.fetch(ref, io.BytesIO(), max_bytes=10_000)
    raw.select_folder("INBOX", readonly=True)
    assert b"\\Seen" not in raw.get_flags([int(ref.uid)])[int(ref.uid)]


def test_move_without_move_capability_expunges_only_that_uid(source: MailSource, raw: IMAPClient) -> None:
    assert isinstance(source, ImapSource)
    source.use_move = False  # take the COPY + \Deleted + UID EXPUNGE path
    imap_append(source, "INBOX", make_message("move-me@acme.example"))
    imap_append(source, "INBOX", make_message("someone-elses@acme.example"))
    mine, theirs = source.list_messages("INBOX")
    raw.select_folder("INBOX")
    raw.add_flags([int(theirs.uid)], [b"\\Deleted"])  # another client's pending deletion

    source.move(mine, "SECOR/Returned")

    raw.noop()  # let the server tell this connection about the expunge
    assert raw.search(["ALL"]) == [int(theirs.uid)]  # theirs was not expunged with mine
    assert [r.message_id for r in source.list_messages("SECOR/Returned")] == ["<move-me@acme.example>"]
    assert source.list_messages("INBOX") == []  # \Deleted mail is not listed


def test_missing_non_ascii_target_folder_is_created(source: MailSource, raw: IMAPClient,
                                                    dovecot_server: DovecotServer, user: str) -> None:
    imap_append(source, "INBOX", make_message("accent@acme.example"))
    (ref,) = source.list_messages("INBOX")
    source.move(ref, "SECOR/Retourné")
    folders = {name for _, _, name in raw.list_folders()}
    assert {"SECOR", "SECOR.Retourné"} <= folders
    assert (dovecot_server.maildir(user) / ".SECOR.Retourn&AOk-").is_dir()  # modified UTF-7 on the wire
    assert dovecot_server.folder_dir(user, "SECOR/Retourné").is_dir()
    assert [r.message_id for r in source.list_messages("SECOR/Retourné")] == ["<accent@acme.example>"]


def test_uidvalidity_change_is_detected(dovecot_server: DovecotServer, user: str) -> None:
    with source_for(dovecot_server, user) as src:
        imap_append(src, "SECOR/Archive", make_message("kept@acme.example"))
        before = src.folder_state("SECOR/Archive")
        (old_ref,) = src.list_messages("SECOR/Archive")
    assert before.uidnext == str(int(old_ref.uid) + 1)
    dovecot_server.reset_uidvalidity(user, "SECOR/Archive")
    with source_for(dovecot_server, user) as src:
        after = src.folder_state("SECOR/Archive")
        assert after.uidvalidity != before.uidvalidity
        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            src.fetch(old_ref, io.BytesIO(), max_bytes=10_000)
        assert [r.message_id for r in src.list_messages("SECOR/Archive")] == ["<kept@acme.example>"]


def test_after_uid_filters_including_the_star_trap(source: MailSource) -> None:
    for n in range(3):
        imap_append(source, "INBOX", make_message(f"m{n}@acme.example"))
    refs = source.list_messages("INBOX")
    assert source.list_messages("INBOX", after_uid=refs[1].uid) == [refs[2]]
    # "UID n+1:*" matches the last message even when n is the highest UID: it must not come back.
    assert source.list_messages("INBOX", after_uid=refs[2].uid) == []
    assert source.list_messages("INBOX", after_uid=str(int(refs[2].uid) + 100)) == []
    assert source.list_messages("INBOX", after_uid=None) == refs


def test_dropped_connection_mid_fetch_then_reconnect(dovecot_server: DovecotServer, user: str) -> None:
    message = make_message("dropped@acme.example", 2 * 1024 * 1024)
    with source_for(dovecot_server, user) as src:
        imap_append(src, "INBOX", message)
    with dovecot_server.dropping_proxy(server_bytes_limit=300_000) as proxy:
        with source_for(dovecot_server, user, port=proxy.port, fetch_chunk_bytes=128 * 1024) as src:
            (ref,) = src.list_messages("INBOX")
            out = io.BytesIO()
            with pytest.raises(MailboxError):
                src.fetch(ref, out, max_bytes=10 * 1024 * 1024)
            assert 0 < len(out.getvalue()) < len(message)  # it really was cut mid-message
    with source_for(dovecot_server, user) as src:
        out = io.BytesIO()
        src.fetch(src.list_messages("INBOX")[0], out, max_bytes=10 * 1024 * 1024)
    assert out.getvalue() == message


def test_server_side_disconnect_is_mailbox_error(dovecot_server: DovecotServer, user: str) -> None:
    with source_for(dovecot_server, user) as src:
        imap_append(src, "INBOX", make_message("kicked@acme.example"))
        dovecot_server.kick(user)
        with pytest.raises(MailboxError) as caught:
            src.list_messages("INBOX")
        assert not isinstance(caught.value, LoginRefused)
    with source_for(dovecot_server, user) as src:  # the next cycle reconnects
        assert len(src.list_messages("INBOX")) == 1


def test_wrong_password_is_login_refused(dovecot_server: DovecotServer, user: str) -> None:
    with pytest.raises(LoginRefused):
        with source_for(dovecot_server, user, password="wrong"):
            pass


def test_connection_refused_is_mailbox_error(dovecot_server: DovecotServer, user: str) -> None:
    from tests.servers.dovecot import free_port

    with pytest.raises(MailboxError) as caught:
        with source_for(dovecot_server, user, port=free_port()):
            pass
    assert not isinstance(caught.value, LoginRefused)


def test_idle_returns_true_when_mail_arrives(dovecot_server: DovecotServer, user: str) -> None:
    stop = threading.Event()

    def deliver() -> None:
        # Keep delivering until the waiter returns, so the test does not depend on when IDLE began.
        with source_for(dovecot_server, user) as other:
            n = 0
            while not stop.wait(0.3):
                imap_append(other, "INBOX", make_message(f"idle{n}@acme.example"))
                n += 1

    with source_for(dovecot_server, user) as src:
        src.list_messages("INBOX")
        thread = threading.Thread(target=deliver)
        thread.start()
        try:
            arrived = src.wait_for_mail("INBOX", timeout=30)
        finally:
            stop.set()
            thread.join()
        assert arrived is True
        assert len(src.list_messages("INBOX")) >= 1  # the connection is usable after IDLE


def test_idle_returns_false_on_short_timeout(source: MailSource) -> None:
    assert source.wait_for_mail("INBOX", timeout=0.3) is False
    imap_append(source, "INBOX", make_message("after-idle@acme.example"))
    assert len(source.list_messages("INBOX")) == 1


def test_without_idle_wait_returns_false(source: MailSource) -> None:
    assert isinstance(source, ImapSource)
    source.use_idle = False
    assert source.wait_for_mail("INBOX", timeout=0.1) is False


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_modes_verify_the_server_certificate(dovecot_server: DovecotServer, user: str,
                                                 security: str) -> None:
    port = dovecot_server.ssl_port if security == "ssl" else dovecot_server.port
    with source_for(dovecot_server, user, security=security, port=port,
                    ca_bundle=str(dovecot_server.ca_file)) as src:
        imap_append(src, "INBOX", make_message("tls@acme.example"))
        assert [r.message_id for r in src.list_messages("INBOX")] == ["<tls@acme.example>"]
    with pytest.raises(MailboxError, match="(?i)certificate"):  # the test CA is not trusted by default
        with source_for(dovecot_server, user, security=security, port=port):
            pass


def test_plaintext_to_a_remote_host_is_refused() -> None:
    config = MailboxConfig(kind="imap", host="imap.example.org", port=143, security="none",
                           username="cor", password="x")
    with pytest.raises(MailboxError, match="plaintext"):
        open_mail_source(config, Path)
    assert isinstance(open_mail_source(MailboxConfig(**{**config.__dict__, "allow_plaintext_remote": True}), Path),
                      ImapSource)


# -- XOAUTH2 (Dovecot verifies tokens against the fixture's introspection endpoint) ----------------

def oauth_config(server: DovecotServer, user: str, **overrides: object) -> MailboxConfig:
    return imap_config(server, user, auth="oauth2", password="", **overrides)


def test_xoauth2_with_token_command(dovecot_server: DovecotServer, user: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(dovecot_server.issue_oauth2_token(user) + "\n")
    command = f"{shlex.quote(sys.executable)} -c 'import sys; print(open(sys.argv[1]).read())' {token_file}"
    with open_mail_source(oauth_config(dovecot_server, user, oauth2_token_command=command), Path) as src:
        imap_append(src, "INBOX", make_message("oauth@acme.example"))
        assert len(src.list_messages("INBOX")) == 1

    token_file.write_text("expired-token\n")
    with pytest.raises(LoginRefused, match="XOAUTH2"):
        with open_mail_source(oauth_config(dovecot_server, user, oauth2_token_command=command), Path):
            pass


def test_xoauth2_token_command_failure_is_login_refused(dovecot_server: DovecotServer, user: str) -> None:
    command = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(\"token store locked\")'"
    with pytest.raises(LoginRefused, match="token store locked"):
        with open_mail_source(oauth_config(dovecot_server, user, oauth2_token_command=command), Path):
            pass


def test_unreadable_ca_bundle_is_mailbox_error() -> None:
    with pytest.raises(MailboxError, match="ca_bundle"):
        open_mail_source(MailboxConfig(kind="imap", host="127.0.0.1", username="u", password="p",
                                       ca_bundle="/nonexistent/ca.pem"), Path)


def test_maildir_source_reads_the_tree_dovecot_writes(dovecot_server: DovecotServer, user: str) -> None:
    """Both sources agree on the Maildir++ layout, so a local Maildir can later be served by Dovecot."""
    from intake.mailbox.maildir import MaildirSource

    message = make_message("shared@acme.example", 300)
    with source_for(dovecot_server, user) as src:
        imap_append(src, "SECOR/Retourné", message)
    with MaildirSource(dovecot_server.maildir(user)) as local:
        (ref,) = local.list_messages("SECOR/Retourné")
        out = io.BytesIO()
        local.fetch(ref, out, max_bytes=10_000)
    assert ref.message_id == "<shared@acme.example>"
    assert out.getvalue() == message.replace(b"\r\n", b"\n")  # Dovecot stores LF line ends on disk
    assert ref.size == len(out.getvalue())


def test_fetch_header_does_not_set_seen(source: MailSource, raw: IMAPClient) -> None:
    imap_append(source, "INBOX", make_message("header@acme.example", 1000))
    (ref,) = source.list_messages("INBOX")
    assert b"Subject: SECOR 2026" in source.fetch_header(ref)
    raw.select_folder("INBOX", readonly=True)
    assert b"\\Seen" not in raw.get_flags([int(ref.uid)])[int(ref.uid)]
