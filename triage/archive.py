"""Safe reading of an untrusted zip submission.

Nothing in a submitted zip is trusted. The archive is judged from its central directory before
anything is inflated (entry count, declared sizes, per-entry ratio, overlapping entries, names,
links, encryption), and every entry is then inflated by our own bounded streaming loop that counts
the bytes actually produced, so a header that lies about its size is stopped at the size it
declared, which the directory check already held under the limits.

Choices worth knowing:
- A zip must start with a zip signature (or the single-segment marker `PK00` before one); a
  self-extracting program or a file with data in front of the zip is `archive.not_zip`.
- A backslash in a name is treated as a folder separator (old Windows tools wrote them), and the
  usual checks then apply to the result.
- Names without the UTF-8 flag: the Info-ZIP Unicode Path field (0x7075) wins when its checksum
  matches; else a name that is valid UTF-8 is read as UTF-8 (macOS and Linux zip tools write UTF-8
  without the flag); else CP437, the DOS/Windows default, or Windows-1252 when that reads as more
  letters (`Élément` written in the ANSI code page is `╔l╬ment` in CP437). Names come out in NFC.
- An inner `Element 1.zip` is expanded into `Element 1/`; when every entry of the inner zip already
  sits in one folder of that same name, that redundant level is dropped. An inner `X.zip` that is
  not a zip is kept as a file and reported as `archive.not_zip` without stopping the rest; any other
  problem inside an inner zip (corrupt, bomb, too large, unsafe name) stops the whole archive.
- Duplicates are judged as Windows and macOS would: case-insensitive, after NFC normalization, and
  a file and a folder of the same name collide.
- Sizes are budgeted from the declared sizes (each entry is cut off at its own), so the bytes on
  disk never exceed `max_unpacked_bytes`, nested zips included.
- Compression methods read: stored, deflate, Deflate64, bzip2 and LZMA. Others are `archive.corrupt`.
- At most ten findings per code, then one that counts the rest (a fully locked zip is one problem).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import struct
import tempfile
import time
import unicodedata
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, NamedTuple

from zipfile_deflate64.deflate64 import Deflate64

from triage import paths, wording
from triage.findings import Finding, finding
from triage.settings import ArchiveLimits

# A high ratio alone is not a bomb: text and XML of a few MB deflate 250-400:1 and cost nothing to
# read (inflating is bounded, and the total budget, overlaps and nesting still apply). Only entries
# this large are judged by their ratio.
RATIO_MIN_BYTES = 10_000_000

# A file up to this size is inspected from memory; a larger one from a file (dest, or a spill).
INSPECT_IN_MEMORY_BYTES = 8 * 1024 * 1024

_READ_CHUNK = 64 * 1024  # compressed bytes read per step
_OUT_CHUNK = 1024 * 1024  # most inflated bytes produced per step by zlib, bzip2 and lzma
# The Deflate64 decoder takes no output bound, so it is fed little at a time: a Deflate64 match
# of 65538 bytes costs at least 18 bits, so 1 KB in gives at most ~30 MB out.
_DEFLATE64_CHUNK = 1024
# No honest central directory needs more than this per entry (46 fixed bytes + name + extras).
_MAX_CD_BYTES_PER_ENTRY = 4096
_MAX_NAME_COMPONENT_BYTES = 255
_MAX_FINDINGS_PER_CODE = 10  # a reply listing 500 locked files helps nobody

_METHOD_STORED, _METHOD_DEFLATE, _METHOD_DEFLATE64, _METHOD_BZIP2, _METHOD_LZMA = 0, 8, 9, 12, 14
_METHOD_AES = 99
_EXTRA_AES = 0x9901
_EXTRA_UNICODE_PATH = 0x7075
_FLAG_ENCRYPTED = 0x0001
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8 = 0x0800
_FLAG_MASKED_HEADERS = 0x2000  # strong encryption of the central directory: its names are unreadable

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL_HEADER_SIZE = 46
_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")

_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# A zip that was to be split but fit in one part starts with this marker, which unzip skips (APPNOTE 8.5.4).
_SINGLE_SEGMENT_MARKER = b"PK00"
# Magic numbers (at an offset) of what people send instead of a zip, with the words we tell them:
# other archives (an email attachment starting so is taken as the submission, see intake.message),
OTHER_ARCHIVE_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip (.7z) archive"),
    (257, b"ustar", "a TAR archive"),
    (0, b"\x1f\x8b", "a gzip-compressed file (.gz or .tgz)"),
    (0, b"BZh", "a bzip2-compressed file (.bz2)"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file (.xz)"),
    (0, b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file (.zst)"),
    (0, b"MSCF", "a Microsoft Cabinet (.cab) file"),
)
# and other files sent in a zip's place.
_OTHER_FORMATS: tuple[tuple[int, bytes, str], ...] = OTHER_ARCHIVE_FORMATS + (
    (0, b"MZ", "a Windows program (perhaps a self-extracting archive)"),
    (0, b"%PDF", "a PDF document"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Microsoft Office document"),
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # exactly Unicode category Cc (checked per name, not per character)

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               struct.error, NotImplementedError, OverflowError, IndexError)

_DECOMPRESS_ERRORS = (zlib.error, lzma.LZMAError, OSError, ValueError, EOFError)

_RESEND = "Please make the zip again from your folder with a standard tool and send it again."


@dataclass(frozen=True)
class ExtractedFile:
    """A file of the zip: posix path (nested zips expanded), size, SHA-256 and what `inspect` said of it.

    Written under dest when the zip was extracted; else `open()` inflates it again from the zip."""

    path: str
    size: int
    sha256: str = field(default="", compare=False)  # hex SHA-256 of the content, computed as it streamed
    note: object = field(default=None, compare=False)  # what the caller's `inspect` returned
    origin: _Origin | None = field(default=None, compare=False, repr=False)  # where to read it again

    def open(self) -> BinaryIO:
        """The content as a seekable binary file (in memory up to INSPECT_IN_MEMORY_BYTES, else a
        temporary file). Only for files that were not written: those are read from dest."""
        if self.origin is None:
            raise ValueError(f"{self.path} was written to disk: open it there")
        zip_path, entry, scratch = self.origin
        with open(zip_path, "rb") as fp:
            if entry.info.file_size <= INSPECT_IN_MEMORY_BYTES:
                return io.BytesIO(b"".join(_inflate(fp, entry)))
            spill = tempfile.TemporaryFile(dir=scratch)
            for piece in _inflate(fp, entry):
                spill.write(piece)
            spill.seek(0)
            return spill


@dataclass
class ExtractResult:
    """What reading the zip found. `folders` are every folder it holds (posix paths, made under
    dest when extracted). When `fatal`, dest was emptied and `files` and `folders` are []."""

    findings: list[Finding]
    files: list[ExtractedFile]
    fatal: bool
    folders: list[str] = field(default_factory=list)


class _SplitZip(zipfile.BadZipFile):
    """One part of a split (multi-part) zip."""


class _Fatal(Exception):
    """The archive as a whole cannot be used; carries the findings that say why."""

    def __init__(self, findings: list[Finding]):
        super().__init__(", ".join(f.code for f in findings))
        self.findings = findings


@dataclass
class _State:
    """What one reading has used and found so far, shared by nested zips."""

    scratch: Path  # inner zips and large files being inspected go here
    dest: Path | None  # where files are written; None: nothing is written but inner zips
    limits: ArchiveLimits
    inspect: Inspect | None
    entries: int = 0
    bytes: int = 0  # declared sizes of every file planned and still on disk
    files: list[ExtractedFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    file_keys: set[str] = field(default_factory=set)  # casefolded paths of files planned
    dir_keys: set[str] = field(default_factory=set)  # casefolded paths of folders planned
    # Folders made under dest (or found to be real folders) or, when nothing is written, seen; and
    # those whose real path is their own inside dest: checked once each, not once per file.
    made_dirs: dict[tuple[str, ...], Path] = field(default_factory=dict)
    safe_parents: set[Path] = field(default_factory=set)


@dataclass(frozen=True)
class _Entry:
    """One central-directory entry, judged and placed."""

    info: zipfile.ZipInfo
    raw_name: str  # decoded name as stored, for messages
    path: str  # safe relative output path ('' when the name is only '.' or '/')
    is_dir: bool
    data_start: int
    encrypted: bool
    junk: bool
    local_name_ok: bool  # the local header repeats the directory's name


class _Origin(NamedTuple):
    """Where a file that was not written can be read again: its zip, its entry, a spill folder."""

    zip_path: Path
    entry: _Entry
    scratch: Path


# What a caller learns of each file as it streams: inspect(path, content, size) -> a note.
Inspect = Callable[[str, BinaryIO, int], object]


# ---------------------------------------------------------------------------------------------
# Public API


def has_zip_signature(path: Path) -> bool:
    """True when the file starts like a zip (it may still be truncated or corrupt)."""
    try:
        with open(path, "rb") as fp:
            return _starts_like_zip(fp.read(8))
    except OSError:
        return False


def _starts_like_zip(head: bytes) -> bool:
    """A zip signature first, or the single-segment marker and then a local header."""
    return head[:4] in _ZIP_SIGNATURES or (
        head[:4] == _SINGLE_SEGMENT_MARKER and head[4:8] == b"PK\x03\x04")


def is_zip_file(path: Path) -> bool:
    """True when the file's content is a zip: a zip signature first and a readable central directory."""
    try:
        with open(path, "rb") as fp:
            if not _starts_like_zip(fp.read(8)):
                return False
            size = os.fstat(fp.fileno()).st_size
            start, cd_size, _ = _locate_central_directory(fp, size)
            _count_central_entries(fp, start, cd_size, limit=None)
            return True
    except (_Fatal, *_ZIP_ERRORS):
        return False


def extract_zip(zip_path: Path, dest: Path, limits: ArchiveLimits,
                inspect: Inspect | None = None) -> ExtractResult:
    """Extract an untrusted zip into the existing empty folder `dest`, never writing outside it.

    `inspect(path, file, size)` is called once per file with its content (from memory when small,
    else from the written file), so a caller needs no second read."""
    return _read(zip_path, _State(scratch=dest.resolve(), dest=dest.resolve(), limits=limits, inspect=inspect))


def read_zip(zip_path: Path, scratch: Path, limits: ArchiveLimits, inspect: Inspect | None = None) -> ExtractResult:
    """Read an untrusted zip without extracting it: every check of `extract_zip`, every file
    inflated once, hashed and given to `inspect`; `ExtractedFile.open()` reads one again.

    Inner zips are copied into the existing folder `scratch` (the files in them are read from there
    later), as are files too large to inspect in memory while they are inspected. The caller removes
    `scratch` when it no longer needs the files."""
    return _read(zip_path, _State(scratch=scratch.resolve(), dest=None, limits=limits, inspect=inspect))


def _read(zip_path: Path, state: _State) -> ExtractResult:
    limits = state.limits
    try:
        size = zip_path.stat().st_size
        if size > limits.max_archive_bytes:
            raise _Fatal([finding(
                "archive.too_large",
                f"The zip file is {_mb(size)}, over the limit of {_mb(limits.max_archive_bytes)}. "
                "Send only the documents asked for, or send a download link instead.")])
        other = _other_format(zip_path)
        if other is not None:
            raise _Fatal([not_zip_finding(other, None)])
        _extract_archive(zip_path, "", 0, state)
    except _Fatal as fatal:
        _empty_folder(state.dest or state.scratch)
        return ExtractResult(findings=state.findings + fatal.findings, files=[], fatal=True)
    except BaseException:
        _empty_folder(state.dest or state.scratch)  # our own failure (disk full...): leave nothing half-written
        raise
    folders = sorted("/".join(parts) for parts in state.made_dirs if parts)
    return ExtractResult(findings=state.findings, files=state.files, fatal=False, folders=folders)


# ---------------------------------------------------------------------------------------------
# One archive (the submission, or a zip inside it)


def _extract_archive(zip_path: Path, prefix: str, depth: int, state: _State) -> None:
    """Judge one zip from its directory, then extract it under `prefix` (a folder path or '')."""
    shown = prefix.rstrip("/") or None  # the path findings about this archive name
    with open(zip_path, "rb") as fp:
        if _directory_encrypted(fp):  # its directory is unreadable: nothing else can be judged
            raise _Fatal([finding(
                "archive.encrypted", "The whole zip is encrypted (PKWARE strong encryption), so we cannot "
                "open it. Make the zip again without a password and send it again.", shown)])
        try:
            size = os.fstat(fp.fileno()).st_size
            start, cd_size, declared = _locate_central_directory(fp, size)
            limit = state.limits.max_entries - state.entries
            if declared > limit or cd_size > limit * _MAX_CD_BYTES_PER_ENTRY:
                raise _Fatal([_too_many_entries(state.limits)])
            if _count_central_entries(fp, start, cd_size, limit=limit) > limit:
                raise _Fatal([_too_many_entries(state.limits)])
            fp.seek(0)
            infos = zipfile.ZipFile(fp).infolist()
            entries = _plan(fp, infos, start, prefix, state)
        except _SplitZip as exc:
            raise _Fatal([finding(
                "archive.corrupt", "The zip is one part of a split (multi-part) zip, which we cannot read "
                "alone. Make a single zip file of your folder and send it again.", shown)]) from exc
        except _ZIP_ERRORS as exc:
            raise _Fatal([_corrupt(shown)]) from exc
        for entry in entries:
            if entry.junk or entry.encrypted or not entry.path:
                continue
            if entry.is_dir:
                _make_dirs(state, entry.path.split("/"))
            elif _is_nested_zip_name(entry.path):
                _extract_nested(fp, entry, zip_path, depth, state)
            else:
                state.files.append(_take_entry(fp, entry, zip_path, state))


def _plan(fp: BinaryIO, infos: list[zipfile.ZipInfo], cd_start: int, prefix: str,
          state: _State) -> list[_Entry]:
    """Judge every entry before inflating anything; raise _Fatal with every fatal finding."""
    limits = state.limits
    state.entries += len(infos)
    if state.entries > limits.max_entries:
        raise _Fatal([_too_many_entries(limits)])
    fatal: list[Finding] = []
    entries: list[_Entry] = []
    for info in infos:
        entry, problem = _judge_entry(fp, info, prefix)
        if problem is not None:
            fatal.append(problem)
        if entry is not None:
            entries.append(entry)
    if fatal:
        raise _Fatal(_cap(fatal))
    entries = _drop_redundant_folder(entries, prefix)
    # overlapping entries also have absurd ratios, and may share names: say the one thing that matters
    fatal += _overlaps(entries, cd_start) or _ratios(entries, limits) or _collisions(entries, state)
    if fatal:
        raise _Fatal(_cap(fatal))
    # after the overlap check: entries that all point at one local header are a bomb, not damage
    if not all(e.local_name_ok for e in entries):
        raise zipfile.BadZipFile("a local header's name differs from the directory's")
    total = sum(e.info.file_size for e in entries if not (e.is_dir or e.junk or e.encrypted))
    state.bytes += total  # reserved now: every file is stopped at its declared size when written
    if state.bytes > limits.max_unpacked_bytes:
        raise _Fatal([finding(
            "archive.too_large",
            f"The submission unpacks to more than {_mb(limits.max_unpacked_bytes)}, over the limit. "
            "Send only the documents asked for: one or two samples a month, not every record.",
            prefix.rstrip("/") or None)])
    state.findings += _cap([finding(
        "archive.corrupt",
        f"The zip holds a file with no name ({_mb(entry.info.file_size)}), so we cannot put it in a folder and "
        "left it out. " + _RESEND, prefix.rstrip("/") or None)
        for entry in entries if not (entry.path or entry.is_dir or entry.junk)])
    state.findings += _cap([finding(
        "archive.encrypted",
        f"The file '{entry.raw_name}' in your zip is password-protected, so we cannot open it. "
        "Remove the password from it and send the zip again.", entry.path or entry.raw_name)
        for entry in entries if entry.encrypted and not entry.junk])
    return entries


def _judge_entry(fp: BinaryIO, info: zipfile.ZipInfo, prefix: str) -> tuple[_Entry | None, Finding | None]:
    """Decode, check and place one entry; the finding is fatal (unsafe name, link, bad header)."""
    name = _decode_name(info)
    problem = _unsafe_name(name) or _unsafe_type(info)
    shown = name if problem is None else _printable(name)  # a safe name has no control characters
    if problem is not None:
        return None, finding(
            "archive.unsafe_path",
            f"The zip holds an entry we cannot safely unpack: '{shown}' ({problem}). {_RESEND}", shown)
    posix = name.replace("\\", "/")
    parts = [p if p.isascii() else unicodedata.normalize("NFC", p) for p in posix.split("/") if p not in ("", ".")]
    is_dir = posix.endswith("/")
    junk = paths.is_junk_path(parts)
    encrypted = bool(info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION)) or \
        info.compress_type == _METHOD_AES or _extra_field(info.extra, _EXTRA_AES) is not None
    path = prefix + "/".join(parts) if parts else ""
    data_start, local_name_ok = _data_start(fp, info)
    return _Entry(info=info, raw_name=shown, path=path, is_dir=is_dir, data_start=data_start,
                  encrypted=encrypted, junk=junk, local_name_ok=local_name_ok), None


def _drop_redundant_folder(entries: list[_Entry], prefix: str) -> list[_Entry]:
    """In a nested `X.zip` whose entries all sit in `X/`, place them in `X/` once, not `X/X/`."""
    if not prefix:
        return entries
    folder = prefix.rstrip("/").rsplit("/", 1)[-1]
    inner = (prefix + folder).casefold()
    inside = [e.path.casefold() == inner or e.path.casefold().startswith(inner + "/") for e in entries]
    if not any(inside) or not all(ok for ok, e in zip(inside, entries, strict=True) if not e.junk):
        return entries
    return [replace(e, path=(prefix + e.path[len(prefix):].partition("/")[2]).rstrip("/"))
            if ok else e for ok, e in zip(inside, entries, strict=True)]


def _is_nested_zip_name(path: str) -> bool:
    """An inner zip to expand: `X.zip` with a non-empty X."""
    name = path.rsplit("/", 1)[-1]
    return name.lower().endswith(".zip") and len(name) > 4


def _overlaps(entries: list[_Entry], cd_start: int) -> list[Finding]:
    """Entries whose data ranges share bytes (the overlapping-file zip bomb), or run into the directory."""
    spans = sorted((e.info.header_offset, e.data_start + e.info.compress_size, e.raw_name) for e in entries)
    for (_, end, name), (next_start, _, next_name) in pairwise(spans):
        if next_start < end:
            return [finding(
                "archive.bomb",
                f"The zip is built so that its entries share the same data ('{name}' and '{next_name}'): "
                "this is how zip bombs are made, and we cannot open it safely. " + _RESEND)]
    if spans and max(end for _, end, _ in spans) > cd_start:
        return [finding("archive.corrupt", "The zip file is damaged: its file data runs into its table "
                        "of contents. " + _RESEND)]
    return []


def _ratios(entries: list[_Entry], limits: ArchiveLimits) -> list[Finding]:
    """Entries that claim to expand more than `max_ratio` times (ignoring small ones)."""
    out = []
    for e in entries:
        if e.is_dir or e.encrypted or e.info.file_size < RATIO_MIN_BYTES:
            continue
        if e.info.compress_size == 0 or e.info.file_size / e.info.compress_size > limits.max_ratio:
            out.append(finding(
                "archive.bomb",
                f"The file '{e.raw_name}' would expand from {_mb(e.info.compress_size)} to "
                f"{_mb(e.info.file_size)}, far more than real documents do (limit {limits.max_ratio} to 1). "
                "We cannot open it safely. " + _RESEND, e.path))
    return out


def _collisions(entries: list[_Entry], state: _State) -> list[Finding]:
    """Names that would land on the same file on Windows or macOS (case-insensitive), or file vs folder."""
    out = []
    files = set(state.file_keys)
    dirs = set(state.dir_keys)
    clear: set[str] = set()
    for e in entries:
        if e.junk or not e.path:
            continue
        key = e.path.casefold()
        if _is_nested_zip_name(key) and not e.is_dir:
            # a nested zip becomes a folder (or stays a file when it is not a zip): reserve both
            if key in files or key in dirs or key[:-4] in files:
                out.append(_duplicate(e))
            files.add(key)
            dirs.add(key[:-4])
            continue
        parent = key.rpartition("/")[0]
        # A folder seen before with no file on its way, while nothing clashed: no second walk up
        # (a file made later where a seen folder is clashes with that folder, and ends the shortcut).
        seen_clear = parent in clear and not out
        parents = [] if seen_clear else key.split("/")[:-1]
        if any("/".join(parents[:i + 1]) in files for i in range(len(parents))):
            out.append(_duplicate(e))
        elif e.is_dir:
            if key in files:
                out.append(_duplicate(e))
            dirs.add(key)
        else:
            if key in files or key in dirs:
                out.append(_duplicate(e))
            files.add(key)
        if not seen_clear:
            dirs.update("/".join(parents[:i + 1]) for i in range(len(parents)))
            if not out:
                clear.add(parent)
    state.file_keys, state.dir_keys = files, dirs  # reserved now, so later archives see them
    return out


# ---------------------------------------------------------------------------------------------
# Names


def _decode_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author meant it (see the module docstring for the order)."""
    if info.flag_bits & _FLAG_UTF8:
        return info.orig_filename
    raw = _stored_name(info)
    unicode_path = _unicode_path(raw, info.extra)
    if unicode_path is not None:
        return unicode_path
    if not raw.isascii():
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:  # some Windows tools write the ANSI code page, not the DOS one: take what reads as words
            ansi = raw.decode("cp1252")
        except UnicodeDecodeError:
            return info.orig_filename
        if _letters(ansi) > _letters(info.orig_filename):
            return ansi
    return info.orig_filename


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _unicode_path(raw: bytes, extra: bytes) -> str | None:
    """The Info-ZIP Unicode Path field's name when it is there and its checksum matches `raw`."""
    field_ = _extra_field(extra, _EXTRA_UNICODE_PATH)
    if field_ is None or len(field_) <= 5 or field_[0] != 1 or struct.unpack("<I", field_[1:5])[0] != zlib.crc32(raw):
        return None
    try:
        return field_[5:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _stored_name(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored in the zip (zipfile decoded them as UTF-8 or CP437)."""
    name = info.orig_filename
    if name.isascii():  # the same bytes in both; the codecs cost ~3 us a name
        return name.encode("ascii")
    return name.encode("utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437")


def _unsafe_name(name: str) -> str | None:
    """Why this name could write outside dest or cannot be written, or None when it is safe."""
    if _CONTROL.search(name):
        return "it contains control characters"
    posix = name.replace("\\", "/")
    if posix.startswith("/"):
        return "it is an absolute path"
    if _DRIVE.match(posix):
        return "it starts with a drive letter"
    parts = posix.split("/")
    if ".." in parts:
        return "it points to a parent folder with '..'"
    if max(map(len, parts)) * 4 > _MAX_NAME_COMPONENT_BYTES and \
            any(len(p.encode("utf-8")) > _MAX_NAME_COMPONENT_BYTES for p in parts):  # 4: UTF-8's widest
        return "a name in it is too long"
    return None


def _unsafe_type(info: zipfile.ZipInfo) -> str | None:
    """Why the entry's Unix file type is not a plain file or folder (links, devices, pipes)."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    # Info-ZIP's zip keeps the mode of a pipe it read (`... | zip out.zip -`): the entry is a file
    # with data, which unzip writes as one. We never make special files, so a pipe is read as a file.
    if kind == stat.S_IFLNK:
        return "it is a symbolic link"
    if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK):
        return "it is a device or socket, not a file"
    return None  # a file, a folder, or a type no system has (a jar tool's 0o177777): read by its name


def _printable(name: str) -> str:
    """The name with control characters shown as escapes, fit for a message."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", name)


def _extra_field(extra: bytes, wanted: int) -> bytes | None:
    """The payload of one extra field by id, or None."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, pos)
        if kind == wanted:
            return extra[pos + 4:pos + 4 + size]
        pos += 4 + size
    return None


# ---------------------------------------------------------------------------------------------
# Directory structures


def _other_format(path: Path) -> str | None:
    """What the file is when it is not a zip ("a RAR archive"), or None when it starts like a zip."""
    with open(path, "rb") as fp:
        head = fp.read(512)
    if _starts_like_zip(head):
        return None
    for offset, magic, words in _OTHER_FORMATS:
        if head[offset:offset + len(magic)] == magic:
            return words
    return "not a zip file"


def _locate_central_directory(fp: BinaryIO, size: int) -> tuple[int, int, int]:
    """(start, size in bytes, declared entry count) of the central directory, from the end records."""
    tail_len = min(size, _EOCD.size + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06", 0, max(0, tail_len - _EOCD.size + 4))
    if pos < 0:
        raise zipfile.BadZipFile("no end of central directory record")
    _, disk, cd_disk, _, count, cd_size, _, _ = _EOCD.unpack_from(tail, pos)
    end = size - tail_len + pos  # where the directory (or its zip64 record) ends
    if end >= _ZIP64_LOCATOR.size:
        fp.seek(end - _ZIP64_LOCATOR.size)
        sig, _, record_at, _ = _ZIP64_LOCATOR.unpack(fp.read(_ZIP64_LOCATOR.size))
        record_end = end - _ZIP64_LOCATOR.size
        fp.seek(max(0, record_end - _ZIP64_EOCD.size))
        record = fp.read(_ZIP64_EOCD.size)
        # A locator with no Zip64 record before it is data (a name that ends in the same bytes):
        # only the old record counts then, as zipfile reads it.
        if sig == b"PK\x06\x07" and len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
            end = record_end - _ZIP64_EOCD.size
            # the zip64 record's fields win: writers put 0xFFFF in the old record's (as zipfile,
            # libzip and libarchive read it)
            disk, cd_disk, _, count, cd_size = _ZIP64_EOCD.unpack(record)[4:9]
    if disk != 0 or cd_disk != 0:
        raise _SplitZip("split (multi-part) zip")
    start = end - cd_size
    if start < 0:
        raise zipfile.BadZipFile("central directory larger than the file")
    return start, cd_size, count


def _directory_encrypted(fp: BinaryIO) -> bool:
    """Whether the first local header says the directory is encrypted (PKWARE strong encryption)."""
    fp.seek(0)
    head = fp.read(4 + _LOCAL_HEADER.size)
    if head[:4] == _SINGLE_SEGMENT_MARKER:
        head = head[4:]
    if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        return False
    _, version, flags = _LOCAL_HEADER.unpack_from(head)[:3]
    strong = _FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION | _FLAG_MASKED_HEADERS
    return flags & strong == strong and 50 <= version <= 63  # APPNOTE: strong encryption needs 5.0 to 6.3


def _count_central_entries(fp: BinaryIO, start: int, cd_size: int, limit: int | None) -> int:
    """Walk the directory's headers without building objects; stop early once past `limit`."""
    fp.seek(start)
    pos = count = 0
    while pos < cd_size:
        header = fp.read(_CENTRAL_HEADER_SIZE)
        if len(header) != _CENTRAL_HEADER_SIZE or header[:4] != b"PK\x01\x02":
            raise zipfile.BadZipFile("bad central directory header")
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", header, 28)
        skip = name_len + extra_len + comment_len
        fp.seek(skip, os.SEEK_CUR)
        pos += _CENTRAL_HEADER_SIZE + skip
        count += 1
        if limit is not None and count > limit:
            break
    return count


def _data_start(fp: BinaryIO, info: zipfile.ZipInfo) -> tuple[int, bool]:
    """Offset of the entry's data, and whether its local header repeats the directory's name.

    The same name is the same bytes, or other legacy bytes that carry the Info-ZIP Unicode Path
    of the name read from the directory."""
    stored = _stored_name(info)
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size + len(stored))  # the header and the name it should repeat
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.orig_filename!r}")
    name_len, extra_len = _LOCAL_HEADER.unpack_from(header)[9:11]
    same_name = name_len == len(stored) and header[_LOCAL_HEADER.size:] == stored
    if not same_name and _extra_field(info.extra, _EXTRA_UNICODE_PATH) is not None:
        fp.seek(info.header_offset + _LOCAL_HEADER.size + name_len)
        # its checksum may be of either header's legacy name: libarchive does not check it either
        field_ = _extra_field(fp.read(extra_len), _EXTRA_UNICODE_PATH) or b""
        same_name = field_[:1] == b"\x01" and field_[5:] == _decode_name(info).encode("utf-8")
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len, same_name


# ---------------------------------------------------------------------------------------------
# Inflating and writing


def _inflate(fp: BinaryIO, entry: _Entry) -> Iterator[bytes]:
    """The entry's content in pieces, checked against its declared size and CRC as it streams."""
    info = entry.info
    produced = 0
    crc = 0
    try:
        for piece in _decompress(info.compress_type, _compressed(fp, entry), entry):
            produced += len(piece)
            if produced > info.file_size:
                raise _Fatal([finding(
                    "archive.bomb",
                    f"The file '{entry.raw_name}' says it is {_mb(info.file_size)} but expands to more: "
                    "the zip lies about its content, as zip bombs do. We stopped reading it. " + _RESEND,
                    entry.path)])
            crc = zlib.crc32(piece, crc)
            yield piece
    except _DECOMPRESS_ERRORS as exc:
        raise _Fatal([_corrupt(entry.path)]) from exc
    if produced != info.file_size or crc != info.CRC:
        raise _Fatal([_corrupt(entry.path)])


def _compressed(fp: BinaryIO, entry: _Entry) -> Iterator[bytes]:
    """The entry's compressed bytes in chunks; a short read means the zip is truncated."""
    left = entry.info.compress_size
    position = entry.data_start
    while left > 0:
        fp.seek(position)  # nested reads share the file object, so never trust its position
        chunk = fp.read(min(_READ_CHUNK, left))
        if not chunk:
            raise _Fatal([_corrupt(entry.path)])
        left -= len(chunk)
        position += len(chunk)
        yield chunk


def _decompress(method: int, chunks: Iterator[bytes], entry: _Entry) -> Iterator[bytes]:
    """Bounded streaming decompression for the methods we read."""
    if method == _METHOD_STORED:
        yield from chunks
    elif method == _METHOD_DEFLATE:
        yield from _bounded_zlib(zlib.decompressobj(-15), chunks, entry)
    elif method == _METHOD_DEFLATE64:
        yield from _deflate64(chunks, entry)
    elif method == _METHOD_BZIP2:
        yield from _bounded_stream(bz2.BZ2Decompressor(), chunks, None)
    elif method == _METHOD_LZMA:
        yield from _zip_lzma(chunks, entry)
    else:
        raise _Fatal([finding(
            "archive.corrupt",
            f"The file '{entry.raw_name}' is compressed with a method we cannot read "
            f"({zipfile.compressor_names.get(method, f'method {method}')}). "  # type: ignore[attr-defined]  # not in typeshed
            "Please make the zip with Windows' 'Send to > Compressed (zipped) folder' or your system's "
            "standard zip tool and send it again.", entry.path)])


def _bounded_zlib(decompressor: zlib._Decompress, chunks: Iterator[bytes], entry: _Entry) -> Iterator[bytes]:
    """Raw deflate, at most _OUT_CHUNK out per call, whatever the input claims."""
    for chunk in chunks:
        data = chunk
        while True:
            out = decompressor.decompress(data, _OUT_CHUNK)
            data = decompressor.unconsumed_tail
            if out:
                yield out
            if decompressor.eof or (not data and len(out) < _OUT_CHUNK):
                break
        if decompressor.eof:
            return
    raise _Fatal([_corrupt(entry.path)])


def _bounded_stream(decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor,
                    chunks: Iterator[bytes], size: int | None) -> Iterator[bytes]:
    """bzip2 or LZMA, at most _OUT_CHUNK out per call, and no more than `size` when it is given.

    LZMA in zip may lack an end marker (7-Zip and libzip omit it): its stream then ends at the
    declared size (`size`), as 7-Zip and libzip read it, and running out of input is not an error
    here: the size and CRC checks in _inflate decide."""
    left = size
    for chunk in chunks:
        data = chunk
        while not decompressor.eof and left != 0:
            out = decompressor.decompress(data, _OUT_CHUNK if left is None else min(_OUT_CHUNK, left))
            data = b""
            if out:
                if left is not None:
                    left -= len(out)
                yield out
            if decompressor.needs_input:
                break
        if decompressor.eof or left == 0:
            return


def _deflate64(chunks: Iterator[bytes], entry: _Entry) -> Iterator[bytes]:
    """Deflate64 (what Windows Explorer writes for large folders), fed in small pieces."""
    decompressor = Deflate64()
    for chunk in chunks:
        for i in range(0, len(chunk), _DEFLATE64_CHUNK):
            out = decompressor.decompress(chunk[i:i + _DEFLATE64_CHUNK])
            if out:
                yield out
            if decompressor.eof:  # it must not be fed after the end: it repeats its output
                return
    raise _Fatal([_corrupt(entry.path)])


def _zip_lzma(chunks: Iterator[bytes], entry: _Entry) -> Iterator[bytes]:
    """LZMA as zip stores it: a 4-byte version and size header, the properties, then raw LZMA1."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 4 and len(head) >= 4 + struct.unpack_from("<H", head, 2)[0]:
            break
    if len(head) < 4:
        raise _Fatal([_corrupt(entry.path)])
    props_len = struct.unpack_from("<H", head, 2)[0]
    props = head[4:4 + props_len]
    # as zipfile itself does; a private helper typeshed leaves out
    filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)]  # type: ignore[attr-defined]
    rest = head[4 + props_len:]
    yield from _bounded_stream(lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters),
                               _prepend(rest, chunks), entry.info.file_size)


def _prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`first`, then the rest of `chunks`."""
    if first:
        yield first
    yield from chunks


def _take_entry(fp: BinaryIO, entry: _Entry, zip_path: Path, state: _State) -> ExtractedFile:
    """Inflate one entry once: hash it, write it under dest (when extracting) and inspect it."""
    rel = entry.path
    size = entry.info.file_size  # _inflate stops at it and checks it was reached
    digest = hashlib.sha256()
    note = None
    if size <= INSPECT_IN_MEMORY_BYTES:
        data = b"".join(_inflate(fp, entry))
        digest.update(data)
        if state.dest is not None:
            target = _new_file_path(state, rel)
            with _create(target) as out:
                out.write(data)
            _set_mtime(target, entry.info)
        else:
            _make_dirs(state, rel.split("/")[:-1])
        if state.inspect is not None:
            note = state.inspect(rel, io.BytesIO(data), size)
    else:
        if state.dest is not None:
            target = _new_file_path(state, rel)
            out = _create(target)
        else:
            _make_dirs(state, rel.split("/")[:-1])
            target, out = None, tempfile.TemporaryFile(dir=state.scratch)
        with out:
            for piece in _inflate(fp, entry):
                out.write(piece)
                digest.update(piece)
            if state.inspect is not None:
                out.flush()
                note = state.inspect(rel, out, size)
        if target is not None:
            _set_mtime(target, entry.info)
    origin = None if state.dest is not None else _Origin(zip_path, entry, state.scratch)
    return ExtractedFile(rel, size, digest.hexdigest(), note, origin)


def _create(target: Path) -> BinaryIO:
    """A new file opened for writing and reading, never replacing or following anything."""
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    os.fchmod(fd, 0o644)  # whatever the umask
    return os.fdopen(fd, "w+b")


def _copy_entry(fp: BinaryIO, entry: _Entry, target: Path) -> None:
    """Stream one entry into a new file (an inner zip, read from there afterwards)."""
    with _create(target) as out:
        for piece in _inflate(fp, entry):
            out.write(piece)


def _extract_nested(fp: BinaryIO, entry: _Entry, zip_path: Path, depth: int, state: _State) -> None:
    """An inner `X.zip`: expand it into `X/` (counted in the same totals), or keep it if not a zip."""
    temp = _temp_path(state)
    keep_temp = counted = False
    try:
        _copy_entry(fp, entry, temp)
        other = _other_format(temp)
        if other is not None:
            state.findings.append(not_zip_finding(other, entry.path))
            temp.unlink()
            state.files.append(_take_entry(fp, entry, zip_path, state))  # rare: read it again as a file
            counted = True  # it stays, as a file of the submission
            return
        if depth + 1 > state.limits.max_nesting:
            raise _Fatal([finding(
                "archive.bomb",
                f"The zip holds zips inside zips more than {wording.count(state.limits.max_nesting, 'level')} deep "
                f"('{entry.raw_name}'), as zip bombs do. Put each element folder in the main zip, "
                "zipped at most once, and send it again.", entry.path)])
        folder = entry.path[:-4]
        _make_dirs(state, folder.split("/"))
        _extract_archive(temp, folder + "/", depth + 1, state)
        keep_temp = state.dest is None  # its files are read from it again
    finally:
        if not keep_temp and temp.exists():  # expanded (or failed): the inner zip itself is not kept
            temp.unlink()
        if not counted:  # its files are counted instead (a copy kept to read them from is scratch)
            state.bytes -= entry.info.file_size


def _temp_path(state: _State) -> Path:
    """A fresh hidden name in scratch for an inner zip while it is read, clashing with no planned file."""
    while True:
        handle, name = tempfile.mkstemp(prefix=".nested-", suffix=".zip", dir=state.scratch)
        os.close(handle)
        temp = Path(name)
        temp.unlink()  # _copy_entry creates it again with O_EXCL
        if temp.name.casefold() not in state.file_keys:
            return temp


def _new_file_path(state: _State, rel: str) -> Path:
    """A path for a new file at `rel`, its folders made, checked to stay inside dest.

    The name is a single component (no "/"); when it is an ordinary one, nothing exists there yet
    and its folder's real path is its own inside dest (checked once per folder), the file's real
    path is that folder plus the name: the full check below is only needed otherwise."""
    assert state.dest is not None, "only called when files are written"
    parts = rel.split("/")
    parent = _make_dirs(state, parts[:-1])
    name = parts[-1]
    target = parent / name
    if name in ("", ".", "..") or os.path.lexists(target) or not _safe_parent(state, parent):
        resolved = target.resolve()
        if not resolved.is_relative_to(state.dest) or resolved.parent != parent:
            raise _Fatal([finding("archive.unsafe_path", f"The zip holds a name we cannot safely unpack: "
                                  f"'{rel}'. {_RESEND}", rel)])
    return target


def _safe_parent(state: _State, parent: Path) -> bool:
    """Whether the folder's real path is itself, inside dest (remembered once true)."""
    if parent in state.safe_parents:
        return True
    assert state.dest is not None, "only called when files are written"
    resolved = parent.resolve()
    if resolved == parent and resolved.is_relative_to(state.dest):
        state.safe_parents.add(parent)
        return True
    return False


def _make_dirs(state: _State, parts: list[str]) -> Path:
    """Make the folders `parts` under dest (0o755), refusing anything that is not a real folder.
    When nothing is written, only remember them (the path returned is then never used)."""
    known = state.made_dirs.get(tuple(parts))
    if known is not None:
        return known
    current = state.dest or state.scratch
    for i, part in enumerate(parts):
        current = current / part
        key = tuple(parts[:i + 1])
        if key in state.made_dirs or state.dest is None:  # made or checked by this extraction; only it writes in dest
            state.made_dirs[key] = current
            continue
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            shown = "/".join(parts[:i + 1])
            raise _Fatal([finding("archive.unsafe_path", "The zip uses the same name for a file and a "
                                  f"folder: '{shown}'. {_RESEND}", shown)])
        if not current.exists():
            current.mkdir(mode=0o755)
            os.chmod(current, 0o755)
        state.made_dirs[key] = current
    return current


def _set_mtime(path: Path, info: zipfile.ZipInfo) -> None:
    """Keep the entry's modification time when it is a real date."""
    try:
        stamp = time.mktime(info.date_time + (0, 0, -1))
        os.utime(path, (stamp, stamp))
    except (OverflowError, ValueError, OSError):
        pass


def _empty_folder(folder: Path) -> None:
    """Remove everything inside `folder`, keeping the folder."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# ---------------------------------------------------------------------------------------------
# Findings


def _cap(findings: list[Finding]) -> list[Finding]:
    """At most _MAX_FINDINGS_PER_CODE findings per code, then one that counts the rest."""
    kept: list[Finding] = []
    seen: Counter[str] = Counter()
    for item in findings:
        seen[item.code] += 1
        if seen[item.code] <= _MAX_FINDINGS_PER_CODE:
            kept.append(item)
    for code, count in seen.items():
        if count > _MAX_FINDINGS_PER_CODE:
            kept.append(finding(code, f"{count - _MAX_FINDINGS_PER_CODE} more entries in the zip have "
                                "the same problem as those above."))
    return kept


def not_zip_finding(what: str, path: str | None) -> Finding:
    """archive.not_zip, saying what the file really is."""
    label = f"'{path}' is" if path else "The file you sent is"
    kind = "not a zip file" if what == "not a zip file" else f"{what}, not a zip file"
    return finding(
        "archive.not_zip",
        f"{label} {kind}. We accept only zip files: on Windows, right-click your folder and choose "
        "'Send to > Compressed (zipped) folder', then send that zip again.", path)


def _corrupt(path: str | None) -> Finding:
    """archive.corrupt for a zip or entry that cannot be read whole."""
    where = f"The file '{path}' in your zip" if path else "The zip file"
    return finding("archive.corrupt", f"{where} is damaged or incomplete and cannot be read (it may "
                   f"not have finished saving or downloading). {_RESEND}", path)


def _too_many_entries(limits: ArchiveLimits) -> Finding:
    """archive.too_large for the file count."""
    return finding(
        "archive.too_large",
        f"The submission holds more than {limits.max_entries:,} files and folders, over the limit. "
        "Send only the documents asked for: one or two samples a month, not every record.")


def _duplicate(entry: _Entry) -> Finding:
    """archive.unsafe_path for two names that would be the same file on Windows or macOS."""
    return finding(
        "archive.unsafe_path",
        f"The zip holds two files or folders with the same name '{entry.raw_name}' (names that differ "
        "only by capital letters count as the same). Rename one of them and send the zip again.",
        entry.path)


def _mb(size: int) -> str:
    """A size in plain words."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.0f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} bytes"
