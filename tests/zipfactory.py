"""Builders of normal and hostile zip files for the archive tests.

Normal zips come from the standard library's zipfile, as real tools make them. Hostile ones
(lying sizes, overlapping entries, encryption, legacy name encodings, Deflate64, links) are
written byte by byte with `RawEntry` and `build_zip`, since no honest tool makes them.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

MB = 1_000_000
FLAG_ENCRYPTED = 0x0001
FLAG_UTF8 = 0x0800
UNIX = 3


@dataclass(frozen=True)
class RawEntry:
    """One entry exactly as it goes on disk: `data` is the stored (compressed) payload."""

    name: bytes
    data: bytes
    crc: int
    file_size: int
    method: int = 8
    flags: int = 0
    extra: bytes = b""
    external_attr: int = 0
    create_system: int = 0

    @property
    def compress_size(self) -> int:
        """Bytes stored on disk for this entry."""
        return len(self.data)


def local_header(entry: RawEntry, compress_size: int | None = None) -> bytes:
    """A local file header (signature PK\\x03\\x04) for `entry`."""
    size = entry.compress_size if compress_size is None else compress_size
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, entry.flags, entry.method, 0, 0x5A21,
                       entry.crc, size, entry.file_size, len(entry.name),
                       len(entry.extra)) + entry.name + entry.extra


def central_header(entry: RawEntry, offset: int, compress_size: int | None = None) -> bytes:
    """A central directory header pointing at a local header at `offset`."""
    size = entry.compress_size if compress_size is None else compress_size
    return struct.pack("<4sBBHHHHHIIIHHHHHII", b"PK\x01\x02", 20, entry.create_system, 20, entry.flags,
                       entry.method, 0, 0x5A21, entry.crc, size, entry.file_size,
                       len(entry.name), len(entry.extra), 0, 0, 0, entry.external_attr,
                       offset) + entry.name + entry.extra


def end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    """The end of central directory record."""
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, 0)


def build_zip(entries: list[RawEntry]) -> bytes:
    """A zip with each entry's local header and data in order, then the central directory."""
    body = bytearray()
    directory = bytearray()
    for entry in entries:
        directory += central_header(entry, len(body))
        body += local_header(entry) + entry.data
    return bytes(body + directory + end_record(len(entries), len(directory), len(body)))


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header), as zip stores it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def stored(name: str, content: bytes, **fields) -> RawEntry:
    """An uncompressed entry; a non-ASCII name is written as UTF-8 with the UTF-8 flag."""
    raw, flags = _name_bytes(name)
    return RawEntry(name=raw, data=content, crc=zlib.crc32(content), file_size=len(content),
                    method=0, flags=flags | fields.pop("flags", 0), **fields)


def deflated(name: str | bytes, content: bytes, **fields) -> RawEntry:
    """A deflated entry; a str name is written as UTF-8 (flagged) when not ASCII, bytes as given."""
    raw, flags = _name_bytes(name) if isinstance(name, str) else (name, 0)
    return RawEntry(name=raw, data=deflate(content), crc=zlib.crc32(content), file_size=len(content),
                    flags=flags | fields.pop("flags", 0), **fields)


def _name_bytes(name: str) -> tuple[bytes, int]:
    """The name as a modern tool stores it: ASCII as is, anything else UTF-8 with the flag."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), FLAG_UTF8


def zeros_deflated(size: int) -> tuple[bytes, int]:
    """(raw deflate of `size` zero bytes, their CRC), made a megabyte at a time to stay small in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MB)
    out = bytearray()
    crc = 0
    left = size
    while left:
        piece = chunk[:min(left, MB)]
        out += packer.compress(piece)
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    return bytes(out + packer.flush()), crc


# ---------------------------------------------------------------------------------------------
# Normal zips


def normal_zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip as the standard library writes it (folder entries for names ending in '/')."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def sample_submission() -> dict[str, bytes]:
    """A small well-organized submission."""
    return {
        "SECOR Evaluation 2026.pdf": b"%PDF-1.4 evaluation tool\n" * 20,
        "Element 1 - Leadership/": b"",
        "Element 1 - Leadership/Health and Safety Policy.pdf": b"%PDF-1.4 policy\n" * 50,
        "Element 2 - Hazard Assessment/Hazard Assessment 2026.docx": b"PK fake docx " * 30,
    }


# ---------------------------------------------------------------------------------------------
# Other formats named .zip


def rar_bytes() -> bytes:
    """The start of a RAR 5 archive."""
    return b"Rar!\x1a\x07\x01\x00" + os.urandom(64)


def seven_zip_bytes() -> bytes:
    """The start of a 7-Zip archive."""
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + os.urandom(64)


def tar_bytes() -> bytes:
    """A real tar archive with one file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        content = b"%PDF-1.4 policy\n"
        info = tarfile.TarInfo("Element 1/policy.pdf")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def gzip_bytes() -> bytes:
    """A real gzip file."""
    return gzip.compress(b"%PDF-1.4 policy\n" * 10)


def bzip2_bytes() -> bytes:
    """A real bzip2 file."""
    return bz2.compress(b"%PDF-1.4 policy\n" * 10)


def xz_bytes() -> bytes:
    """A real xz file."""
    return lzma.compress(b"%PDF-1.4 policy\n" * 10)


# ---------------------------------------------------------------------------------------------
# Encryption


def zipcrypto(name: str, content: bytes, password: bytes) -> RawEntry:
    """A stored entry encrypted with the traditional PKWARE (ZipCrypto) cipher."""
    crc = zlib.crc32(content)
    keys = [0x12345678, 0x23456789, 0x34567890]
    for byte in password:
        _update_keys(keys, byte)
    header = os.urandom(11) + bytes([crc >> 24])  # the last byte lets readers check the password
    out = bytearray()
    for byte in header + content:
        temp = (keys[2] | 2) & 0xFFFF
        out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        _update_keys(keys, byte)
    return RawEntry(name=name.encode("ascii"), data=bytes(out), crc=crc, file_size=len(content),
                    method=0, flags=FLAG_ENCRYPTED)


def _crc_byte(register: int, byte: int) -> int:
    """One step of the raw CRC-32 register (zlib.crc32 inverts before and after)."""
    return zlib.crc32(bytes([byte]), register ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def _update_keys(keys: list[int], byte: int) -> None:
    """The ZipCrypto key schedule, one plaintext byte."""
    keys[0] = _crc_byte(keys[0], byte)
    keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
    keys[2] = _crc_byte(keys[2], keys[1] >> 24)


def winzip_aes(name: str, size: int = 2000, flags: int = FLAG_ENCRYPTED) -> RawEntry:
    """A WinZip AES-256 entry: method 99, extra 0x9901 (AE-2, strength 3, deflate inside).

    The payload (salt, password check, ciphertext, authentication code) is random bytes of the
    right shape: no reader can tell it from real AES output without the password."""
    extra = struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, 8)
    data = os.urandom(16 + 2 + size + 10)
    return RawEntry(name=name.encode("ascii"), data=data, crc=0, file_size=size, method=99,
                    flags=flags, extra=extra)


# ---------------------------------------------------------------------------------------------
# Bombs


def overlap_bomb(files: int = 100, kernel_size: int = 4 * MB) -> bytes:
    """David Fifield's non-recursive zip bomb, quoted-overlap form.

    Every file's deflate stream is a stored block that quotes the next file's local header, then
    the next file's data, down to one shared kernel (`kernel_size` zeros deflated). Each entry is
    a valid file, so a naive extractor writes about files * kernel_size bytes."""
    kernel, kernel_crc = zeros_deflated(kernel_size)
    names = [f"{i:02x}".encode() for i in range(files)]
    headers: list[bytes] = [b""] * files
    suffix = b""  # the local headers after file i, which file i's stream quotes before the kernel
    compressed = len(kernel)
    plain = kernel_size
    for i in reversed(range(files)):
        crc = _crc_of_zeros_after(zlib.crc32(suffix), kernel_size)
        entry = RawEntry(name=names[i], data=b"", crc=crc, file_size=plain, method=8)
        headers[i] = local_header(entry, compress_size=compressed)
        suffix = headers[i] + suffix
        compressed += 5 + len(headers[i])
        plain += len(headers[i])
    body = bytearray()
    directory = bytearray()
    offsets = []
    for i in range(files):
        offsets.append(len(body))
        body += headers[i]
        if i < files - 1:
            quoted = len(headers[i + 1])
            body += struct.pack("<BHH", 0, quoted, quoted ^ 0xFFFF)  # stored, non-final block
    body += kernel
    for i in range(files):
        crc, csize, usize = struct.unpack_from("<III", headers[i], 14)
        entry = RawEntry(name=names[i], data=b"", crc=crc, file_size=usize, method=8)
        directory += central_header(entry, offsets[i], compress_size=csize)
    return bytes(body + directory + end_record(files, len(directory), len(body)))


def _crc_of_zeros_after(crc: int, count: int) -> int:
    """CRC-32 continued over `count` zero bytes."""
    chunk = bytes(MB)
    while count:
        step = min(count, MB)
        crc = zlib.crc32(chunk[:step], crc)
        count -= step
    return crc


def nested_bomb(width: int = 8, leaf_size: int = 4 * MB) -> bytes:
    """Zips in zips in zips (the 42.zip idea, small): three levels, `width` copies at each."""
    leaf, leaf_crc = zeros_deflated(leaf_size)
    level3 = build_zip([RawEntry(f"data{i}.pdf".encode(), leaf, leaf_crc, leaf_size) for i in range(2)])
    level2 = build_zip([deflated(f"part{i}.zip", level3) for i in range(width)])
    return build_zip([deflated(f"Element {i}.zip", level2) for i in range(1, width + 1)])


def lying_entry(name: str, real_size: int, claimed_size: int) -> RawEntry:
    """An entry whose headers claim `claimed_size` bytes while its stream inflates to `real_size`."""
    data, crc = zeros_deflated(real_size)
    return RawEntry(name=name.encode(), data=data, crc=crc, file_size=claimed_size)


# ---------------------------------------------------------------------------------------------
# Deflate64


class _BitWriter:
    """Deflate bit order: fields least-significant bit first, Huffman codes most-significant first."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.bits = 0
        self.count = 0

    def field(self, value: int, width: int) -> None:
        """A value of `width` bits, least significant bit first."""
        self.bits |= value << self.count
        self.count += width
        while self.count >= 8:
            self.out.append(self.bits & 0xFF)
            self.bits >>= 8
            self.count -= 8

    def code(self, value: int, width: int) -> None:
        """A Huffman code of `width` bits, most significant bit first."""
        self.field(int(f"{value:0{width}b}"[::-1], 2), width)

    def finish(self) -> bytes:
        """The stream, padded to a whole byte."""
        if self.count:
            self.out.append(self.bits & 0xFF)
        return bytes(self.out)


def deflate64_stream(prefix: bytes, distance: int, length: int) -> tuple[bytes, bytes]:
    """(a hand-made Deflate64 stream, what it inflates to).

    A stored block holds `prefix`; a fixed-Huffman block then copies `length` bytes from
    `distance` back. Lengths over 258 (code 285 with 16 extra bits) and distances over 32 KB
    (codes 30 and 31) exist only in Deflate64, so plain deflate cannot read this stream."""
    assert len(prefix) <= 0xFFFF and 3 <= length <= 65538 and 32769 <= distance <= len(prefix)
    stream = bytearray(struct.pack("<BHH", 0, len(prefix), len(prefix) ^ 0xFFFF)) + prefix
    bits = _BitWriter()
    bits.field(1, 1)  # BFINAL
    bits.field(1, 2)  # BTYPE = fixed Huffman
    bits.code(0b11000000 + (285 - 280), 8)  # length symbol 285
    bits.field(length - 3, 16)
    code, base = (30, 32769) if distance < 49153 else (31, 49153)
    bits.code(code, 5)
    bits.field(distance - base, 14)
    bits.code(0, 7)  # end of block (symbol 256)
    stream += bits.finish()
    plain = bytearray(prefix)
    for _ in range(length):
        plain.append(plain[-distance])
    return bytes(stream), bytes(plain)


def deflate64_entry(name: str) -> tuple[RawEntry, bytes]:
    """(a Deflate64 entry, its content)."""
    prefix = bytes((i * 7 + i // 251) & 0xFF for i in range(40000))
    stream, plain = deflate64_stream(prefix, distance=40000, length=65538)
    return RawEntry(name=name.encode(), data=stream, crc=zlib.crc32(plain), file_size=len(plain),
                    method=9), plain


# ---------------------------------------------------------------------------------------------
# Names and file types


def cp437_entry(name: str, content: bytes) -> RawEntry:
    """A name encoded CP437 without the UTF-8 flag, as legacy DOS/Windows tools write it."""
    return deflated(name.encode("cp437"), content)


def unicode_path_entry(name: str, legacy_name: bytes, content: bytes) -> RawEntry:
    """A legacy-encoded name carrying the real one in the Info-ZIP Unicode Path field (0x7075)."""
    payload = struct.pack("<BI", 1, zlib.crc32(legacy_name)) + name.encode("utf-8")
    extra = struct.pack("<HH", 0x7075, len(payload)) + payload
    return deflated(legacy_name, content, extra=extra)


def unix_entry(name: str, content: bytes, mode: int) -> RawEntry:
    """An entry made on Unix with the given st_mode (type bits included)."""
    return stored(name, content, external_attr=mode << 16, create_system=UNIX)


def symlink_entry(name: str, target: str) -> RawEntry:
    """A symbolic link entry, as Info-ZIP stores it: the target is the content."""
    return unix_entry(name, target.encode(), stat.S_IFLNK | 0o777)


class _Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek, so zipfile writes data descriptors (flag bit 3)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        return len(data)


def streamed_zip(files: dict[str, bytes]) -> bytes:
    """A zip written to a pipe-like stream: sizes and CRC follow each entry's data (bit 3)."""
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            with archive.open(name, "w") as entry:
                entry.write(content)
    return bytes(sink.buffer)


def zip64_zip(files: dict[str, bytes]) -> bytes:
    """A zip whose end records are in Zip64 form (what large archives carry)."""
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP_FILECOUNT_LIMIT = 0  # makes zipfile write the Zip64 end records for any count
    try:
        return normal_zip(files)
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit
