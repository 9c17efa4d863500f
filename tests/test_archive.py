"""The safe zip reader: every archive.* code where it should fire, nothing where it should not.

Every zip is built here, small on disk (tests/zipfactory.py). Bombs are extracted in a child
process whose peak memory and bytes written are measured, so a regression that inflates a bomb
shows up as a number, not as a hung test machine.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from tests import zipfactory as zf
from triage.archive import ExtractedFile, ExtractResult, extract_zip, is_zip_file, read_zip
from triage.settings import ArchiveLimits

MB = zf.MB
ROOT = Path(__file__).resolve().parent.parent
LIMITS = ArchiveLimits()


def write(tmp_path: Path, data: bytes, name: str = "submission.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def extract(tmp_path: Path, data: bytes, limits: ArchiveLimits = LIMITS) -> tuple[ExtractResult, Path]:
    """Write `data` as a zip, extract it into a new empty folder, return the result and the folder.

    Every test also reads the same zip without extracting it (read_zip), which must find the same."""
    dest = tmp_path / "out"
    dest.mkdir()
    zip_path = write(tmp_path, data)
    result = extract_zip(zip_path, dest, limits, inspect=first_bytes)
    assert_reading_agrees(zip_path, limits, result, dest)
    return result, dest


def first_bytes(path: str, content, size: int) -> bytes:
    """An inspector: what a sniffer sees first."""
    content.seek(0)
    return content.read(16)


def assert_reading_agrees(zip_path: Path, limits: ArchiveLimits, extracted: ExtractResult, dest: Path) -> None:
    """read_zip finds what extract_zip found, writes nothing but inner zips, and reads each file back."""
    with tempfile.TemporaryDirectory() as scratch:
        read = read_zip(zip_path, Path(scratch), limits, inspect=first_bytes)
        assert [f.to_dict() for f in read.findings] == [f.to_dict() for f in extracted.findings]
        assert read.fatal == extracted.fatal
        assert read.folders == extracted.folders
        assert [(f.path, f.size, f.sha256, f.note) for f in read.files] == \
               [(f.path, f.size, f.sha256, f.note) for f in extracted.files]
        assert all(p.name.startswith(".nested-") for p in Path(scratch).iterdir())
        for file in read.files:
            with file.open() as content:
                assert content.read() == (dest / file.path).read_bytes()
    if not extracted.fatal:
        assert set(extracted.folders) == {f.rstrip("/") for f in tree(dest) if f.endswith("/")}
        for file in extracted.files:
            assert file.sha256 == hashlib.sha256((dest / file.path).read_bytes()).hexdigest()
            assert file.note == (dest / file.path).read_bytes()[:16]


def fresh(tmp_path: Path, name: str) -> Path:
    """A new empty work folder, for a test that extracts more than once."""
    folder = tmp_path / name
    folder.mkdir()
    return folder


def codes(result: ExtractResult) -> list[str]:
    return [f.code for f in result.findings]


def tree(dest: Path) -> set[str]:
    """Every file and folder under dest, as posix paths."""
    return {p.relative_to(dest).as_posix() + ("/" if p.is_dir() else "") for p in dest.rglob("*")}


def assert_fatal(result: ExtractResult, dest: Path, code: str) -> None:
    assert code in codes(result), result.findings
    assert result.fatal
    assert result.files == []
    assert tree(dest) == set()


def only_dest_written(tmp_path: Path) -> None:
    """Nothing appeared beside dest: the zip and dest are all there is in tmp_path."""
    assert {p.name for p in tmp_path.iterdir()} == {"submission.zip", "out"}


# ---------------------------------------------------------------------------------------------
# Clean zips


def test_clean_zip_extracts_everything_with_no_finding(tmp_path: Path) -> None:
    files = zf.sample_submission()
    result, dest = extract(tmp_path, zf.normal_zip(files))
    assert result.findings == []
    assert not result.fatal
    expected = {name: data for name, data in files.items() if not name.endswith("/")}
    assert sorted(result.files, key=lambda f: f.path) == sorted(
        (ExtractedFile(name, len(data)) for name, data in expected.items()), key=lambda f: f.path)
    for name, data in expected.items():
        assert (dest / name).read_bytes() == data
    assert tree(dest) == {"SECOR Evaluation 2026.pdf", "Element 1 - Leadership/",
                          "Element 1 - Leadership/Health and Safety Policy.pdf",
                          "Element 2 - Hazard Assessment/",
                          "Element 2 - Hazard Assessment/Hazard Assessment 2026.docx"}
    only_dest_written(tmp_path)


def test_written_files_get_safe_permissions_and_keep_their_time(tmp_path: Path) -> None:
    entry = zf.unix_entry("Element 1/run.pdf", b"%PDF-1.4\n", stat.S_IFREG | 0o6777)
    result, dest = extract(tmp_path, zf.build_zip([entry]))
    assert result.findings == []
    written = dest / "Element 1/run.pdf"
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "Element 1").stat().st_mode) == 0o755
    # the factory stamps 0x5A21 = 2025-01-01 00:00 (DOS date), local time
    assert time.localtime(written.stat().st_mtime)[:3] == (2025, 1, 1)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_other_standard_methods_are_read(tmp_path: Path, method: int) -> None:
    content = b"inspection record line\n" * 5000
    result, dest = extract(tmp_path, zf.normal_zip({"Element 4/Inspections.txt": content}, method=method))
    assert result.findings == []
    assert (dest / "Element 4/Inspections.txt").read_bytes() == content


@pytest.mark.parametrize("build", [zf.streamed_zip, zf.zip64_zip])
def test_data_descriptors_and_zip64_end_records_are_read(tmp_path: Path, build) -> None:
    files = {"Element 1/policy.pdf": b"%PDF-1.4 policy\n" * 100, "Element 2/hazards.pdf": b"h" * 10}
    data = build(files)
    assert (b"PK\x07\x08" in data) if build is zf.streamed_zip else (b"PK\x06\x06" in data)
    result, dest = extract(tmp_path, data)
    assert result.findings == []
    assert {f.path: (dest / f.path).read_bytes() for f in result.files} == files


def test_zip64_end_records_with_0xffff_disk_fields_are_read(tmp_path: Path) -> None:
    # libzip and .NET write 0xFFFF in the old end record's disk fields and the real ones in Zip64's
    files = {"Element 1/policy.pdf": b"%PDF-1.4 policy\n" * 100}
    data = bytearray(zf.zip64_zip(files))
    end = data.rindex(b"PK\x05\x06")
    data[end + 4:end + 8] = b"\xff\xff\xff\xff"
    result, dest = extract(tmp_path, bytes(data))
    assert result.findings == []
    assert (dest / "Element 1/policy.pdf").read_bytes() == files["Element 1/policy.pdf"]


def test_a_split_zip_is_named_as_one(tmp_path: Path) -> None:
    data = bytearray(zf.normal_zip({"Element 1/policy.pdf": b"%PDF-1.4"}))
    end = data.rindex(b"PK\x05\x06")
    data[end + 4:end + 8] = b"\x01\x00\x01\x00"  # part 2 of a split zip
    result, dest = extract(tmp_path, bytes(data))
    assert_fatal(result, dest, "archive.corrupt")
    assert "split (multi-part) zip" in result.findings[0].message


def test_lzma_without_an_end_marker_stops_at_its_declared_size(tmp_path: Path) -> None:
    content = b"inspection record line\n" * 5000
    props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1})
    # Without an end marker the decoder does not know where to stop and decodes the range coder's
    # last bytes into a few more: modelled here by a stream that goes on past the declared size.
    stream = lzma.compress(content + b"padding", format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1}])
    header = struct.pack("<BBH", 9, 4, len(props)) + props
    entry = zf.RawEntry(name=b"Element 4/Inspections.txt", data=header + stream,
                        crc=zlib.crc32(content), file_size=len(content), method=zipfile.ZIP_LZMA)
    result, dest = extract(tmp_path, zf.build_zip([entry]))
    assert result.findings == []
    assert (dest / "Element 4/Inspections.txt").read_bytes() == content


def test_a_leading_single_segment_marker_is_skipped(tmp_path: Path) -> None:
    files = {"Element 1/policy.pdf": b"%PDF-1.4 policy\n" * 100}
    result, dest = extract(tmp_path, b"PK00" + zf.normal_zip(files))
    assert result.findings == []
    assert (dest / "Element 1/policy.pdf").read_bytes() == files["Element 1/policy.pdf"]


def test_strong_encryption_of_the_whole_zip_is_encrypted_not_corrupt(tmp_path: Path) -> None:
    # PKWARE strong encryption with the directory encrypted: the names in it cannot be read
    entry = zf.stored("Element 1/policy.pdf", b"\x8a" * 64, flags=0x2041)
    data = bytearray(zf.build_zip([entry]))
    data[4:6] = struct.pack("<H", 51)  # version needed: 5.1, as strong encryption requires
    start = data.index(b"PK\x01\x02")
    end = data.rindex(b"PK\x05\x06")
    data[start:end] = bytes(range(end - start))
    result, dest = extract(tmp_path, bytes(data))
    assert_fatal(result, dest, "archive.encrypted")
    assert codes(result) == ["archive.encrypted"]


def test_an_entry_without_a_name_gets_a_finding(tmp_path: Path) -> None:
    entries = [zf.deflated("", b"some content"), zf.deflated("Element 1/policy.pdf", b"%PDF-1.4")]
    result, dest = extract(tmp_path, zf.build_zip(entries))
    assert not result.fatal
    assert [(f.code, f.path) for f in result.findings] == [("archive.corrupt", None)]
    assert "a file with no name" in result.findings[0].message
    assert [f.path for f in result.files] == ["Element 1/policy.pdf"]


def test_deflate64_entry_is_read(tmp_path: Path) -> None:
    entry, content = zf.deflate64_entry("Element 3/Hazard Controls.pdf")
    result, dest = extract(tmp_path, zf.build_zip([entry]))
    assert result.findings == []
    assert (dest / "Element 3/Hazard Controls.pdf").read_bytes() == content
    assert result.files == [ExtractedFile("Element 3/Hazard Controls.pdf", len(content))]


def test_unknown_compression_method_is_corrupt(tmp_path: Path) -> None:
    entry = zf.RawEntry(name=b"policy.pdf", data=b"\x00" * 50, crc=0, file_size=100, method=98)
    result, dest = extract(tmp_path, zf.build_zip([entry]))
    assert_fatal(result, dest, "archive.corrupt")
    assert "PPMd" in result.findings[0].message or "method" in result.findings[0].message


def test_operating_system_junk_is_skipped_silently(tmp_path: Path) -> None:
    files = {
        "Element 1/policy.pdf": b"%PDF-1.4 policy",
        "__MACOSX/": b"",
        "__MACOSX/Element 1/._policy.pdf": b"\x00\x05\x16\x07 appledouble",
        "Element 1/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "Element 1/Thumbs.db": b"\xd0\xcf\x11\xe0",
        "Element 2/desktop.ini": b"[.ShellClassInfo]",
        "._SECOR Evaluation.pdf": b"\x00\x05\x16\x07",
    }
    result, dest = extract(tmp_path, zf.normal_zip(files))
    assert result.findings == []
    assert result.files == [ExtractedFile("Element 1/policy.pdf", 15)]
    assert tree(dest) == {"Element 1/", "Element 1/policy.pdf"}


# ---------------------------------------------------------------------------------------------
# Names


def test_cp437_and_utf8_names_come_out_right(tmp_path: Path) -> None:
    entries = [
        zf.cp437_entry("Élément 1/Polítique.pdf", b"legacy"),  # DOS/Windows tool, no UTF-8 flag
        zf.deflated("Élément 2/Évaluation des dangers.pdf", b"flagged"),  # UTF-8 flag set
        zf.deflated("Élément 3/Contrôles.pdf".encode("utf-8"), b"mac"),  # UTF-8 without the flag
        zf.unicode_path_entry("Élément 4/Inspección.pdf", b"Element 4/Inspeccion.pdf", b"extra"),
        zf.deflated("Élément 5/Formation été.pdf".encode("cp1252"), b"ansi"),  # Windows' ANSI code page
    ]
    assert entries[1].flags & zf.FLAG_UTF8 and not entries[0].flags & zf.FLAG_UTF8
    result, dest = extract(tmp_path, zf.build_zip(entries))
    assert result.findings == []
    assert {f.path for f in result.files} == {
        "Élément 1/Polítique.pdf", "Élément 2/Évaluation des dangers.pdf",
        "Élément 3/Contrôles.pdf", "Élément 4/Inspección.pdf", "Élément 5/Formation été.pdf"}
    assert (dest / "Élément 1/Polítique.pdf").read_bytes() == b"legacy"
    assert (dest / "Élément 4/Inspección.pdf").read_bytes() == b"extra"


def test_unicode_path_field_with_a_stale_checksum_is_ignored(tmp_path: Path) -> None:
    entry = zf.unicode_path_entry("Élément 4/Other.pdf", b"Element 4/Inspeccion.pdf", b"x")
    stale = entry.extra[:5] + bytes([entry.extra[5] ^ 0xFF]) + entry.extra[6:]  # flip the name CRC
    result, _ = extract(tmp_path, zf.build_zip([zf.RawEntry(**{**entry.__dict__, "extra": stale})]))
    assert [f.path for f in result.files] == ["Element 4/Inspeccion.pdf"]


def test_backslashes_are_folder_separators(tmp_path: Path) -> None:
    result, dest = extract(tmp_path, zf.build_zip([zf.deflated("Element 1\\Sub\\policy.pdf", b"p")]))
    assert result.findings == []
    assert result.files == [ExtractedFile("Element 1/Sub/policy.pdf", 1)]
    assert (dest / "Element 1" / "Sub" / "policy.pdf").read_bytes() == b"p"


UNSAFE_NAMES = [
    "/etc/cron.d/evil",
    "../evil.pdf",
    "Element 1/../../evil.pdf",
    "..\\..\\evil.pdf",
    "\\\\server\\share\\evil.pdf",
    "C:/Windows/evil.pdf",
    "C:evil.pdf",
    "Element 1/pol\x00icy.pdf",
    "Element 1/pol\x07icy.pdf",
    "Element 1/pol\nicy.pdf",
    "Element 1/" + "x" * 256 + ".pdf",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_names_are_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    good = zf.deflated("Element 1/policy.pdf", b"fine")
    result, dest = extract(tmp_path, zf.build_zip([good, zf.deflated(name, b"evil")]))
    assert_fatal(result, dest, "archive.unsafe_path")
    only_dest_written(tmp_path)
    assert not (tmp_path.parent / "evil.pdf").exists()


@pytest.mark.parametrize("mode", [stat.S_IFCHR | 0o666, stat.S_IFBLK | 0o660, stat.S_IFSOCK | 0o755])
def test_device_and_socket_entries_are_refused(tmp_path: Path, mode: int) -> None:
    result, dest = extract(tmp_path, zf.build_zip([zf.unix_entry("Element 1/dev", b"", mode)]))
    assert_fatal(result, dest, "archive.unsafe_path")


def test_a_file_zipped_from_a_pipe_is_read_as_a_file(tmp_path: Path) -> None:
    # `... | zip out.zip -` keeps the pipe's mode; unzip, zipfile and libzip read the data as a file
    result, dest = extract(tmp_path, zf.build_zip([zf.unix_entry("Element 1/log.txt", b"piped", stat.S_IFIFO | 0o600)]))
    assert not result.fatal and result.findings == []
    target = dest / "Element 1" / "log.txt"
    assert target.read_bytes() == b"piped" and stat.S_ISREG(target.lstat().st_mode)


def test_symlink_entries_are_refused_even_when_followed_by_a_file_through_them(tmp_path: Path) -> None:
    entries = [zf.symlink_entry("Element 1", "/tmp"), zf.deflated("Element 1/evil.pdf", b"evil")]
    result, dest = extract(tmp_path, zf.build_zip(entries))
    assert_fatal(result, dest, "archive.unsafe_path")
    assert "symbolic link" in result.findings[0].message
    only_dest_written(tmp_path)


@pytest.mark.parametrize("names", [
    ["Element 1/policy.pdf", "Element 1/policy.pdf"],
    ["Element 1/Policy.pdf", "element 1/POLICY.PDF"],
    ["Element 1", "Element 1/policy.pdf"],  # a file and a folder with one name
    ["Élément 1/a.pdf", "E\u0301le\u0301ment 1/a.pdf"],  # NFC and NFD spellings of one name
    # a file made where a folder already seen stands, after several files went into that folder
    ["Element 1/Sub/a.pdf", "Element 1/Sub/b.pdf", "element 1/sub"],
    ["Element 1/a.pdf", "Element 1/b.pdf", "ELEMENT 1", "Element 1/c.pdf"],
])
def test_duplicate_names_are_refused(tmp_path: Path, names: list[str]) -> None:
    result, dest = extract(tmp_path, zf.build_zip([zf.deflated(n, b"x") for n in names]))
    assert_fatal(result, dest, "archive.unsafe_path")


@pytest.mark.parametrize("component", ["a" * 256, "é" * 128, "\U0001F4C4" * 64])  # 256 UTF-8 bytes each
def test_a_name_longer_than_a_file_system_allows_is_refused(tmp_path: Path, component: str) -> None:
    result, dest = extract(tmp_path, zf.build_zip([zf.deflated(f"Element 1/{component}", b"x")]))
    assert_fatal(result, dest, "archive.unsafe_path")
    assert "too long" in result.findings[0].message


def test_a_name_just_within_the_limit_is_read(tmp_path: Path) -> None:
    names = ["a" * 255, "é" * 127, "\U0001F4C4" * 63]  # 255, 254 and 252 bytes
    result, dest = extract(tmp_path, zf.build_zip([zf.deflated(f"Element 1/{n}", b"x") for n in names]))
    assert not result.fatal and sorted(f.path for f in result.files) == sorted(f"Element 1/{n}" for n in names)


def test_duplicate_folder_entries_are_fine(tmp_path: Path) -> None:
    entries = [zf.stored("Element 1/", b""), zf.stored("element 1/", b""),
               zf.deflated("Element 1/a.pdf", b"a")]
    result, _ = extract(tmp_path, zf.build_zip(entries))
    assert result.findings == []


# ---------------------------------------------------------------------------------------------
# Not a zip, damaged zips


@pytest.mark.parametrize("data, words", [
    (zf.rar_bytes(), "RAR"),
    (zf.seven_zip_bytes(), "7-Zip"),
    (zf.tar_bytes(), "TAR"),
    (zf.gzip_bytes(), "gzip"),
    (zf.bzip2_bytes(), "bzip2"),
    (zf.xz_bytes(), "xz"),
    (b"Dear COR team, please find our documents attached.\n", "not a zip file"),
])
def test_other_formats_named_zip_are_not_zip(tmp_path: Path, data: bytes, words: str) -> None:
    result, dest = extract(tmp_path, data)
    assert_fatal(result, dest, "archive.not_zip")
    assert words in result.findings[0].message
    assert not is_zip_file(tmp_path / "submission.zip")


def test_is_zip_file_goes_by_content_not_name(tmp_path: Path) -> None:
    real = write(tmp_path, zf.normal_zip(zf.sample_submission()), "no-extension")
    fake = write(tmp_path, zf.rar_bytes(), "fake.zip")
    truncated = write(tmp_path, zf.normal_zip(zf.sample_submission())[:200], "cut.zip")
    assert is_zip_file(real)
    assert not is_zip_file(fake)
    assert not is_zip_file(truncated)


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_truncated_zip_is_corrupt(tmp_path: Path, cut: float) -> None:
    data = zf.normal_zip(zf.sample_submission())
    result, dest = extract(tmp_path, data[:int(len(data) * cut)])
    assert_fatal(result, dest, "archive.corrupt")


def test_crc_error_is_corrupt_and_files_already_written_are_removed(tmp_path: Path) -> None:
    good = zf.deflated("Element 1/policy.pdf", b"fine " * 100)
    bad = zf.deflated("Element 2/hazards.pdf", b"damaged " * 100)
    bad = zf.RawEntry(**{**bad.__dict__, "crc": bad.crc ^ 1})
    result, dest = extract(tmp_path, zf.build_zip([good, bad]))
    assert_fatal(result, dest, "archive.corrupt")
    assert [f.path for f in result.findings] == ["Element 2/hazards.pdf"]


def test_bad_central_directory_is_corrupt(tmp_path: Path) -> None:
    data = zf.normal_zip(zf.sample_submission())
    at = data.rindex(b"PK\x01\x02")
    result, dest = extract(tmp_path, data[:at] + b"PK\x01\x09" + data[at + 4:])
    assert_fatal(result, dest, "archive.corrupt")


def test_entry_whose_data_runs_into_the_directory_is_corrupt(tmp_path: Path) -> None:
    entry = zf.deflated("Element 1/policy.pdf", b"p" * 1000)
    body = zf.local_header(entry) + entry.data
    directory = zf.central_header(entry, 0, compress_size=entry.compress_size + 40)
    data = body + directory + zf.end_record(1, len(directory), len(body))
    result, dest = extract(tmp_path, data)
    assert_fatal(result, dest, "archive.corrupt")


def test_damaged_deflate_stream_is_corrupt(tmp_path: Path) -> None:
    entry = zf.deflated("Element 1/policy.pdf", os.urandom(3000))
    broken = zf.RawEntry(**{**entry.__dict__, "data": b"\xff" * 20 + entry.data[20:]})
    result, dest = extract(tmp_path, zf.build_zip([broken]))
    assert_fatal(result, dest, "archive.corrupt")


@pytest.mark.parametrize("offset, value", [(30, b"X"), (3, b"\x05")])
def test_bad_local_header_is_corrupt(tmp_path: Path, offset: int, value: bytes) -> None:
    """The second entry's local header: a name that differs from the directory's, a bad signature."""
    first = zf.deflated("Element 1/a.pdf", b"a" * 100)
    data = bytearray(zf.build_zip([first, zf.deflated("Element 1/policy.pdf", b"p" * 100)]))
    at = len(zf.local_header(first)) + first.compress_size + offset
    data[at:at + 1] = value
    result, dest = extract(tmp_path, bytes(data))
    assert_fatal(result, dest, "archive.corrupt")


# ---------------------------------------------------------------------------------------------
# Encryption


def test_zipcrypto_entry_is_reported_and_the_rest_extracted(tmp_path: Path) -> None:
    secret = zf.zipcrypto("Element 3/training.pdf", b"%PDF-1.4 secret", b"hunter2")
    data = zf.build_zip([zf.deflated("Element 1/policy.pdf", b"open"), secret])
    with zipfile.ZipFile(write(tmp_path, data, "check.zip")) as real:  # a real ZipCrypto entry
        assert real.read("Element 3/training.pdf", pwd=b"hunter2") == b"%PDF-1.4 secret"
    os.remove(tmp_path / "check.zip")
    result, dest = extract(tmp_path, data)
    assert codes(result) == ["archive.encrypted"]
    assert result.findings[0].path == "Element 3/training.pdf"
    assert "password" in result.findings[0].message
    assert not result.fatal
    assert result.files == [ExtractedFile("Element 1/policy.pdf", 4)]
    assert tree(dest) == {"Element 1/", "Element 1/policy.pdf"}


def test_a_fully_locked_zip_gives_ten_findings_and_a_count(tmp_path: Path) -> None:
    data = zf.build_zip([zf.zipcrypto(f"Element 1/record {i:02}.pdf", b"secret", b"pw") for i in range(15)])
    result, dest = extract(tmp_path, data)
    assert codes(result) == ["archive.encrypted"] * 11
    assert [f.path for f in result.findings[:10]] == [f"Element 1/record {i:02}.pdf" for i in range(10)]
    assert result.findings[10].path is None and result.findings[10].message.startswith("5 more")
    assert result.files == [] and not result.fatal


@pytest.mark.parametrize("flags", [zf.FLAG_ENCRYPTED, 0])
def test_winzip_aes_entry_is_reported(tmp_path: Path, flags: int) -> None:
    data = zf.build_zip([zf.winzip_aes("Element 5/certificates.pdf", flags=flags),
                         zf.deflated("Element 1/policy.pdf", b"open")])
    result, dest = extract(tmp_path, data)
    assert codes(result) == ["archive.encrypted"]
    assert result.findings[0].path == "Element 5/certificates.pdf"
    assert [f.path for f in result.files] == ["Element 1/policy.pdf"]


# ---------------------------------------------------------------------------------------------
# Size limits


def test_zip_over_the_archive_size_limit_is_too_large(tmp_path: Path) -> None:
    data = zf.normal_zip(zf.sample_submission())
    result, dest = extract(tmp_path, data, ArchiveLimits(max_archive_bytes=len(data) - 1))
    assert_fatal(result, dest, "archive.too_large")


def test_total_unpacked_size_over_the_limit_is_too_large(tmp_path: Path) -> None:
    files = {f"Element 1/record {i}.pdf": os.urandom(40_000) for i in range(5)}
    result, dest = extract(tmp_path, zf.normal_zip(files), ArchiveLimits(max_unpacked_bytes=150_000))
    assert_fatal(result, dest, "archive.too_large")
    result_ok, _ = extract(fresh(tmp_path, "again"), zf.normal_zip(files),
                           ArchiveLimits(max_unpacked_bytes=200_000))
    assert result_ok.findings == []


def test_entry_count_over_the_limit_is_too_large(tmp_path: Path) -> None:
    files = {f"Element 8/record {i}.pdf": b"r" for i in range(12)}
    result, dest = extract(tmp_path, zf.normal_zip(files), ArchiveLimits(max_entries=11))
    assert_fatal(result, dest, "archive.too_large")


def test_entry_count_is_walked_not_taken_from_the_end_record(tmp_path: Path) -> None:
    data = zf.normal_zip({f"Element 8/record {i}.pdf": b"r" for i in range(12)})
    at = data.rindex(b"PK\x05\x06")
    lying = data[:at + 8] + (1).to_bytes(2, "little") * 2 + data[at + 12:]  # "1 entry"
    result, dest = extract(tmp_path, lying, ArchiveLimits(max_entries=11))
    assert_fatal(result, dest, "archive.too_large")


def test_nested_zips_count_toward_the_same_totals(tmp_path: Path) -> None:
    inner = zf.normal_zip({f"record {i}.pdf": b"r" for i in range(8)})
    outer = zf.normal_zip({"Element 1.zip": inner, "Element 2.zip": inner, "SECOR Evaluation.pdf": b"e"})
    ok, _ = extract(fresh(tmp_path, "a"), outer, ArchiveLimits(max_entries=3 + 16))
    assert ok.findings == [] and len(ok.files) == 17
    result, dest = extract(fresh(tmp_path, "b"), outer, ArchiveLimits(max_entries=3 + 15))
    assert_fatal(result, dest, "archive.too_large")


# ---------------------------------------------------------------------------------------------
# Nested element zips


def test_nested_zip_contents_count_toward_the_unpacked_size(tmp_path: Path) -> None:
    inner = zf.normal_zip({f"record {i}.txt": bytes(400_000) for i in range(3)})  # 1.2 MB, ~2 KB zipped
    outer = zf.normal_zip({"Element 1.zip": inner, "Element 2.zip": inner})
    ok, _ = extract(fresh(tmp_path, "a"), outer, ArchiveLimits(max_unpacked_bytes=2_500_000))
    assert ok.findings == [] and len(ok.files) == 6
    result, dest = extract(fresh(tmp_path, "b"), outer, ArchiveLimits(max_unpacked_bytes=2_000_000))
    assert_fatal(result, dest, "archive.too_large")


def test_nested_element_zips_are_expanded_in_place(tmp_path: Path) -> None:
    # Element 1 zipped on a Mac: the folder inside, with Finder's junk beside it
    element1 = zf.normal_zip({"Element 1/": b"", "Element 1/Policy.pdf": b"policy",
                              "__MACOSX/Element 1/._Policy.pdf": b"\x00\x05\x16\x07"})
    element2 = zf.normal_zip({"Hazard Assessment.pdf": b"hazards", "Forms/FLHA.pdf": b"flha"})
    outer = zf.normal_zip({"SECOR Evaluation.pdf": b"tool", "Element 1.zip": element1,
                           "Elements/Element 2.zip": element2})
    result, dest = extract(tmp_path, outer)
    assert result.findings == []
    assert sorted(f.path for f in result.files) == [
        "Element 1/Policy.pdf", "Elements/Element 2/Forms/FLHA.pdf",
        "Elements/Element 2/Hazard Assessment.pdf", "SECOR Evaluation.pdf"]
    assert (dest / "Elements/Element 2/Forms/FLHA.pdf").read_bytes() == b"flha"
    assert not any(p.suffix == ".zip" for p in dest.rglob("*"))
    assert not any(p.name.startswith(".nested") for p in dest.rglob("*"))


def test_inner_zip_that_is_not_a_zip_is_kept_and_reported(tmp_path: Path) -> None:
    outer = zf.normal_zip({"Element 3.zip": zf.rar_bytes(), "Element 1/policy.pdf": b"p"})
    result, dest = extract(tmp_path, outer)
    assert codes(result) == ["archive.not_zip"]
    assert result.findings[0].path == "Element 3.zip"
    assert "RAR" in result.findings[0].message
    assert not result.fatal
    assert {f.path for f in result.files} == {"Element 3.zip", "Element 1/policy.pdf"}
    assert tree(dest) == {"Element 1/", "Element 1/policy.pdf", "Element 3.zip"}


def test_inner_zip_colliding_with_an_outer_file_is_refused(tmp_path: Path) -> None:
    inner = zf.normal_zip({"policy.pdf": b"inner"})
    outer = zf.normal_zip({"Element 1.zip": inner, "Element 1/Policy.pdf": b"outer"})
    result, dest = extract(tmp_path, outer)
    assert_fatal(result, dest, "archive.unsafe_path")


def test_zip_inside_zip_inside_zip_beyond_max_nesting_is_a_bomb(tmp_path: Path) -> None:
    level3 = zf.normal_zip({"policy.pdf": b"p"})
    level2 = zf.normal_zip({"Part.zip": level3})
    result, dest = extract(tmp_path, zf.normal_zip({"Element 1.zip": level2}))
    assert_fatal(result, dest, "archive.bomb")
    allowed, _ = extract(fresh(tmp_path, "deeper"), zf.normal_zip({"Element 1.zip": level2}),
                         ArchiveLimits(max_nesting=2))
    assert allowed.findings == []
    assert [f.path for f in allowed.files] == ["Element 1/Part/policy.pdf"]


# ---------------------------------------------------------------------------------------------
# Bombs: decided before inflating, bounded while inflating


def test_high_ratio_entry_is_a_bomb_but_small_compressible_entries_are_not(tmp_path: Path) -> None:
    data, crc = zf.zeros_deflated(50 * MB)  # ~50 KB on disk
    bomb = zf.RawEntry(name=b"Element 1/scan.pdf", data=data, crc=crc, file_size=50 * MB)
    result, dest = extract(fresh(tmp_path, "a"), zf.build_zip([bomb]))
    assert_fatal(result, dest, "archive.bomb")
    small = zf.deflated("Element 1/blank.txt", b" " * 500_000)  # ratio ~500 but under 1 MB
    ok, _ = extract(fresh(tmp_path, "b"), zf.build_zip([small]))
    assert ok.findings == []


def test_a_few_mb_of_text_or_xml_at_a_high_ratio_is_read(tmp_path: Path) -> None:
    row = b"<row><cell>Hazard assessment</cell><cell>done</cell></row>\n"
    xml = zf.deflated("Element 2/hazards.xml", row * (5 * MB // len(row)))  # 5 MB at ~300:1
    assert xml.file_size / len(xml.data) > 250
    result, dest = extract(tmp_path, zf.build_zip([xml]))
    assert not result.fatal and result.findings == []
    assert (dest / "Element 2" / "hazards.xml").stat().st_size == xml.file_size


def run_isolated(zip_path: Path, dest: Path, limits: ArchiveLimits, mode: str = "extract") -> dict:
    """Extract (or, mode "read", read) in a child process; return its findings, peak memory and bytes
    written by write().

    Peak memory is the child's VmHWM: ru_maxrss would carry over the parent's peak across exec."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from triage.archive import extract_zip, read_zip\n"
        "from triage.settings import ArchiveLimits\n"
        "def wchar():\n"
        "    with open('/proc/self/io') as io:\n"
        "        return next(int(l.split()[1]) for l in io if l.startswith('wchar:'))\n"
        "before = wchar()\n"
        "limits = ArchiveLimits(**json.loads(sys.argv[3]))\n"
        "if sys.argv[4] == 'read':\n"
        "    result = read_zip(Path(sys.argv[1]), Path(sys.argv[2]), limits, inspect=lambda p, f, n: f.read(16))\n"
        "else:\n"
        "    result = extract_zip(Path(sys.argv[1]), Path(sys.argv[2]), limits)\n"
        "written = wchar() - before\n"
        "with open('/proc/self/status') as status:\n"
        "    peak_kb = next(int(l.split()[1]) for l in status if l.startswith('VmHWM:'))\n"
        "print(json.dumps({'codes': [f.code for f in result.findings], 'fatal': result.fatal,\n"
        "                  'written': written, 'peak_kb': peak_kb}))\n"
    )
    limits_json = json.dumps(limits.__dict__)
    done = subprocess.run([sys.executable, "-c", script, str(zip_path), str(dest), limits_json, mode],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


BOMB_LIMITS = ArchiveLimits(max_unpacked_bytes=20 * MB)


def bombs() -> dict[str, bytes]:
    return {
        # the directory says 1 KB; the stream inflates to 200 MB of zeros (more than the memory bound)
        "lying header": zf.build_zip([zf.lying_entry("Element 1/policy.pdf", 200 * MB, 1000)]),
        # ratio 1000:1, 50 MB
        "ratio": zf.build_zip([zf.lying_entry("Element 1/scan.pdf", 50 * MB, 50 * MB)]),
        # ~12 KB that a naive extractor turns into 400 MB
        "overlap": zf.overlap_bomb(files=100, kernel_size=4 * MB),
        # ~3 KB, 512 MB three levels down
        "nested": zf.nested_bomb(width=8, leaf_size=4 * MB),
    }


@pytest.mark.parametrize("mode", ["extract", "read"])
@pytest.mark.parametrize("kind", ["lying header", "ratio", "overlap", "nested"])
def test_bombs_are_stopped_with_bounded_memory_and_disk(tmp_path: Path, kind: str, mode: str) -> None:
    data = bombs()[kind]
    assert len(data) < 250_000  # small on disk
    zip_path = write(tmp_path, data)
    dest = fresh(tmp_path, "out")
    report = run_isolated(zip_path, dest, BOMB_LIMITS, mode)
    assert "archive.bomb" in report["codes"], report
    assert report["fatal"]
    assert report["peak_kb"] < 150 * 1024, report
    assert report["written"] <= BOMB_LIMITS.max_unpacked_bytes, report
    assert tree(dest) == set()


@pytest.mark.parametrize("mode", ["extract", "read"])
def test_a_large_honest_file_is_streamed_not_held(tmp_path: Path, mode: str) -> None:
    """40 MB of photo-like data: memory stays far below its size, whether written out or only read."""
    data = zf.normal_zip({"Element 2/site walk.jpg": os.urandom(40 * MB)}, method=zipfile.ZIP_STORED)
    report = run_isolated(write(tmp_path, data), fresh(tmp_path, "out"), LIMITS, mode)
    assert report["codes"] == [] and not report["fatal"], report
    assert report["peak_kb"] < 30 * 1024, report  # ~20 MB seen, most of it the interpreter


def test_lying_header_stops_at_the_declared_size(tmp_path: Path) -> None:
    data = zf.build_zip([zf.lying_entry("Element 1/policy.pdf", 5 * MB, 1000)])
    report = run_isolated(write(tmp_path, data), fresh(tmp_path, "out"), LIMITS)
    assert report["codes"] == ["archive.bomb"]
    assert report["written"] < 1_200_000  # at most one inflate step past the claim, never 5 MB


def test_overlap_bomb_is_real_and_caught_before_inflating(tmp_path: Path) -> None:
    data = zf.overlap_bomb(files=20, kernel_size=1 * MB)
    with zipfile.ZipFile(write(tmp_path, data, "naive.zip")) as naive:
        # the standard library reads its first entry whole, CRC checked: the construction is real
        first = naive.infolist()[0]
        with naive.open(first) as stream:
            total = sum(len(chunk) for chunk in iter(lambda: stream.read(MB), b""))
        assert total == first.file_size > 1 * MB
        assert sum(i.file_size for i in naive.infolist()) > 20 * MB
    os.remove(tmp_path / "naive.zip")
    # a ratio limit high enough that only the overlap can be the reason
    result, dest = extract(tmp_path, data, ArchiveLimits(max_ratio=1_000_000))
    assert_fatal(result, dest, "archive.bomb")
    assert "share the same data" in result.findings[0].message


def test_entries_sharing_one_local_header_are_a_bomb(tmp_path: Path) -> None:
    """The full-overlap form: many directory entries, one local file and its kernel."""
    data, crc = zf.zeros_deflated(2 * MB)
    kernel = zf.RawEntry(name=b"a", data=data, crc=crc, file_size=2 * MB)
    body = zf.local_header(kernel) + kernel.data
    directory = b"".join(zf.central_header(zf.RawEntry(**{**kernel.__dict__, "name": bytes([n])}), 0)
                         for n in b"abcdefgh")
    bomb = body + directory + zf.end_record(8, len(directory), len(body))
    result, dest = extract(tmp_path, bomb, ArchiveLimits(max_ratio=1_000_000))
    assert_fatal(result, dest, "archive.bomb")
    assert codes(result) == ["archive.bomb"]


def test_nested_bomb_is_caught_by_nesting(tmp_path: Path) -> None:
    result, dest = extract(tmp_path, zf.nested_bomb(width=8, leaf_size=4 * MB))
    assert_fatal(result, dest, "archive.bomb")
    assert "zips inside zips" in result.findings[-1].message
