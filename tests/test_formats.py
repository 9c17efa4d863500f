"""File types judged by content: real magic bytes written to real files, names chosen to mislead."""

from __future__ import annotations

import io
import random
import struct
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import magic
import pytest

from intake.samples import minimal_docx, minimal_pdf, minimal_xlsx
from tests.zipfactory import normal_zip
from triage import formats
from triage.formats import FAMILIES, FileType, extension_mismatch, sniff, sniff_file

ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
MSI_CLSID = bytes.fromhex("84100c0000000000c000000000000046")


def minimal_ole(entries: list[tuple[str, int]], root_clsid: bytes = b"\x00" * 16, payload: bytes = b"") -> bytes:
    """A valid OLE compound file (v3, 512-byte sectors) whose directory lists `entries`.

    entries: (name, type) with type 1 = storage, 2 = stream; all hang off the root entry as one
    right-sibling chain and hold no data. `payload` is appended as extra sectors (free in the FAT),
    standing in for stream content a crude text scan would see.
    """
    all_entries = [("Root Entry", 5), *entries]
    n_dir = -(-len(all_entries) // 4)
    fat = [FATSECT] + [i + 2 if i + 1 < n_dir else ENDOFCHAIN for i in range(n_dir)]
    fat += [FREESECT] * (128 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", FREESECT) * 108
    directory = b""
    for i, (name, kind) in enumerate(all_entries):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        child = 1 if i == 0 and len(all_entries) > 1 else NOSTREAM
        right = i + 1 if 0 < i < len(all_entries) - 1 else NOSTREAM
        clsid = root_clsid if i == 0 else b"\x00" * 16
        directory += raw.ljust(64, b"\x00") + struct.pack("<HBBIII", len(raw), kind, 1, NOSTREAM, right, child)
        directory += clsid + b"\x00" * 20 + struct.pack("<IQ", ENDOFCHAIN, 0)
    data = payload.ljust(-(-len(payload) // 512) * 512, b"\x00")
    return header + struct.pack("<128I", *fat) + directory.ljust(n_dir * 512, b"\x00") + data


def pe_exe() -> bytes:
    """The start of a Windows PE executable: MZ header pointing at a PE header."""
    mz = bytearray(b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44)
    mz += struct.pack("<I", 0x40)
    pe = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    return bytes(mz) + pe + b"\x00" * 400


def multipage_tiff() -> bytes:
    """A little-endian TIFF with two image file directories (a two-page fax)."""
    def ifd(next_offset: int) -> bytes:
        entries = [(256, 3, 1, 8), (257, 3, 1, 8), (259, 3, 1, 4), (262, 3, 1, 0)]
        body = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
        return body + struct.pack("<I", next_offset)
    first = ifd(8 + 54)
    return b"II*\x00" + struct.pack("<I", 8) + first + ifd(0) + b"\x00" * 64


def bmp() -> bytes:
    pixels = b"\x00" * 16
    info = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 54) + info + pixels


def pcx() -> bytes:
    header = struct.pack("<BBBBHHHHHH", 0x0A, 5, 1, 8, 0, 0, 31, 31, 72, 72) + b"\x00" * 48
    header += struct.pack("<BBHH", 0, 1, 32, 1) + b"\x00" * 58
    return header + b"\xc1\x00" * 32


def tar_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


PPTX_CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                      b'<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-'
                      b'officedocument.presentationml.presentation.main+xml"/></Types>')
DOCX_WITH_VBA_PART = normal_zip({
    "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                           b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                           b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    "word/document.xml": b"<w:document/>",
    "word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
})

# name -> (content, expected family). Names lie where they can: content decides.
CASES: dict[str, tuple[bytes, str]] = {
    "report.pdf": (pe_exe(), "unsafe"),
    "Hazard Assessment.pdf": (minimal_pdf(["Hazard assessment"]), "pdf"),
    "scan.pdf": (multipage_tiff(), "paper_era"),
    "policy.docx": (minimal_docx(["Policy"]), "word"),
    "macro.docx": (DOCX_WITH_VBA_PART, "unsafe"),
    "tool.docx": (minimal_docx(["x"], macros=True), "unsafe"),
    "records.xlsx": (minimal_xlsx([["a", "1"]]), "spreadsheet"),
    "deck.pptx": (normal_zip({"[Content_Types].xml": PPTX_CONTENT_TYPES, "ppt/presentation.xml": b"<p/>"}), "presentation"),
    "notes.odt": (normal_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}), "word"),
    "notes-macro.odt": (normal_zip({"mimetype": b"application/vnd.oasis.opendocument.text",
                                "Basic/Standard/Module1.xml": b"<x/>"}), "unsafe"),
    "legacy.doc": (minimal_ole([("WordDocument", 2), ("1Table", 2)]), "word"),
    "legacy-macro.doc": (minimal_ole([("WordDocument", 2), ("Macros", 1), ("VBA", 1)]), "unsafe"),
    "budget.xls": (minimal_ole([("Workbook", 2)]), "spreadsheet"),
    "budget-macro.xls": (minimal_ole([("Workbook", 2), ("_VBA_PROJECT_CUR", 1), ("VBA", 1)]), "unsafe"),
    "slides.ppt": (minimal_ole([("PowerPoint Document", 2)]), "presentation"),
    "setup.pdf": (minimal_ole([("SummaryInformation", 2)], root_clsid=MSI_CLSID), "unsafe"),
    "letter.wps": (minimal_ole([("MN0", 2)]), "paper_era"),
    "letter2000.wps": (minimal_ole([("CONTENTS", 2)], payload=b"CHNKWKS\x00"), "paper_era"),
    "unconfirmed.wps": (minimal_ole([("Something", 2)]), "paper_era"),
    "works-dos.pdf": (b"\x01\xfe\x32\x00\x00\x00" + b"\x00" * 200, "paper_era"),
    "works-db.wdb": (b"\x20\x54\x02\x00\x00\x00\x05\x54\x02\x00" + b"\x00" * 200, "paper_era"),
    "works-sheet.wks": (b"\xff\x00\x02\x00\x04\x04\x05\x54\x02\x00" + b"\x00" * 200, "paper_era"),
    "letter.wpd": (b"\xffWPC\x10\x00\x00\x00\x01\x0a\x02\x01\x00\x00\x00\x00" + b"\x00" * 200, "paper_era"),
    "budget.wk1": (b"\x00\x00\x02\x00\x06\x04\x06\x00\x08\x00" + b"\x00" * 200, "paper_era"),
    "budget.wk3": (b"\x00\x00\x1a\x00\x00\x10\x04\x00" + b"\x00" * 200, "paper_era"),
    "budget.wk4": (b"\x00\x00\x1a\x00\x02\x10\x04\x00" + b"\x00" * 200, "paper_era"),
    "budget.123": (b"\x00\x00\x1a\x00\x05\x10\x04\x00" + b"\x00" * 200, "paper_era"),
    "usb.iso": (b"\x00" * 0x8001 + b"CD001\x01\x00" + b"\x00" * 2000, "paper_era"),
    "disk.vhd": (b"conectix\x00\x00\x00\x02\x00\x01\x00\x00" + b"\x00" * 1000, "paper_era"),
    "fixed-disk.pdf": (b"\x00" * 4096 + (b"conectix" + b"\x00" * 504), "paper_era"),
    "disk.vhdx": (b"vhdxfile" + b"\x00" * 1000, "paper_era"),
    "mac.dmg": (b"\x78\x01" + b"\x00" * 4000 + b"koly" + b"\x00" * 508, "paper_era"),
    "usb.img": (bytes(range(256)) * 16, "paper_era"),
    "stick.pdf": (b"\xeb\x3c\x90MSDOS5.0" + b"\x00" * 499 + b"\x55\xaa" + b"\x00" * 1024, "paper_era"),
    "fax.djvu": (b"AT&TFORM\x00\x00\x00\x20DJVMDIRM" + b"\x00" * 100, "paper_era"),
    "page.pcx": (pcx(), "paper_era"),
    "drawing.bmp": (bmp(), "paper_era"),
    "fax.mdi": (b"EP*\x00" + b"\x00" * 200, "paper_era"),
    "tool.elf.pdf": (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200, "unsafe"),
    "macos.docx": (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 200, "unsafe"),
    "notes.txt": (b"#!/bin/sh\nrm -rf ~\n", "unsafe"),
    "python.txt": (b"#!/usr/bin/env python3\nprint('x')\n", "unsafe"),
    "readme.txt": (b"$c = 'abc'\nInvoke-Expression $c\n", "unsafe"),
    "cleanup.ps1": (b"Get-ChildItem . | Remove-Item\n", "unsafe"),
    "run.txt": (b"@echo off\r\ndel /q *.*\r\n", "unsafe"),
    "letter.txt": (b'Set s = CreateObject("WScript.Shell")\r\ns.Run "calc"\r\n', "unsafe"),
    "page.html": (b'<html><head><HTA:APPLICATION ID="app"></head><body>x</body></html>\n', "unsafe"),
    "shortcut.pdf": (b"\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
                     + b"\x00" * 200, "unsafe"),
    "App.class": (b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 100, "unsafe"),
    "tools.zip": (normal_zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "a/B.class": b"\xca\xfe\xba\xbe"}),
                  "unsafe"),
    "Element 3.zip": (normal_zip({"Element 3/policy.pdf": minimal_pdf(["x"])}), "archive"),
    "damaged.zip": (b"PK\x03\x04" + b"\x14\x00" + b"\xff" * 300, "archive"),
    "Element 4.rar": (b"Rar!\x1a\x07\x01\x00" + b"\x00" * 40, "archive"),
    "Element 5.7z": (b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40, "archive"),
    "Element 6.tar": (tar_of("a.txt", b"abc"), "archive"),
    "Element 7.gz": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 20, "archive"),
    "photo.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 40, "image"),
    "photo.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00", "image"),
    "photo.gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + b"\x00" * 20, "image"),
    "photo.heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40, "image"),
    "minutes.txt": (b"Health and safety meeting minutes\nAttendees: Pat, Sam\n", "text"),
    "inspections.csv": (b"date,inspector,result\n2026-05-01,Pat,ok\n", "text"),
    "policy.rtf": (b"{\\rtf1\\ansi Health and Safety Policy\\par}\n", "text"),
    "empty.pdf": (b"", "empty"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_is_decided_by_content(tmp_path: Path, name: str) -> None:
    data, family = CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    ftype = sniff(path)
    assert ftype.family == family, ftype
    assert ftype.family in FAMILIES
    assert ftype.label
    if family in ("paper_era", "unsafe"):
        assert ftype.reason, "paper-era and unsafe types say why"
    else:
        assert ftype.reason is None


def sniffed(tmp_path: Path, name: str, data: bytes) -> FileType:
    path = tmp_path / name
    path.write_bytes(data)
    return sniff(path)


def test_labels_name_what_the_file_is(tmp_path: Path) -> None:
    assert sniffed(tmp_path, "report.pdf", pe_exe()).label == "Windows executable"
    assert sniffed(tmp_path, "a.docx", minimal_docx(["x"], macros=True)).label == "Word document with macros"
    assert sniffed(tmp_path, "scan.pdf", multipage_tiff()).label == "TIFF scan image"
    assert sniffed(tmp_path, "a.wpd", CASES["letter.wpd"][0]).label == "WordPerfect document"
    assert sniffed(tmp_path, "a.pdf", minimal_pdf(["x"])).mime == "application/pdf"
    assert "macros" in sniffed(tmp_path, "b.xls", CASES["budget-macro.xls"][0]).reason


def test_exe_named_pdf_is_unsafe_and_a_mismatch(tmp_path: Path) -> None:
    ftype = sniffed(tmp_path, "report.pdf", pe_exe())
    assert ftype.family == "unsafe"
    assert extension_mismatch("Element 1/report.pdf", ftype) == "is named .pdf but is a Windows executable"


def test_real_pdf_named_doc_is_a_mismatch(tmp_path: Path) -> None:
    ftype = sniffed(tmp_path, "policy.doc", minimal_pdf(["Policy"]))
    assert ftype.family == "pdf"
    assert extension_mismatch("policy.doc", ftype) == "is named .doc but is a PDF document"


def test_matching_extensions_are_not_mismatches(tmp_path: Path) -> None:
    pairs = [("a.pdf", minimal_pdf(["x"])), ("a.PDF", minimal_pdf(["x"])), ("b.docx", minimal_docx(["x"])),
             ("c.xlsx", minimal_xlsx([["x"]])), ("d.doc", CASES["legacy.doc"][0]),
             ("e.jpeg", CASES["photo.jpg"][0]), ("f.txt", CASES["minutes.txt"][0]),
             ("g.csv", CASES["inspections.csv"][0]), ("h.zip", CASES["Element 3.zip"][0]),
             ("i.tif", multipage_tiff())]
    for name, data in pairs:
        assert extension_mismatch(name, sniffed(tmp_path, name, data)) is None, name


def test_rtf_saved_as_doc_is_accepted(tmp_path: Path) -> None:
    ftype = sniffed(tmp_path, "policy.doc", CASES["policy.rtf"][0])
    assert ftype.family == "text" and ftype.label == "RTF document"
    assert extension_mismatch("policy.doc", ftype) is None


def test_missing_extension_on_a_document_is_a_mismatch(tmp_path: Path) -> None:
    ftype = sniffed(tmp_path, "Health and Safety Policy", minimal_pdf(["x"]))
    assert extension_mismatch("Health and Safety Policy", ftype) == "has no extension but is a PDF document"


def test_unknown_content_is_judged_against_its_claimed_extension(tmp_path: Path) -> None:
    garbage = bytes(range(7, 250)) * 4
    assert extension_mismatch("policy.pdf", sniffed(tmp_path, "x.pdf", garbage)) == (
        "is named .pdf but its content is not a readable PDF file")
    assert extension_mismatch("thing.foo", sniffed(tmp_path, "x.foo", garbage)) is None
    assert extension_mismatch("thing", sniffed(tmp_path, "x", garbage)) is None


def test_rar_named_zip_is_a_mismatch_and_empty_files_are_not(tmp_path: Path) -> None:
    assert extension_mismatch("Element 4.zip", sniffed(tmp_path, "e4.zip", CASES["Element 4.rar"][0])) == (
        "is named .zip but is a RAR archive")
    assert extension_mismatch("empty.pdf", sniffed(tmp_path, "empty.pdf", b"")) is None


def test_zero_bytes_are_empty(tmp_path: Path) -> None:
    assert sniffed(tmp_path, "policy.docx", b"") == FileType("inode/x-empty", "empty", "empty file (zero bytes)")


def test_a_plain_powershell_word_in_a_document_is_not_a_script(tmp_path: Path) -> None:
    text = b"We reviewed the PowerShell course and the batch of new ladders.\n"
    assert sniffed(tmp_path, "training.txt", text).family == "text"


def test_ole_macro_storage_found_beyond_the_first_directory_sector(tmp_path: Path) -> None:
    entries = [("WordDocument", 2), ("1Table", 2), ("Data", 2), ("CompObj", 2), ("ObjectPool", 1),
               ("SummaryInformation", 2), ("Macros", 1), ("VBA", 1)]
    ftype = sniffed(tmp_path, "big.doc", minimal_ole(entries))
    assert ftype.family == "unsafe" and ftype.label == "Word document with macros"


def test_zip_with_too_many_entries_is_not_opened_as_a_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.docx"
    path.write_bytes(normal_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>",
                             **{f"word/media/image{i}.png": b"" for i in range(30)}}))
    assert sniff(path).family == "word"
    monkeypatch.setattr(formats, "MAX_DOCUMENT_PARTS", 30)  # the real limit, 20,000, on a small file
    assert sniff(path) == FileType("application/zip", "archive", "zip archive")


# --- open file objects -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_sniff_file_on_memory_and_temp_files_agrees_with_sniff(tmp_path: Path, name: str) -> None:
    """Documents read from a zip come as BytesIO or anonymous temp files, left at any position."""
    data = CASES[name][0]
    expected = sniffed(tmp_path, name, data)
    memory = io.BytesIO(data)
    memory.seek(0, io.SEEK_END)
    assert sniff_file(memory, name, len(data)) == expected
    with tempfile.TemporaryFile() as anonymous:
        anonymous.write(data)  # left at the end, as a writer leaves it
        assert sniff_file(anonymous, name, len(data)) == expected


def test_the_name_given_decides_what_content_cannot() -> None:
    script = b"Get-ChildItem . | Remove-Item\n"
    assert sniff_file(io.BytesIO(script), "Element 1\\cleanup.ps1", len(script)).family == "unsafe"
    assert sniff_file(io.BytesIO(script), "cleanup.txt", len(script)).family == "text"
    raw = CASES["usb.img"][0]
    assert sniff_file(io.BytesIO(raw), "USB.IMG", len(raw)).family == "paper_era"


def test_ole_directory_reads_an_open_file_from_its_start() -> None:
    data = minimal_ole([("WordDocument", 2), ("Macros", 1)], root_clsid=MSI_CLSID)
    fh = io.BytesIO(data)
    fh.seek(700)
    names, root_clsid = formats.ole_directory(fh)
    assert {"Root Entry", "WordDocument", "Macros"} <= names and root_clsid == MSI_CLSID


def docx_with_comment(comment: bytes, extra_parts: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("word/document.xml", b"<w:document/>")
        for i in range(extra_parts):
            zf.writestr(f"word/media/image{i}.png", b"")
        zf.comment = comment
    return out.getvalue()


def test_zip_comment_does_not_hide_the_entry_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The end record is the last 22 bytes only without a comment; with one it is searched for."""
    data = docx_with_comment(b"made by a scanner " * 20, extra_parts=30)
    assert sniff_file(io.BytesIO(data), "a.docx", len(data)).family == "word"
    monkeypatch.setattr(formats, "MAX_DOCUMENT_PARTS", 30)
    assert sniff_file(io.BytesIO(data), "a.docx", len(data)) == FileType("application/zip", "archive", "zip archive")


def test_zips_are_judged_without_libmagic(monkeypatch: pytest.MonkeyPatch) -> None:
    """libmagic's answer for a zip was never used: the zip sniffer does not pay for it."""
    def no_libmagic(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("libmagic called for a zip")

    monkeypatch.setattr(magic, "from_buffer", no_libmagic)
    for name, (data, family) in CASES.items():
        if data.startswith(b"PK"):
            assert sniff_file(io.BytesIO(data), name, len(data)).family == family, name


# --- the fast path must say exactly what libmagic says ------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


PNG_IHDR = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 640, 480, 8, 6, 0, 0, 0))
EXIF = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x0f\x01\x02\x00\x06\x00\x00\x00\x1a\x00\x00\x00\x00\x00\x00\x00Canon\x00"

FAST_PATH_SAMPLES: dict[str, bytes] = {
    "jfif.jpg": CASES["photo.jpg"][0],
    "exif.jpg": b"\xff\xd8\xff\xe1" + struct.pack(">H", len(EXIF) + 2) + EXIF + b"\xff\xdb\x00\x43\x00" + bytes(64),
    "raw-dqt.jpg": b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xd9",
    "adobe.jpg": b"\xff\xd8\xff\xee\x00\x0eAdobe\x00d\x00\x00\x00\x00\x01" + bytes(100),
    "jpeg-ls.jpg": b"\xff\xd8\xff\xf7\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00" + bytes(40),
    "four-bytes.jpg": b"\xff\xd8\xff\xd9",
    "minimal.pdf": minimal_pdf(["Hazard assessment"]),
    "binary-comment.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)),
    "pdf-2.pdf": b"%PDF-2.0\r\n%\xb5\xb5\xb5\xb5\r\n",
    "header-only.pdf": b"%PDF-",
    "utf8-bom-after.pdf": b"%PDF-1.4\n\xef\xbb\xbfTitle: caf\xc3\xa9\n" * 30,
    "photo.png": CASES["photo.png"][0],
    "animated.png": b"\x89PNG\r\n\x1a\n" + PNG_IHDR + png_chunk(b"acTL", struct.pack(">II", 2, 0))
                    + png_chunk(b"IDAT", zlib.compress(bytes(100))) + png_chunk(b"IEND", b""),
    "interlaced.png": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 16, 0, 0, 0, 1)),
    "old.gif": b"GIF87a\x10\x00\x10\x00\x80\x00\x00" + bytes(30),
    "animated.gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
                    b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" + bytes(20),
    "header-only.gif": b"GIF89a",
}


def random_followers() -> dict[str, bytes]:
    """Each fast-path signature followed by random bytes: libmagic must still say the same."""
    rng = random.Random(20260731)
    return {f"random-{prefix[:6].hex()}-{i}": prefix + rng.randbytes(rng.choice((1, 7, 100, 3000)))
            for prefix, _shortest, _mime in formats._FAST_SIGNATURES for i in range(40)}


FAST_PATH_SAMPLES.update(random_followers())


def libmagic_type(data: bytes) -> FileType:
    """What the libmagic path makes of the head: its MIME type through _BY_MIME."""
    mime = magic.from_buffer(data[:formats.HEAD_BYTES], mime=True)
    assert mime in formats._BY_MIME, f"libmagic says {mime}"
    family, label, reason = formats._BY_MIME[mime]
    return FileType(mime, family, label, reason)


@pytest.mark.parametrize("name", sorted(FAST_PATH_SAMPLES))
def test_fast_path_agrees_with_libmagic(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = FAST_PATH_SAMPLES[name]
    expected = libmagic_type(data)

    def no_libmagic(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("the fast path was not taken")

    monkeypatch.setattr(magic, "from_buffer", no_libmagic)
    assert sniff_file(io.BytesIO(data), name, len(data)) == expected


def test_fast_path_leaves_near_misses_to_libmagic() -> None:
    """libmagic wants more than the bare signature here (PNG: an IHDR chunk first; JPEG: a 4th byte)."""
    for head in (b"\x89PNG\r\n\x1a\n" + png_chunk(b"CgBI", bytes(4)) + PNG_IHDR,  # Apple's CgBI PNG
                 b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0eIHDR" + bytes(20),
                 b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"%PDF", b"GIF88a" + bytes(20), b" %PDF-1.4\n"):
        assert formats._fast_signature(head) is None, head
        assert sniff_file(io.BytesIO(head), "x", len(head)).mime == magic.from_buffer(head, mime=True), head


def test_own_signatures_still_come_before_the_fast_path() -> None:
    """A fixed VHD's footer or an ISO descriptor wins over a PDF-looking start."""
    vhd = b"%PDF-1.4\n" + bytes(4096) + b"conectix" + bytes(504)
    assert sniff_file(io.BytesIO(vhd), "disk.pdf", len(vhd)).family == "paper_era"
    iso = b"%PDF-1.4\n" + bytes(0x8001 - 9) + b"CD001\x01" + bytes(2000)
    assert sniff_file(io.BytesIO(iso), "usb.pdf", len(iso)).label == "CD/DVD disk image (ISO)"
