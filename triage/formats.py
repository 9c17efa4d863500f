"""What a file is, judged by its content (magic numbers), never by its name alone.

`sniff_file` reads the head of an open file (and, for a few formats, its tail or a zip/OLE
directory) and sorts it into a family the rules act on: documents QA reads, paper-era formats to
convert, unsafe content to refuse, archives, empty files. `extension_mismatch` says when the name lies.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from triage.paths import name_of, suffix

HEAD_BYTES = 64 * 1024  # enough for ISO 9660's volume descriptor at 0x8001
TAIL_BYTES = 512  # DMG "koly" trailer and fixed-VHD "conectix" footer live in the last 512 bytes
OLE_SCAN_BYTES = 32 * 1024 * 1024  # OLE directory scan stops here; libmagic judges beyond it
OOXML_CONTENT_TYPES_CAP = 1024 * 1024  # [Content_Types].xml is a few KB; never read more
MAX_DOCUMENT_PARTS = 20_000  # a zip with more entries is not opened to look for a document inside

FAMILIES = ("pdf", "word", "spreadsheet", "presentation", "image", "text", "archive", "paper_era",
            "unsafe", "empty", "unknown")

# Reasons, in words fit for a reply to the submitter.
WHY_SCAN = "it is a fax or scanner image format; please save the scan as PDF"
WHY_OLD_DOC = "it is an old office format QA cannot open comfortably; please save it as PDF"
WHY_DISK = "it is a disk image (a copy of a USB stick or CD), not a document; please send the documents themselves"
WHY_PROGRAM = "it is a program, and programs are never accepted"
WHY_SCRIPT = "it is a script that can run commands on a computer"
WHY_MACROS = "it contains macros (programs that run when the file is opened); please save it without macros or as PDF"
WHY_SHORTCUT = "it is a Windows shortcut that can start programs"
WHY_INSTALLER = "it is a software installer"


@dataclass(frozen=True)
class FileType:
    """A file's type as judged from its content."""

    mime: str  # sniffed MIME type, e.g. "application/pdf"
    family: str  # one of FAMILIES
    label: str  # human words for reports and replies: "PDF document", "Windows executable"...
    reason: str | None = None  # for paper_era/unsafe: why, in plain language


MIME_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MIME_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIME_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
MIME_ODT = "application/vnd.oasis.opendocument.text"
MIME_ODS = "application/vnd.oasis.opendocument.spreadsheet"
MIME_ODP = "application/vnd.oasis.opendocument.presentation"
MIME_OLE = "application/x-ole-storage"

# libmagic MIME -> (family, label, reason). Anything not listed here or handled in code is "unknown".
_BY_MIME: dict[str, tuple[str, str, str | None]] = {
    "application/pdf": ("pdf", "PDF document", None),
    "image/jpeg": ("image", "JPEG image", None),
    "image/png": ("image", "PNG image", None),
    "image/gif": ("image", "GIF image", None),
    "image/heic": ("image", "HEIC photo", None),
    "image/heif": ("image", "HEIF photo", None),
    "image/webp": ("image", "WebP image", None),
    "image/tiff": ("paper_era", "TIFF scan image", WHY_SCAN),
    "image/vnd.djvu": ("paper_era", "DjVu scan", WHY_SCAN),
    "image/x-pcx": ("paper_era", "PCX image", WHY_SCAN),
    "image/bmp": ("paper_era", "BMP bitmap image", WHY_SCAN),
    "image/x-ms-bmp": ("paper_era", "BMP bitmap image", WHY_SCAN),
    "application/vnd.wordperfect": ("paper_era", "WordPerfect document", WHY_OLD_DOC),
    "application/vnd.lotus-1-2-3": ("paper_era", "Lotus 1-2-3 spreadsheet", WHY_OLD_DOC),
    "application/vnd.lotus-wordpro": ("paper_era", "Lotus Word Pro document", WHY_OLD_DOC),
    "application/vnd.ms-works": ("paper_era", "Microsoft Works document", WHY_OLD_DOC),
    "application/x-iso9660-image": ("paper_era", "CD/DVD disk image (ISO)", WHY_DISK),
    "application/x-virtualbox-vhd": ("paper_era", "virtual hard disk image (VHD)", WHY_DISK),
    "application/x-virtualbox-vhdx": ("paper_era", "virtual hard disk image (VHDX)", WHY_DISK),
    "application/x-apple-diskimage": ("paper_era", "Mac disk image (DMG)", WHY_DISK),
    "application/zip": ("archive", "zip archive", None),
    "application/x-rar": ("archive", "RAR archive", None),
    "application/vnd.rar": ("archive", "RAR archive", None),
    "application/x-7z-compressed": ("archive", "7-Zip archive", None),
    "application/x-tar": ("archive", "tar archive", None),
    "application/gzip": ("archive", "gzip archive", None),
    "application/x-gzip": ("archive", "gzip archive", None),
    "application/x-bzip2": ("archive", "bzip2 archive", None),
    "application/x-xz": ("archive", "xz archive", None),
    "application/vnd.ms-cab-compressed": ("archive", "Windows cabinet archive", None),
    "application/x-lzh-compressed": ("archive", "LHA archive", None),
    "application/x-dosexec": ("unsafe", "Windows executable", WHY_PROGRAM),
    "application/x-msdownload": ("unsafe", "Windows executable", WHY_PROGRAM),
    "application/x-msdos-program": ("unsafe", "Windows executable", WHY_PROGRAM),
    "application/x-bytecode.python": ("unsafe", "compiled Python program", WHY_PROGRAM),
    "application/vnd.microsoft.portable-executable": ("unsafe", "Windows executable", WHY_PROGRAM),
    "application/x-executable": ("unsafe", "Linux executable", WHY_PROGRAM),
    "application/x-pie-executable": ("unsafe", "Linux executable", WHY_PROGRAM),
    "application/x-sharedlib": ("unsafe", "Linux program library", WHY_PROGRAM),
    "application/x-mach-binary": ("unsafe", "macOS executable", WHY_PROGRAM),
    "application/x-java-applet": ("unsafe", "Java program", WHY_PROGRAM),
    "application/x-ms-shortcut": ("unsafe", "Windows shortcut", WHY_SHORTCUT),
    "application/x-msi": ("unsafe", "Windows installer package", WHY_INSTALLER),
    "text/x-shellscript": ("unsafe", "shell script", WHY_SCRIPT),
    "text/x-script.python": ("unsafe", "Python script", WHY_SCRIPT),
    "text/x-python": ("unsafe", "Python script", WHY_SCRIPT),
    "text/x-msdos-batch": ("unsafe", "Windows batch script", WHY_SCRIPT),
    "text/x-perl": ("unsafe", "Perl script", WHY_SCRIPT),
    "text/x-ruby": ("unsafe", "Ruby script", WHY_SCRIPT),
    "text/x-php": ("unsafe", "PHP script", WHY_SCRIPT),
    "application/javascript": ("unsafe", "JavaScript script", WHY_SCRIPT),
    "text/javascript": ("unsafe", "JavaScript script", WHY_SCRIPT),
    "text/rtf": ("text", "RTF document", None),
    "application/rtf": ("text", "RTF document", None),
    "text/plain": ("text", "text file", None),
    "text/csv": ("text", "CSV file", None),
    "text/html": ("text", "web page (HTML)", None),
    "text/xml": ("text", "XML file", None),
    "application/xml": ("text", "XML file", None),
    "message/rfc822": ("text", "email message", None),
    "application/json": ("text", "JSON file", None),
}

# Scripts that libmagic calls plain text: known by extension, or by unmistakable content. A plain
# text document never holds these markers; a script dressed up as notes.txt does.
_SCRIPT_EXTENSIONS = {
    ".ps1": "PowerShell script", ".psm1": "PowerShell script", ".psd1": "PowerShell script",
    ".bat": "Windows batch script", ".cmd": "Windows batch script",
    ".vbs": "VBScript script", ".vbe": "VBScript script", ".js": "JavaScript script",
    ".jse": "JavaScript script", ".wsf": "Windows script", ".wsh": "Windows script",
    ".sh": "shell script", ".py": "Python script", ".hta": "HTML application (HTA)",
    ".scr": "Windows screen saver program", ".reg": "Windows registry file",
}
_SCRIPT_MARKERS: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"<\s*hta:application", re.I), "HTML application (HTA)"),
    (re.compile(rb"wscript\.shell|createobject\s*\(|wscript\.createobject", re.I), "VBScript script"),
    (re.compile(rb"new\s+activexobject\s*\(", re.I), "JavaScript script"),
    (re.compile(rb"invoke-expression|frombase64string\s*\(|-encodedcommand|downloadstring\s*\(|"
                rb"set-executionpolicy|\biex\s*\(", re.I), "PowerShell script"),
    (re.compile(rb"\A(?:\xef\xbb\xbf)?\s*@echo\s+off", re.I), "Windows batch script"),
    (re.compile(rb"\AWindows Registry Editor Version|\AREGEDIT4"), "Windows registry file"),
)

# OLE stream/storage names (as they appear in the compound file's directory).
_OLE_MACRO_NAMES = {"macros", "_vba_project_cur", "_vba_project", "vba"}
_MSI_CLSIDS = {  # root-entry CLSIDs of Windows Installer packages, patches and transforms
    bytes.fromhex("84100c0000000000c000000000000046"),
    bytes.fromhex("86100c0000000000c000000000000046"),
    bytes.fromhex("82100c0000000000c000000000000046"),
}

_PAPER_ERA_EXTENSIONS = {
    ".tif", ".tiff", ".mdi", ".djvu", ".djv", ".pcx", ".bmp", ".dib", ".wpd", ".wp", ".wp5", ".wp6",
    ".wps", ".wks", ".wdb", ".wk1", ".wk3", ".wk4", ".123", ".iso", ".img", ".dmg", ".vhd", ".vhdx",
    ".lwp",
}


def sniff(path: Path) -> FileType:
    """The type of the file at `path`, from its content: `sniff_file` on the opened file."""
    with path.open("rb") as fh:
        return sniff_file(fh, path.name, os.fstat(fh.fileno()).st_size)


def sniff_file(fh: BinaryIO, name: str, size: int) -> FileType:
    """The type of the open, seekable file `fh` of `size` bytes, from its content.

    `name` (the file's own name) only breaks ties content cannot: scripts with no magic, .img.
    Reads the head, tail and directories only, always seeking first: the position is not ours.
    """
    if size == 0:
        return FileType("inode/x-empty", "empty", "empty file (zero bytes)")
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    if size > len(head):
        fh.seek(max(size - TAIL_BYTES, 0))
        tail = fh.read(TAIL_BYTES)
    else:
        tail = head[-TAIL_BYTES:]
    own = _own_signatures(head, tail)
    if own is not None:
        return own
    fast = _fast_signature(head)
    if fast is not None:
        return fast
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # libmagic's answer would not be used
        return _sniff_zip(fh, size)
    mime = _libmagic(head, mime=True)
    if mime is None:  # libmagic gave up on this buffer: judge by our own checks only
        mime = "application/octet-stream"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _sniff_ole(fh, name, head, mime)
    if mime == "application/zip":
        return _sniff_zip(fh, size)
    if mime in _BY_MIME:
        family, label, reason = _BY_MIME[mime]
        if family == "text":
            return _sniff_text(name, head, mime, label)
        return FileType(mime, family, label, reason)
    return _fallback(name, head, mime, _description(head))


# Signatures whose libmagic MIME type is certain, answered without libmagic (~60 us a call, once per
# file). Each is as strict as libmagic's own rule: PNG needs its IHDR chunk first, JPEG a 4th byte.
_FAST_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (  # (prefix, shortest head, MIME)
    (b"%PDF-", 5, "application/pdf"),
    (b"\xff\xd8\xff", 4, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 16, "image/png"),
    (b"GIF87a", 6, "image/gif"),
    (b"GIF89a", 6, "image/gif"),
)
_FAST_TYPES = {mime: FileType(mime, *_BY_MIME[mime]) for _prefix, _shortest, mime in _FAST_SIGNATURES}


def _fast_signature(head: bytes) -> FileType | None:
    """The type of a head libmagic could only call a PDF, JPEG, PNG or GIF; None for anything else."""
    for prefix, shortest, mime in _FAST_SIGNATURES:
        if head.startswith(prefix) and len(head) >= shortest:
            return _FAST_TYPES[mime]
    return None


def _description(head: bytes) -> str:
    """libmagic's words for the buffer (a second pass: only the fallback needs them)."""
    return _libmagic(head, mime=False) or ""


def _libmagic(head: bytes, mime: bool) -> str | None:
    """libmagic's answer for the buffer; None when it gives up."""
    import magic  # here: loading it costs a process 4-8 ms, and most files are told without it

    try:
        return magic.from_buffer(head, mime=mime)
    except magic.MagicException:
        return None


def _own_signatures(head: bytes, tail: bytes) -> FileType | None:
    """Formats libmagic misses or needs more than the head for; checked before libmagic."""
    if head.startswith(b"EP*\x00"):  # Microsoft Office Document Imaging
        return FileType("image/vnd.ms-modi", "paper_era", "Microsoft Document Imaging (MDI) scan", WHY_SCAN)
    if tail.startswith(b"koly") and len(tail) == TAIL_BYTES:  # UDIF trailer at the very end
        return FileType("application/x-apple-diskimage", "paper_era", "Mac disk image (DMG)", WHY_DISK)
    if head.startswith(b"vhdxfile"):
        return FileType("application/x-virtualbox-vhdx", "paper_era", "virtual hard disk image (VHDX)", WHY_DISK)
    # A fixed VHD carries its footer only at the end; a dynamic one also copies it to the start.
    if head.startswith(b"conectix") or tail.startswith(b"conectix") or tail[1:].startswith(b"conectix"):
        return FileType("application/x-virtualbox-vhd", "paper_era", "virtual hard disk image (VHD)", WHY_DISK)
    for offset in (0x8001, 0x8801, 0x9001):  # ISO 9660 / UDF volume descriptor
        if head[offset:offset + 5] in (b"CD001", b"BEA01"):
            return FileType("application/x-iso9660-image", "paper_era", "CD/DVD disk image (ISO)", WHY_DISK)
    if head.startswith(b"\xffWPC"):
        return FileType("application/vnd.wordperfect", "paper_era", "WordPerfect document", WHY_OLD_DOC)
    # Lotus 1-2-3 release 3 and later: BOF record (opcode 0, length 0x1A), version 0x1000-0x1005.
    if head[:4] == b"\x00\x00\x1a\x00" and head[5:6] == b"\x10" and head[4] <= 0x05:
        return FileType("application/vnd.lotus-1-2-3", "paper_era", "Lotus 1-2-3 spreadsheet", WHY_OLD_DOC)
    # Lotus WKS/WK1 (BOF 0x0404..0x0406) and Works for DOS spreadsheet (same record, first byte 0xFF).
    if head[:4] in (b"\x00\x00\x02\x00", b"\xff\x00\x02\x00") and head[4:6] in (b"\x04\x04", b"\x05\x04", b"\x06\x04"):
        if head[0] == 0xFF:
            return FileType("application/vnd.ms-works", "paper_era", "Microsoft Works spreadsheet", WHY_OLD_DOC)
        return FileType("application/vnd.lotus-1-2-3", "paper_era", "Lotus 1-2-3 spreadsheet", WHY_OLD_DOC)
    return None


def _sniff_text(name: str, head: bytes, mime: str, label: str) -> FileType:
    """Text that is really a script (by marker or by extension) is unsafe; the rest is text."""
    for pattern, script_label in _SCRIPT_MARKERS:
        if pattern.search(head):
            return FileType(mime, "unsafe", script_label, WHY_SCRIPT)
    if head.startswith(b"#!"):
        return FileType(mime, "unsafe", "script", WHY_SCRIPT)
    ext = _extension(name)
    if ext in _SCRIPT_EXTENSIONS:  # PowerShell/VBScript/JS have no magic: the name decides
        return FileType(mime, "unsafe", _SCRIPT_EXTENSIONS[ext], WHY_SCRIPT)
    if mime == "text/plain" and ext == ".csv":
        label = "CSV file"
    return FileType(mime, "text", label)


def _fallback(name: str, head: bytes, mime: str, description: str) -> FileType:
    """Formats told by a weak signature, a libmagic description, or (last) the extension."""
    ext = _extension(name)
    desc = description.lower()
    # Works for DOS/Windows 2-3 word processor (first byte < 6, second 0xFE) and Works database
    # (0x20 or 0xFF, then 0x54): two-byte signatures, trusted only when libmagic knows nothing else.
    if mime == "application/octet-stream" and len(head) >= 2:
        if head[0] < 6 and head[1] == 0xFE:
            return FileType("application/vnd.ms-works", "paper_era", "Microsoft Works document", WHY_OLD_DOC)
        if head[0] in (0x20, 0xFF) and head[1] == 0x54:
            return FileType("application/vnd.ms-works", "paper_era", "Microsoft Works database", WHY_OLD_DOC)
    if "boot sector" in desc or "filesystem data" in desc or "file system data" in desc:
        return FileType(mime, "paper_era", "disk image", WHY_DISK)
    if "executable" in desc and ("pe32" in desc or "ms-dos" in desc or "elf" in desc or "mach-o" in desc):
        return FileType(mime, "unsafe", "executable program", WHY_PROGRAM)
    if mime.startswith("text/"):
        return _sniff_text(name, head, mime, "text file")
    # A raw disk image (.img) is a byte-for-byte copy of a device: nothing at its start to tell it
    # by (libmagic may even see a Targa image in its noise), so only the name can. Content we
    # recognised as a document, image, archive or program never gets here.
    if ext == ".img":
        return FileType(mime, "paper_era", "disk image (IMG)", WHY_DISK)
    return FileType(mime, "unknown", "file of unknown type")  # libmagic's own words stay out of replies


def _zip_entry_count(fh: BinaryIO, size: int) -> int | None:
    """Entries the zip's end-of-central-directory record declares (None if not found).

    Read before zipfile builds one object per entry: a document never has tens of thousands of
    parts, and a zip that does is left whole to the archive limits. A record without a comment is
    the last 22 bytes (zipfile looks there first too); else it is searched for in the last 64 KB.
    """
    fh.seek(max(size - 22, 0))
    tail = fh.read(22)
    if tail.startswith(b"PK\x05\x06") and tail.endswith(b"\x00\x00"):
        return int.from_bytes(tail[10:12], "little")
    fh.seek(max(size - (65536 + 22), 0))
    tail = fh.read(65536 + 22)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        return None
    return int.from_bytes(tail[at + 10:at + 12], "little")  # 0xFFFF: zip64, more than we read


def _sniff_zip(fh: BinaryIO, size: int) -> FileType:
    """Tell OOXML/ODF documents, macro-bearing ones and Java archives from plain zip archives."""
    count = _zip_entry_count(fh, size)
    if count is None or count >= MAX_DOCUMENT_PARTS:
        return FileType("application/zip", "archive", "zip archive")  # the archive rules judge it
    try:
        with zipfile.ZipFile(fh) as zf:  # finds its own directory from the end: no seek needed
            names = zf.namelist()
            lower = {n.lower() for n in names}
            content_types = ""
            if "[Content_Types].xml" in names:
                with zf.open("[Content_Types].xml") as part:
                    content_types = part.read(OOXML_CONTENT_TYPES_CAP).decode("utf-8", "replace")
            odf_mime = ""
            if "mimetype" in names and zf.getinfo("mimetype").file_size < 200:
                odf_mime = zf.read("mimetype").decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, NotImplementedError, RuntimeError):
        return FileType("application/zip", "archive", "zip archive")  # the archive rules judge damage
    if content_types:
        return _ooxml_type(lower, content_types)
    if odf_mime.startswith("application/vnd.oasis.opendocument."):
        if any(n.startswith(("basic/", "scripts/")) for n in lower):
            return FileType(odf_mime, "unsafe", "OpenDocument file with macros", WHY_MACROS)
        kind = odf_mime.rsplit(".", 1)[-1]
        family, label = {"text": ("word", "OpenDocument text"),
                         "spreadsheet": ("spreadsheet", "OpenDocument spreadsheet"),
                         "presentation": ("presentation", "OpenDocument presentation")}.get(
            kind, ("unknown", "OpenDocument file"))
        return FileType(odf_mime, family, label)
    if "meta-inf/manifest.mf" in lower or any(n.endswith(".class") for n in lower):
        return FileType("application/java-archive", "unsafe", "Java program (JAR)", WHY_PROGRAM)
    return FileType("application/zip", "archive", "zip archive")


def _ooxml_type(lower_names: set[str], content_types: str) -> FileType:
    """An OOXML package: Word/Excel/PowerPoint, and whether it carries a VBA project."""
    ct = content_types.lower()
    if "word/" in {n[:5] for n in lower_names} or "wordprocessingml" in ct or "ms-word" in ct:
        kind, mime, plain, with_macros = "word", MIME_DOCX, "Word document", "Word document with macros"
    elif any(n.startswith("xl/") for n in lower_names):
        kind, mime, plain, with_macros = "spreadsheet", MIME_XLSX, "Excel workbook", "Excel workbook with macros"
    elif any(n.startswith("ppt/") for n in lower_names):
        kind, mime, plain, with_macros = "presentation", MIME_PPTX, "PowerPoint presentation", "PowerPoint presentation with macros"
    else:
        kind, mime, plain, with_macros = "unknown", "application/zip", "Office package", "Office package with macros"
    # .docm/.xlsm/.pptm/.dotm/.xlam/.ppsm main parts all say "macroEnabled"; a vbaProject.bin part
    # (or an ActiveX control binary) carries code whatever the content type claims.
    if ("macroenabled" in ct or "vbaproject" in ct
            or any(n.endswith("vbaproject.bin") or n.endswith("vbaprojectsignature.bin") for n in lower_names)):
        return FileType(mime, "unsafe", with_macros, WHY_MACROS)
    return FileType(mime, kind, plain)


def ole_directory(fh: BinaryIO, limit: int = OLE_SCAN_BYTES) -> tuple[set[str], bytes]:
    """Stream and storage names of the OLE compound file open as `fh`, and the root entry's CLSID.

    A cheap scan rather than a full parser: directory entries are 128-byte records at 128-byte
    aligned offsets (sectors are 512 or 4096 bytes after a header of the same size), so every aligned
    record whose shape is a valid entry (UTF-16 name, NUL-terminated at its stated length, object
    type 1/2/5, colour 0/1) is taken as one. Reads at most `limit` bytes, in 1 MB chunks.
    """
    names: set[str] = set()
    root_clsid = b""
    fh.seek(0)
    offset = 0
    while offset < limit:
        chunk = fh.read(1024 * 1024)
        if not chunk:
            break
        start = 512 if offset == 0 else 0  # the header is not a directory sector
        for pos in range(start, len(chunk) - 127, 128):
            entry = chunk[pos:pos + 128]
            obj_type, colour = entry[66], entry[67]
            if obj_type not in (1, 2, 5) or colour > 1:
                continue
            name_len = entry[64] | (entry[65] << 8)
            if name_len < 4 or name_len > 64 or name_len % 2 or entry[name_len - 2:name_len] != b"\x00\x00":
                continue
            try:
                name = entry[:name_len - 2].decode("utf-16-le")
            except UnicodeDecodeError:
                continue
            if "\x00" in name:
                continue
            names.add(name)
            if obj_type == 5 and not root_clsid:
                root_clsid = entry[80:96]
        offset += len(chunk)
    return names, root_clsid


def _sniff_ole(fh: BinaryIO, name: str, head: bytes, mime: str) -> FileType:
    """Legacy Office, Works, MSI and Outlook files share the OLE container: tell them by directory."""
    names, root_clsid = ole_directory(fh)
    lower = {n.lower() for n in names}
    if root_clsid in _MSI_CLSIDS or mime == "application/x-msi":
        return FileType("application/x-msi", "unsafe", "Windows installer package", WHY_INSTALLER)
    has_macros = bool(lower & _OLE_MACRO_NAMES)
    if "worddocument" in lower:
        if has_macros:
            return FileType("application/msword", "unsafe", "Word document with macros", WHY_MACROS)
        return FileType("application/msword", "word", "Word 97-2003 document")
    if "workbook" in lower or "book" in lower:
        if has_macros:
            return FileType("application/vnd.ms-excel", "unsafe", "Excel workbook with macros", WHY_MACROS)
        return FileType("application/vnd.ms-excel", "spreadsheet", "Excel 97-2003 workbook")
    if "powerpoint document" in lower:
        if has_macros:
            return FileType("application/vnd.ms-powerpoint", "unsafe", "PowerPoint presentation with macros", WHY_MACROS)
        return FileType("application/vnd.ms-powerpoint", "presentation", "PowerPoint 97-2003 presentation")
    # Microsoft Works 4 keeps its data in an "MN0" stream; Works 2000-9 in "CONTENTS" starting with
    # "CHNKWKS"/"CHNKINK" (looked for in the head, where small files keep that stream; larger ones
    # fall to the extension check below).
    if "mn0" in lower or ("contents" in lower and (b"CHNKWKS" in head or b"CHNKINK" in head)):
        return FileType("application/vnd.ms-works", "paper_era", "Microsoft Works document", WHY_OLD_DOC)
    if any(n.startswith("__substg1.0_") for n in names):
        return FileType("application/vnd.ms-outlook", "unknown", "Outlook email message")
    if has_macros:
        return FileType(MIME_OLE, "unsafe", "Office file with macros", WHY_MACROS)
    ext = _extension(name)
    if ext in (".wps", ".wdb", ".wks", ".xlr"):  # an OLE file named as Works that we could not confirm
        return FileType("application/vnd.ms-works", "paper_era", "Microsoft Works document", WHY_OLD_DOC)
    return FileType(mime if mime != "application/octet-stream" else MIME_OLE, "unknown", "Office compound file")


# Extension -> families or MIME types its content may have. Families match broadly (a JPEG named
# .png is not worth a warning); MIME entries narrow archives, where the rules care which kind it is.
_EXPECTED: dict[str, tuple[str, ...]] = {
    ".pdf": ("pdf",),
    ".doc": ("word", "text/rtf"),  # Word saves RTF under .doc and opens it transparently
    ".dot": ("word",), ".docx": ("word",), ".dotx": ("word",), ".odt": ("word",),
    ".xls": ("spreadsheet",), ".xlsx": ("spreadsheet",), ".xltx": ("spreadsheet",), ".ods": ("spreadsheet",),
    ".ppt": ("presentation",), ".pptx": ("presentation",), ".ppsx": ("presentation",), ".odp": ("presentation",),
    ".jpg": ("image",), ".jpeg": ("image",), ".jfif": ("image",), ".png": ("image",), ".gif": ("image",),
    ".heic": ("image",), ".heif": ("image",), ".webp": ("image",),
    ".txt": ("text",), ".csv": ("text",), ".rtf": ("text",), ".md": ("text",), ".log": ("text",),
    ".xml": ("text",), ".htm": ("text",), ".html": ("text",), ".eml": ("text",),
    ".msg": ("application/vnd.ms-outlook",),
    ".zip": ("application/zip",), ".rar": ("application/x-rar", "application/vnd.rar"),
    ".7z": ("application/x-7z-compressed",), ".tar": ("application/x-tar",),
    ".gz": ("application/gzip", "application/x-gzip"), ".tgz": ("application/gzip", "application/x-gzip"),
    ".bz2": ("application/x-bzip2",), ".xz": ("application/x-xz",), ".cab": ("application/vnd.ms-cab-compressed",),
}
_EXPECTED.update({ext: ("paper_era",) for ext in _PAPER_ERA_EXTENSIONS})
_EXPECTED.update({ext: ("unsafe",) for ext in (*_SCRIPT_EXTENSIONS, ".exe", ".dll", ".com", ".msi", ".lnk",
                                                ".jar", ".class", ".docm", ".xlsm", ".pptm", ".dotm", ".xlam",
                                                ".elf", ".bin", ".app")})

_ARTICLE_VOWELS = "aeiouAEIOU"
_SPELLED_VOWEL_ACRONYMS = {"RTF", "MDI", "XML", "LHA", "HTML", "MS-DOS"}


def extension_mismatch(name: str, ftype: FileType) -> str | None:
    """None when the file name's extension fits the content; else what follows the file's name in a
    sentence saying how not: "has no extension but is a text file".

    Empty files have nothing to mismatch (they get their own finding). A missing extension on a
    recognised document is a mismatch: QA's computers cannot open it by double-clicking.
    """
    if ftype.family == "empty":
        return None
    ext = _extension(name)
    what = with_article(ftype.label)
    if not ext:
        if ftype.family == "unknown":
            return None
        return f"has no extension but is {what}"
    expected = _EXPECTED.get(ext)
    if expected is None:
        if ftype.family == "unknown":
            return None  # an unknown name on unknown content: nothing useful to say
        return f"is named {ext} but is {what}"
    if ftype.family in expected or ftype.mime in expected:
        return None
    if ftype.family == "unknown":
        return f"is named {ext} but its content is not a readable {ext[1:].upper()} file"
    return f"is named {ext} but is {what}"


def _extension(name: str) -> str:
    """The lower-case extension of a file name, which may be a Windows-style path: ".pdf", or ""."""
    return suffix(name_of(name.replace("\\", "/"))).lower()


def with_article(label: str) -> str:
    """'a PDF document', 'an Excel workbook', 'an RTF document'."""
    # Acronyms spelled letter by letter that start with a vowel sound ("an RTF", but "a RAR").
    vowel_sound = label[:1] in _ARTICLE_VOWELS or label.split(" ", 1)[0] in _SPELLED_VOWEL_ACRONYMS
    return ("an " if vowel_sound else "a ") + label
