"""The Maildir mail source on disk: the same outcomes as IMAP, with Maildir's own identities."""

from __future__ import annotations

import io
import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from intake.config import MailboxConfig
from intake.mailbox import MailboxError, open_mail_source
from intake.mailbox.maildir import MaildirSource
from tests.mailbox_behaviour import (
    Deliver,
    make_message,
    test_folder_exists_creates_nothing,  # noqa: F401 (shared test)
    test_move_of_a_message_already_gone_is_a_no_op,  # noqa: F401 (shared test)
    test_too_large_raises_before_fetching,  # noqa: F401 (shared test)
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "var" / "maildir"  # var/ does not exist yet, as on a first start


@pytest.fixture
def source(root: Path, tmp_path: Path) -> Iterator[MaildirSource]:
    config = MailboxConfig(kind="maildir", path="var/maildir")
    with open_mail_source(config, lambda p: tmp_path / p) as src:
        assert isinstance(src, MaildirSource)
        yield src


@pytest.fixture
def deliver(source: MaildirSource) -> Deliver:
    return source.append


def all_files(root: Path) -> dict[str, bytes]:
    """Every message file under the tree, by path relative to the root."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.parent.name in ("new", "cur")}


def test_account_is_the_absolute_path(source: MaildirSource, root: Path) -> None:
    assert source.account == f"maildir:{root.resolve()}"
    assert all((root / sub).is_dir() for sub in ("cur", "new", "tmp"))  # created, with parents, on open


def test_append_list_fetch_move_round_trip(source: MaildirSource, root: Path) -> None:
    first, second = make_message("one@acme.example"), make_message("two@acme.example", 500)
    when = datetime(2026, 11, 20, 14, 30, 5, tzinfo=timezone.utc)
    source.append("INBOX", first, when=when)
    source.append("INBOX", second)

    refs = source.list_messages("INBOX")
    assert [r.message_id for r in refs] == ["<one@acme.example>", "<two@acme.example>"]
    assert [r.size for r in refs] == [len(first), len(second)]
    assert refs[0].internal_date == when
    assert refs[0].uidvalidity == source.folder_state("INBOX").uidvalidity
    assert source.folder_state("INBOX").uidnext is None

    out = io.BytesIO()
    assert source.fetch(refs[0], out, max_bytes=10_000) == len(first)
    assert out.getvalue() == first

    source.move(refs[0], "SECOR/Processed")
    assert [r.message_id for r in source.list_messages("INBOX")] == ["<two@acme.example>"]
    (moved,) = source.list_messages("SECOR/Processed")
    assert (moved.uid, moved.size, moved.internal_date) == (refs[0].uid, len(first), when)  # renamed, not rewritten
    assert (root / ".SECOR" / "cur").is_dir()  # the parent folder exists too
    assert (root / ".SECOR.Processed" / "maildirfolder").is_file()  # Maildir++ as Dovecot lays it out
    out = io.BytesIO()
    source.fetch(moved, out, max_bytes=10_000)
    assert out.getvalue() == first


def test_listing_reads_headers_only(source: MaildirSource, root: Path) -> None:
    source.append("INBOX", make_message("folded@acme.example", 100).replace(
        b"Message-ID: <folded@acme.example>", b"Message-ID:\r\n <folded@acme.example>"))
    (path,) = (root / "new").iterdir()
    (ref,) = source.list_messages("INBOX")
    assert ref.message_id == "<folded@acme.example>"
    assert ref.size == path.stat().st_size


def test_message_without_message_id(source: MaildirSource) -> None:
    source.append("INBOX", b"From: a@b.example\nSubject: no id\n\nbody\n")
    (ref,) = source.list_messages("INBOX")
    assert ref.message_id is None


def test_chunked_fetch_of_3mb_message(source: MaildirSource) -> None:
    message = make_message("large@acme.example", 3 * 1024 * 1024)
    source.append("INBOX", message)
    (ref,) = source.list_messages("INBOX")
    out = io.BytesIO()
    assert source.fetch(ref, out, max_bytes=4 * 1024 * 1024) == len(message)
    assert out.getvalue() == message


def test_fetch_changes_no_flags(source: MaildirSource, root: Path) -> None:
    source.append("INBOX", make_message("unseen@acme.example"))
    before = all_files(root)
    (ref,) = source.list_messages("INBOX")
    source.fetch(ref, io.BytesIO(), max_bytes=10_000)
    assert all_files(root) == before  # still in new/, no ":2,S" info added


def test_non_ascii_folder_uses_modified_utf7(source: MaildirSource, root: Path) -> None:
    source.append("INBOX", make_message("accent@acme.example"))
    (ref,) = source.list_messages("INBOX")
    source.move(ref, "SECOR/Retourné")
    assert (root / ".SECOR.Retourn&AOk-" / "new").is_dir()
    assert [r.message_id for r in source.list_messages("SECOR/Retourné")] == ["<accent@acme.example>"]


def test_dot_in_folder_name_is_refused(source: MaildirSource) -> None:
    with pytest.raises(MailboxError, match="separator"):
        source.append("SECOR/v1.2", make_message("dot@acme.example"))


def test_listing_a_missing_folder_is_an_error(source: MaildirSource) -> None:
    with pytest.raises(MailboxError, match="no folder"):
        source.list_messages("SECOR/Nowhere")


def test_uidvalidity_is_stable_and_changes_when_the_folder_is_recreated(source: MaildirSource, root: Path) -> None:
    source.append("SECOR/Archive", make_message("kept@acme.example"))
    before = source.folder_state("SECOR/Archive")
    assert source.folder_state("SECOR/Archive") == before  # kept in the folder, not made up per call
    (old_ref,) = source.list_messages("SECOR/Archive")

    folder = root / ".SECOR.Archive"
    kept = folder.with_name("kept")
    shutil.move(folder, kept)  # a restore: the folder comes back without its UID state
    source.append("SECOR/Archive", (kept / "new" / os.listdir(kept / "new")[0]).read_bytes())

    assert source.folder_state("SECOR/Archive").uidvalidity != before.uidvalidity
    with pytest.raises(MailboxError, match="UIDVALIDITY"):
        source.fetch(old_ref, io.BytesIO(), max_bytes=10_000)


def test_after_uid_is_ignored(source: MaildirSource) -> None:
    for n in range(3):
        source.append("INBOX", make_message(f"m{n}@acme.example"))
    refs = source.list_messages("INBOX")
    assert len(refs) == 3
    assert source.list_messages("INBOX", after_uid=refs[-1].uid) == refs  # keys are not ordered


def test_fetch_of_a_message_moved_elsewhere_is_an_error(source: MaildirSource, root: Path) -> None:
    source.append("INBOX", make_message("gone@acme.example"))
    (ref,) = source.list_messages("INBOX")
    for path in (root / "new").iterdir():
        path.unlink()  # another process took it
    with pytest.raises(MailboxError, match="no longer"):
        source.fetch(ref, io.BytesIO(), max_bytes=10_000)


def test_wait_for_mail_true_when_another_source_delivers(source: MaildirSource, root: Path) -> None:
    stop = threading.Event()

    def deliver() -> None:
        with MaildirSource(root) as other:
            n = 0
            while not stop.wait(0.2):
                other.append("INBOX", make_message(f"new{n}@acme.example"))
                n += 1

    thread = threading.Thread(target=deliver)
    thread.start()
    try:
        arrived = source.wait_for_mail("INBOX", timeout=30)
    finally:
        stop.set()
        thread.join()
    assert arrived is True


def test_wait_for_mail_false_on_short_timeout(source: MaildirSource) -> None:
    source.append("INBOX", make_message("old@acme.example"))  # mail already there is not news
    assert source.wait_for_mail("INBOX", timeout=0.3) is False


def test_relative_path_resolved_against_the_config_folder(tmp_path: Path) -> None:
    config = MailboxConfig(kind="maildir", path="var/maildir")
    src = open_mail_source(config, lambda p: tmp_path / p)
    assert isinstance(src, MaildirSource) and src.root == (tmp_path / "var" / "maildir").resolve()
