"""The real-world corpora of ../shared/corpora (mail and zips nobody here wrote), one test per file.

They are read in place, never copied into the repository. A missing corpus skips on a developer
machine and fails in CI (CI=true), like a missing server.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.db import InboxMessage
from intake.disposition import AUTOMATIC, classify, detect_automatic
from intake.mailbox.maildir import MaildirSource
from intake.message import parse_message
from intake.service import open_services, poll_cycle
from tests.pipeline_helpers import ROOT, maildir_config, outbox_messages
from tests.servers import require_server
from triage.engine import triage_path
from triage.settings import ArchiveLimits, RuleSettings

# Beside the checkout (CI: a fresh clone with shared/ next to it); SECOR_CORPORA names another place.
CORPORA = Path(os.environ.get("SECOR_CORPORA") or ROOT.parent / "shared" / "corpora")
MAX_ATTACHMENT_BYTES = 50_000_000


def corpus_files(folder: str) -> list:
    """One pytest parameter per file of the corpus folder (its SOURCES.md aside), or one that fails/skips."""
    path = CORPORA / folder
    if not path.is_dir():
        return [pytest.param(None, id=f"{folder}-missing")]
    return [pytest.param(p, id=p.name) for p in sorted(path.iterdir()) if p.name != "SOURCES.md"]


def need(path: Path | None) -> Path:
    require_server(path is not None, f"the corpus folder under {CORPORA}")
    assert path is not None
    return path


def test_a_missing_corpus_fails_in_ci_and_skips_elsewhere(monkeypatch):
    [param] = corpus_files("no-such-corpus")
    assert param.values == (None,)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        need(None)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        need(None)


_SUBJECT = re.compile(rb"(?im)^subject:[^\n]*")


def with_secor_subject(raw: bytes) -> bytes:
    """The same email, its subject now mentioning SECOR as a robot's quote of ours would."""
    head_end = re.search(rb"\r?\n\r?\n", raw)
    found = _SUBJECT.search(raw, 0, head_end.start() if head_end else len(raw))
    if found is None:
        return b"Subject: Re: SECOR evaluation 2026\n" + raw
    line = found.group().rstrip(b"\r")
    return raw[:found.start()] + line + b" Re: SECOR evaluation 2026" + raw[found.start() + len(line):]


# --- mail/robots: never answered --------------------------------------------------------------

@pytest.mark.parametrize("path", corpus_files("mail/robots"))
def test_robot_is_recognised_as_automatic_even_about_secor(path, tmp_path):
    raw = need(path).read_bytes()
    for variant in (raw, with_secor_subject(raw)):
        parsed = parse_message(variant, tmp_path, MAX_ATTACHMENT_BYTES)
        assert detect_automatic(parsed), f"not recognised as automatic: {parsed.subject!r} from {parsed.sender}"
        assert classify(parsed) == AUTOMATIC


# --- mail/oddities: each ends in exactly one state -------------------------------------------

@pytest.fixture(scope="module")
def pipeline_setup(tmp_path_factory):
    """One Maildir + SQLite + pickup-folder setup shared by the oddities: each test adds one email."""
    tmp_path = tmp_path_factory.mktemp("oddities")
    config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'secor-intake.sqlite3'}")
    services = open_services(config)
    yield config, services
    services.close()


@pytest.mark.parametrize("path", corpus_files("mail/oddities"))
def test_oddity_ends_in_one_state_without_a_traceback(path, pipeline_setup, caplog):
    raw = need(path).read_bytes()
    config, services = pipeline_setup
    with services.sessions() as session:
        before = session.scalar(select(InboxMessage.id).order_by(InboxMessage.id.desc()).limit(1)) or 0
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", raw)
    with caplog.at_level(logging.WARNING):
        poll_cycle(services)
    with services.sessions() as session:
        rows = list(session.scalars(select(InboxMessage).where(InboxMessage.id > before)))
    assert len(rows) == 1
    [row] = rows
    assert row.state == "done", row.last_error
    assert row.outcome in ("processed", "returned", "ignored", "too_large")
    assert row.moved
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_no_robot_is_answered_by_the_pipeline(tmp_path):
    """Every robot, its subject about SECOR, through one real poll: all ignored, not one reply."""
    robots = [need(param.values[0]) for param in corpus_files("mail/robots")]
    config = maildir_config(tmp_path, f"sqlite:///{tmp_path / 'secor-intake.sqlite3'}")
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        for path in robots:
            source.append("INBOX", with_secor_subject(path.read_bytes()))
    services = open_services(config)
    try:
        result = poll_cycle(services)
        with services.sessions() as session:
            outcomes = Counter(session.scalars(select(InboxMessage.outcome)))
    finally:
        services.close()
    assert result.intake.seen == len(robots)
    assert outcomes == {"ignored": len(robots)}
    assert outbox_messages(config.resolve_path(config.outbound.path)) == []


# --- zips: a valid archive is read, a broken one is named precisely ---------------------------

# What each corpus zip must get from `triage` with the default limits: "reads" (no archive.*
# finding), or its archive.* codes. Decided file by file; the choices worth knowing:
# - read: Zip64 end records with 0xFFFF disk fields (libzip zip64*), LZMA without an end marker
#   (lzma-no-eos), a leading PK00 marker (COMPRESS-208), a few MB at 250-1000:1 (xxl.zip, zipbomb.xlsx),
#   a file zipped from a pipe (libzip streamed*), a Unicode Path name whose local header differs
#   (7075_utf8_paths), a jar's impossible file mode 0o177777 (COMPRESS-379), a locator-like name
#   (zip64_magic_in_filename: it then fails on its control characters, as it should);
# - not_zip: data in front of the zip (prefixed, sfx, junk-at-start): the README's rule;
# - corrupt: bad CRCs, truncation, lying local headers, methods we do not read (implode, shrink,
#   reduce, PPMd, xz, zstd), split zips (named as such);
# - encrypted: traditional, AES, and PKWARE strong encryption of the whole directory;
# - bomb: overlapping entries, sizes that lie, and 67 MB or more at over 100:1 (Large.zip, bigzero);
# - too_large: more than 10,000 entries;
# - unsafe_path: links, absolute and parent paths, control characters, duplicate names.
ZIP_VERDICTS = {
    "commons-compress__COMPRESS-189.zip": "reads",
    "commons-compress__COMPRESS-208.zip": "reads",
    "commons-compress__COMPRESS-214_unix_symlinks.zip": "archive.unsafe_path",
    "commons-compress__COMPRESS-219.zip": "archive.not_zip",  # holds a .gz
    "commons-compress__COMPRESS-227.zip": "archive.bomb",
    "commons-compress__COMPRESS-228.zip": "reads",
    "commons-compress__COMPRESS-351.zip": "archive.corrupt",
    "commons-compress__COMPRESS-379.jar": "reads",
    "commons-compress__COMPRESS-380-dd.zip": "reads",
    "commons-compress__COMPRESS-477_split_zip_created_by_zip_zip64.zip": "archive.not_zip",
    "commons-compress__COMPRESS-477_zip_to_compare_created_by_winrar.zip": "reads",
    "commons-compress__COMPRESS-621.zip": "archive.not_zip",
    "commons-compress__COMPRESS-647_test.zip": "archive.corrupt",
    "commons-compress__COMPRESS-692_compress-692.zip": "archive.corrupt",
    "commons-compress__FreeBSD.zip": "reads",
    "commons-compress__OSX_ArchiveWithNestedArchive.zip": "reads",
    "commons-compress__SHRUNK.ZIP": "archive.corrupt",
    "commons-compress__ZipFile-method.zip": "archive.corrupt",
    "commons-compress__android-Camera2Basic-instant-run-Application-debug.apk": "reads",
    "commons-compress__apache-maven-2.2.1.zip.001": "archive.corrupt",
    "commons-compress__archive_with_bytes_after_data.zip": "reads",
    "commons-compress__bla-stored-dd.zip": "archive.corrupt",
    "commons-compress__invalid-zip.zip": "archive.not_zip",
    "commons-compress__long-name.zip": "archive.unsafe_path",
    "commons-compress__lorem-ipsum-deflate64.zip": "reads",
    "commons-compress__lorem-ipsum-implode.zip": "archive.corrupt",
    "commons-compress__password-encrypted.zip": "archive.encrypted",
    "commons-compress__test-method-xz.zip": "archive.corrupt",
    "commons-compress__test-winzip.zip": "archive.not_zip",  # holds a .gz
    "commons-compress__utf8-7zip-test.zip": "reads",
    "commons-compress__utf8-winzip-test.zip": "reads",
    "commons-compress__zipbomb.xlsx": "reads",
    "cpython__example-21.12-py3-none-any.whl": "reads",
    "cpython__example-21.12-py3.6.egg": "reads",
    "cpython__missing_directory.zip": "reads",
    "cpython__nested_portion1.zip": "reads",
    "cpython__setuptools-65.5.0-py3-none-any.whl": "reads",
    "cpython__xxl.zip": "reads",
    "cpython__zip_cp437_header.zip": "reads",
    "cpython__zipdata01_ziptestdata.zip": "reads",
    "cpython__zipdata02_ziptestdata.zip": "reads",
    "cpython__zipdir.zip": "reads",
    "dotnet__PasswordProtectedZipArchives_PasswordProtected_7ZIP_SamePassword.zip": "archive.encrypted",
    "dotnet__StrangeZipFiles_dataDescriptor.zip": "reads",
    "dotnet__StrangeZipFiles_emptyWith64KBComment.zip": "reads",
    "dotnet__StrangeZipFiles_extraDataLHandCDentryAndArchiveComments.zip": "reads",
    "dotnet__StrangeZipFiles_extraDataThenZip64.zip": "reads",
    "dotnet__StrangeZipFiles_fileLengthGreaterIntLessUInt.zip": "archive.bomb",
    "dotnet__StrangeZipFiles_filenameTimeAndSizesDifferentInLH.zip": "archive.corrupt",
    "dotnet__StrangeZipFiles_largetrailingwhitespacedeflation.zip": "reads",
    "dotnet__badzipfiles_CDoffsetOutOfBounds.zip": "archive.corrupt",
    "dotnet__badzipfiles_EOCDmissing.zip": "archive.corrupt",
    "dotnet__badzipfiles_HuffmanTreeException.zip": "archive.corrupt",
    "dotnet__badzipfiles_LZMA.zip": "reads",
    "dotnet__badzipfiles_NORMAL.zip": "archive.corrupt",
    "dotnet__badzipfiles_invalidDeflate.zip": "archive.corrupt",
    "dotnet__badzipfiles_localFileHeaderSignatureWrong.zip": "archive.not_zip",
    "dotnet__badzipfiles_localFileOffsetOutOfBounds.zip": "archive.corrupt",
    "dotnet__badzipfiles_nameDuplicates.zip": "archive.unsafe_path",
    "dotnet__badzipfiles_nameEmpty.zip": "archive.corrupt",
    "dotnet__badzipfiles_nameRooted.zip": "archive.unsafe_path",
    "dotnet__badzipfiles_nameSlashedAndNonzero.zip": "reads",
    "dotnet__badzipfiles_tttt.zip": "archive.bomb",
    "dotnet__compat_7zip.zip": "reads",
    "dotnet__compat_InvalidWindowsFileNameChars.zip": "archive.unsafe_path",
    "dotnet__compat_NullCharFileName_FromUnix.zip": "archive.unsafe_path",
    "dotnet__compat_WindowsInvalid_FromUnix.zip": "reads",
    "dotnet__compat_backslashes_FromWindows.zip": "reads",
    "dotnet__compat_net45_unicode.zip": "reads",
    "dotnet__compat_windows.zip": "reads",
    "dotnet__compat_xceedstreaming.zip": "reads",
    "dotnet__refzipfiles_appended.zip": "reads",
    "dotnet__refzipfiles_encrypted_entries_aes256.zip": "archive.encrypted",
    "dotnet__refzipfiles_encrypted_entries_weak.zip": "archive.encrypted",
    "dotnet__refzipfiles_explicitdir1.zip": "reads",
    "dotnet__refzipfiles_fake64.zip": "reads",
    "dotnet__refzipfiles_prepended.zip": "archive.not_zip",
    "dotnet__refzipfiles_unicode.zip": "reads",
    "gofuzz__0.zip": "reads",
    "gofuzz__19e22ee834f02d145ae7072020443bc7ff06a965-2.zip": "archive.corrupt",
    "gofuzz__28.zip.zip": "reads",
    "gofuzz__45874ad86a5b8d2452b27236e3c3bad0776792d3-1.zip": "archive.corrupt",
    "gofuzz__6.zip": "reads",
    "gofuzz__78deada55bfa26979f2d1edbb671a15254860618-9.zip": "archive.corrupt",
    "gofuzz__930bf1ce2cb50565ca2d8539f6e7476d5407f05c-1.zip": "archive.corrupt",
    "gofuzz__af348f9910f666d84d63ec988bb5713d5851c07f.zip": "archive.corrupt",
    "gofuzz__cd904994f5138b6602cfd17ad7a1794223e9cc38-3.zip": "archive.corrupt",
    "gofuzz__e9c2797b11f48d2236ec9e13c5a82aee8d4ceed2-9.zip": "archive.corrupt",
    "gofuzz__fe4c8741e1bc56eca0c3a2e712e836e0528e8dca-2.zip": "archive.corrupt",
    "gozip__comment-truncated.zip": "reads",
    "gozip__crc32-not-streamed.zip": "reads",
    "gozip__dd.zip": "reads",
    "gozip__dupdir.zip": "archive.unsafe_path",
    "gozip__go-no-datadesc-sig.zip": "reads",
    "gozip__go-with-datadesc-sig.zip": "reads",
    "gozip__readme.zip": "reads",
    "gozip__subdir.zip": "reads",
    "gozip__symlink.zip": "archive.unsafe_path",
    "gozip__test-badbase.zip": "archive.corrupt",
    "gozip__test-baddirsz.zip": "archive.corrupt",
    "gozip__test-prefix.zip": "archive.not_zip",
    "gozip__test-trailing-junk.zip": "reads",
    "gozip__test.zip": "reads",
    "gozip__time-22738.zip": "reads",
    "gozip__time-7zip.zip": "reads",
    "gozip__time-osx.zip": "reads",
    "gozip__time-winzip.zip": "reads",
    "gozip__unix.zip": "reads",
    "gozip__utf8-7zip.zip": "reads",
    "gozip__utf8-infozip.zip": "reads",
    "gozip__utf8-osx.zip": "reads",
    "gozip__utf8-winzip.zip": "reads",
    "gozip__winxp.zip": "reads",
    "gozip__zip64-2.zip": "reads",
    "gozip__zip64.zip": "reads",
    "libarchive__test_compat_zip_1.zip": "reads",
    "libarchive__test_compat_zip_3.zip": "reads",
    "libarchive__test_compat_zip_4.zip": "archive.not_zip",
    "libarchive__test_compat_zip_5.zip": "reads",
    "libarchive__test_compat_zip_7.xps": "reads",
    "libarchive__test_read_data_into_fd_size_exceeds_declared_deflate.zip": "archive.bomb",
    "libarchive__test_read_format_zip.zip": "archive.corrupt",
    "libarchive__test_read_format_zip_7075_utf8_paths.zip": "reads",
    "libarchive__test_read_format_zip_7z_deflate.zip": "archive.unsafe_path",
    "libarchive__test_read_format_zip_7z_lzma.zip": "archive.unsafe_path",
    "libarchive__test_read_format_zip_bz2_hang.zip": "archive.corrupt",
    "libarchive__test_read_format_zip_comment_stored_2.zip": "reads",
    "libarchive__test_read_format_zip_encryption_header.zip": "archive.encrypted",
    "libarchive__test_read_format_zip_encryption_partially.zip": "archive.encrypted",
    "libarchive__test_read_format_zip_extra_padding.zip": "archive.corrupt",
    "libarchive__test_read_format_zip_filename_cp866.zip": "reads",
    "libarchive__test_read_format_zip_filename_cp932.zip": "reads",
    "libarchive__test_read_format_zip_filename_koi8r.zip": "reads",
    "libarchive__test_read_format_zip_filename_utf8_jp.zip": "reads",
    "libarchive__test_read_format_zip_filename_utf8_ru.zip": "archive.unsafe_path",
    "libarchive__test_read_format_zip_high_compression.zip": "reads",
    "libarchive__test_read_format_zip_jar.jar": "reads",
    "libarchive__test_read_format_zip_length_at_end.zip": "reads",
    "libarchive__test_read_format_zip_lzma.zipx": "reads",
    "libarchive__test_read_format_zip_lzma_alone_leak.zipx": "archive.corrupt",
    "libarchive__test_read_format_zip_lzma_stream_end.zipx": "reads",
    "libarchive__test_read_format_zip_mac_metadata.zip": "reads",
    "libarchive__test_read_format_zip_malformed1.zip": "archive.corrupt",
    "libarchive__test_read_format_zip_msdos.zip": "archive.unsafe_path",
    "libarchive__test_read_format_zip_nested.zip": "reads",
    "libarchive__test_read_format_zip_padded1.zip": "archive.not_zip",
    "libarchive__test_read_format_zip_ppmd8.zipx": "archive.corrupt",
    "libarchive__test_read_format_zip_ppmd8_aes256_streaming.zipx": "archive.encrypted",
    "libarchive__test_read_format_zip_ppmd8_crash_1.zipx": "archive.not_zip",
    "libarchive__test_read_format_zip_sfx": "archive.not_zip",
    "libarchive__test_read_format_zip_size_exceeds_declared_stored.zip": "archive.bomb",
    "libarchive__test_read_format_zip_symlink.zip": "archive.unsafe_path",
    "libarchive__test_read_format_zip_traditional_encryption_data.zip": "archive.encrypted",
    "libarchive__test_read_format_zip_uncompressed_size_off_by_4gib.zip": "archive.bomb",
    "libarchive__test_read_format_zip_winzip_aes256.zip": "archive.encrypted",
    "libarchive__test_read_format_zip_with_invalid_traditional_eocd.zip": "reads",
    "libarchive__test_read_format_zip_xz_multi.zipx": "archive.corrupt",
    "libarchive__test_read_format_zip_zip64a.zip": "reads",
    "libarchive__test_read_format_zip_zip64b.zip": "reads",
    "libarchive__test_read_format_zip_zipx_lzma_oom.zipx": "archive.corrupt",
    "libarchive__test_read_format_zip_zstd.zipx": "archive.corrupt",
    "libarchive__test_write_disk_appledouble_zip.zip": "reads",
    "libarchive__unzip_test_basic.zip": "reads",
    "libarchive__unzip_test_f_new.zip": "reads",
    "libarchive__unzip_test_symlink_1.zip": "archive.unsafe_path",
    "libarchive__unzip_test_symlink_dotdot.zip": "archive.unsafe_path",
    "libarchive__unzip_test_u_old.zip": "reads",
    "libzip__bigzero-zip.zip": "archive.bomb",
    "libzip__bogus.zip": "archive.not_zip",
    "libzip__broken.zip": "archive.corrupt+archive.encrypted",
    "libzip__empty-pkware.zip": "archive.encrypted",
    "libzip__encrypt-1234.zip": "archive.encrypted",
    "libzip__encrypt-aes256.zip": "archive.encrypted",
    "libzip__encrypt-none.zip": "reads",
    "libzip__filename_duplicate.zip": "archive.unsafe_path",
    "libzip__filename_empty.zip": "archive.corrupt",
    "libzip__gap.zip": "archive.corrupt",
    "libzip__hmac-error.zip": "archive.encrypted",
    "libzip__incons-archive-comment-longer.zip": "reads",
    "libzip__incons-cdoffset.zip": "archive.corrupt",
    "libzip__incons-central-compression-method.zip": "archive.corrupt",
    "libzip__incons-central-crc.zip": "archive.corrupt",
    "libzip__incons-central-magic-bad.zip": "archive.corrupt",
    "libzip__incons-data.zip": "archive.corrupt",
    "libzip__incons-ef-central-size-wrong.zip": "archive.corrupt",
    "libzip__incons-ef-local-dupe-zip64-v1.zip": "reads",
    "libzip__incons-eocd64.zip": "reads",
    "libzip__incons-file-count-high.zip": "reads",
    "libzip__incons-file-count-overflow.zip": "archive.too_large",
    "libzip__incons-filename-nul-byte.zip": "archive.unsafe_path",
    "libzip__incons-gap-before-eocd.zip": "archive.corrupt",
    "libzip__incons-local-compression-method.zip": "reads",
    "libzip__incons-local-crc.zip": "reads",
    "libzip__incons-local-filename.zip": "archive.corrupt",
    "libzip__incons-local-magic-bad.zip": "archive.not_zip",
    "libzip__incons-stored-size.zip": "archive.bomb",
    "libzip__incons-streamed.zip": "reads",
    "libzip__incons-trailing-garbage.zip": "reads",
    "libzip__incons-zip64-checkcons-overflow.zip": "archive.corrupt",
    "libzip__junk-at-end.zip": "reads",
    "libzip__junk-at-start.zip": "archive.not_zip",
    "libzip__lzma-no-eos.zip": "reads",
    "libzip__manyfiles-zip.zip": "archive.too_large",
    "libzip__multidisk.zip": "archive.corrupt",
    "libzip__streamed-zip64.zip": "reads",
    "libzip__streamed.zip": "reads",
    "libzip__test-cp437-fc-utf-8-filename.zip": "reads",
    "libzip__test-cp437.zip": "archive.unsafe_path",
    "libzip__test-utf8-unmarked.zip": "reads",
    "libzip__testbzip2.zip": "reads",
    "libzip__testbzip2broken.zip": "archive.corrupt",
    "libzip__testfile-UTF8.zip": "reads",
    "libzip__testfile-cp437.zip": "reads",
    "libzip__testfile-lzma.zip": "reads",
    "libzip__testfile-truncated.zip": "archive.corrupt",
    "libzip__testfile-xz.zip": "archive.corrupt",
    "libzip__testfile-zstd.zip": "archive.corrupt",
    "libzip__utf-8-standardization-input.zip": "reads",
    "libzip__zip-in-archive-comment.zip": "reads",
    "libzip__zip64-3mf.zip": "reads",
    "libzip__zip64-in-archive-comment.zip": "reads",
    "libzip__zip64.zip": "reads",
    "rubyzip__WarnInvalidDate.zip": "reads",
    "rubyzip__aes-keka.zip": "archive.encrypted",
    "rubyzip__gpbit3stored.zip": "reads",
    "rubyzip__invalid-split.zip": "archive.not_zip",
    "rubyzip__max_length_file_comment.zip": "reads",
    "rubyzip__oddExtraField.zip": "reads",
    "rubyzip__osx-archive.zip": "reads",
    "rubyzip__path_traversal_jwilk_absolute1.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_jwilk_dirsymlink.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_jwilk_dirsymlink2a.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_jwilk_relative0.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_jwilk_symlink.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_out_evil.zip": "archive.unsafe_path",
    "rubyzip__path_traversal_tilde.zip": "reads",
    "rubyzip__path_traversal_tuzovakaoff_absolutepath.zip": "archive.unsafe_path",
    "rubyzip__rubycode.zip": "reads",
    "rubyzip__zip-aes-256.zip": "archive.encrypted",
    "rubyzip__zip64-sample.zip": "reads",
    "rubyzip__zipWithBzip2Compression.zip": "reads",
    "rubyzip__zipWithCDirHeadersInPayload.zip": "reads",
    "rubyzip__zipWithDirs.zip": "reads",
    "rubyzip__zipWithEncryption.zip": "archive.encrypted",
    "rubyzip__zipWithTooBigCDirSizeField.zip": "reads",
    "rubyzip__zipWithTooBigCDirSizeField64.zip": "reads",
    "sharpcompress__Infozip.nocomp.multi.zip": "archive.not_zip",
    "sharpcompress__Large.zip": "archive.bomb",
    "sharpcompress__PrePostHeaders.zip": "reads",
    "sharpcompress__WinZip27_ZSTD.zipx": "archive.corrupt",
    "sharpcompress__Zip.Evil.zip": "archive.unsafe_path",
    "sharpcompress__Zip.UnicodePathExtra.zip": "reads",
    "sharpcompress__Zip.badlocalextra.zip": "reads",
    "sharpcompress__Zip.bzip2.zip": "reads",
    "sharpcompress__Zip.deflate.WinzipAES.zip": "archive.encrypted",
    "sharpcompress__Zip.deflate.dd.zip": "reads",
    "sharpcompress__Zip.deflate.pkware.zip": "archive.encrypted",
    "sharpcompress__Zip.deflate.zip": "reads",
    "sharpcompress__Zip.deflate64.zip": "reads",
    "sharpcompress__Zip.implode.zip": "archive.corrupt",
    "sharpcompress__Zip.lzma.dd.zip": "reads",
    "sharpcompress__Zip.lzma.empty.zip": "reads",
    "sharpcompress__Zip.lzma.zip": "reads",
    "sharpcompress__Zip.none.datadescriptors.zip": "reads",
    "sharpcompress__Zip.none.zip": "reads",
    "sharpcompress__Zip.ppmd.zip": "archive.corrupt",
    "sharpcompress__Zip.shrink.zip": "archive.corrupt",
    "sharpcompress__Zip.zip64.compressedonly.zip": "reads",
    "sharpcompress__Zip.zip64.zip": "reads",
    "sharpcompress__test_477.zip": "reads",
    "sharpcompress__zipcrypto.zip": "archive.encrypted",
    "zip2__aes_archive.zip": "archive.encrypted",
    "zip2__chinese.zip": "reads",
    "zip2__comment_garbage.zip": "reads",
    "zip2__data_descriptor.zip": "reads",
    "zip2__deflate64.zip": "reads",
    "zip2__deflate64_issue_25.zip": "archive.corrupt",
    "zip2__extended_timestamp_bad.zip": "archive.corrupt",
    "zip2__fuzz_id-000000.zip": "archive.corrupt",
    "zip2__fuzz_id-000160.zip": "archive.corrupt",
    "zip2__fuzz_id-000320.zip": "archive.corrupt",
    "zip2__fuzz_id-000480.zip": "archive.corrupt",
    "zip2__fuzz_id-000640.zip": "archive.not_zip",
    "zip2__fuzz_id-000800.zip": "reads",
    "zip2__ignore_encryption_flag.zip": "archive.encrypted",
    "zip2__invalid_cde_number_of_files_allocation_greater_offset.zip": "archive.not_zip",
    "zip2__invalid_cde_number_of_files_allocation_smaller_offset.zip": "archive.not_zip",
    "zip2__invalid_offset.zip": "archive.corrupt",
    "zip2__invalid_offset2.zip": "archive.corrupt",
    "zip2__legacy_implode.zip": "archive.corrupt",
    "zip2__legacy_reduce.zip": "archive.corrupt",
    "zip2__legacy_shrink.zip": "archive.corrupt",
    "zip2__lin-ub_iwd-v11.zip": "reads",
    "zip2__lzma.zip": "reads",
    "zip2__misaligned_comment.zip": "reads",
    "zip2__non_utf8.zip": "reads",
    "zip2__ntfs.zip": "reads",
    "zip2__ppmd.zip": "archive.corrupt",
    "zip2__raw_deflate64_index_out_of_bounds.zip": "archive.unsafe_path",
    "zip2__symlink.zip": "archive.unsafe_path",
    "zip2__windows-7zip.zip": "reads",
    "zip2__xz.zip": "archive.corrupt",
    "zip2__zip64_demo.zip": "archive.not_zip",
    "zip2__zip64_magic_in_filename_1.zip": "archive.unsafe_path",
    "zip2__zip64_magic_in_filename_5.zip": "archive.unsafe_path",
}


@pytest.mark.parametrize("path", corpus_files("zips"))
def test_corpus_zip_gets_its_verdict(path, tmp_path):
    path = need(path)
    assert path.name in ZIP_VERDICTS, "a new corpus file: decide its verdict and add it to ZIP_VERDICTS"
    report = triage_path(path, ArchiveLimits(), RuleSettings(), tmp_path)
    codes = sorted({f.code for f in report.findings if f.code.startswith("archive.")})
    assert ("+".join(codes) or "reads") == ZIP_VERDICTS[path.name], [f.message for f in report.findings]
    assert all(f.message for f in report.findings)


def test_every_zip_verdict_names_a_corpus_file():
    folder = need(CORPORA / "zips" if (CORPORA / "zips").is_dir() else None)
    assert sorted(ZIP_VERDICTS) == sorted(p.name for p in folder.iterdir() if p.name != "SOURCES.md")
