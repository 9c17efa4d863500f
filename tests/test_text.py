"""Document text: round trips through the sample builders, and hostile files that must stay cheap."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pypdf

from intake.samples import (
    evaluation_tool_lines,
    minimal_docx,
    minimal_pdf,
    minimal_xlsx,
)
from tests.test_formats import minimal_ole
from tests.zipfactory import normal_zip
from triage.formats import sniff, sniff_file
from triage.text import (
    BINARY_SCAN_BYTES,
    MAX_PDF_PAGES,
    RTF_RAW_BYTES,
    XML_PART_CAP,
    extract_text,
    rtf_to_text,
)


def text_of(tmp_path: Path, name: str, data: bytes, **kwargs: int) -> str:
    """Text of `data` as a file on disk; the same from memory and from an anonymous temp file."""
    path = tmp_path / name
    path.write_bytes(data)
    with path.open("rb") as fh:
        text = extract_text(fh, sniff(path), **kwargs)
    ftype = sniff_file(io.BytesIO(data), name, len(data))
    memory = io.BytesIO(data)
    memory.seek(0, io.SEEK_END)  # the position handed over is not the extractor's concern
    assert extract_text(memory, ftype, **kwargs) == text
    with tempfile.TemporaryFile() as anonymous:
        anonymous.write(data)
        assert extract_text(anonymous, ftype, **kwargs) == text
    return text


def test_pdf_round_trip(tmp_path: Path) -> None:
    lines = evaluation_tool_lines(employer="Béton & Fils (Alberta) Ltd.", employees=12)
    text = text_of(tmp_path, "tool.pdf", minimal_pdf(lines))
    assert "SECOR Evaluation Tool" in text
    assert "Employer legal name (as registered with WCB): Béton & Fils (Alberta) Ltd." in text
    assert "Number of employees: 12" in text


def test_pdf_text_from_every_page_of_a_short_document(tmp_path: Path) -> None:
    lines = [f"Inspection item {i}" for i in range(120)]
    data = minimal_pdf(lines, lines_per_page=40)
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) == 3
    text = text_of(tmp_path, "inspections.pdf", data)
    assert "Inspection item 0" in text and "Inspection item 119" in text


def test_pdf_with_thousands_of_pages_stops_after_the_first_ones(tmp_path: Path) -> None:
    data = minimal_pdf([f"Page marker {i:05d}" for i in range(3000)], lines_per_page=1)
    text = text_of(tmp_path, "huge.pdf", data)
    assert f"Page marker {MAX_PDF_PAGES - 1:05d}" in text
    assert f"Page marker {MAX_PDF_PAGES:05d}" not in text


def test_pdf_stops_at_max_chars(tmp_path: Path) -> None:
    data = minimal_pdf([f"Line {i} of the safety manual" for i in range(200)], lines_per_page=20)
    text = text_of(tmp_path, "manual.pdf", data, max_chars=300)
    assert len(text) == 300
    assert text.startswith("Line 0 of the safety manual")


def test_broken_pdfs_give_empty_text(tmp_path: Path) -> None:
    assert text_of(tmp_path, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n%%EOF\n") == ""
    assert text_of(tmp_path, "garbage.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40) == ""
    truncated = minimal_pdf(["Hazard assessment"])[:200]  # cut before the content stream and xref
    assert text_of(tmp_path, "truncated.pdf", truncated) == ""


def test_password_protected_pdf_gives_empty_text(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(minimal_pdf(["Secret policy"]))))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert text_of(tmp_path, "locked.pdf", out.getvalue()) == ""


def test_owner_password_only_pdf_is_read(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(minimal_pdf(["Open policy text"]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert "Open policy text" in text_of(tmp_path, "restricted.pdf", out.getvalue())


def test_docx_round_trip(tmp_path: Path) -> None:
    paragraphs = ["Health & Safety Policy <2026>", "Number of employees: 7", "Signé: Pat Morgan"]
    text = text_of(tmp_path, "policy.docx", minimal_docx(paragraphs))
    assert text.splitlines() == paragraphs


def test_docx_with_macros_still_yields_its_text(tmp_path: Path) -> None:
    assert "Number of employees: 4" in text_of(tmp_path, "tool.docm", minimal_docx(["Number of employees: 4"], macros=True))


def test_xlsx_round_trip(tmp_path: Path) -> None:
    rows = [["SECOR Evaluation Tool"], ["Number of employees", "7"], ["Employer legal name", "Acme Roofing Ltd."]]
    text = text_of(tmp_path, "tool.xlsx", minimal_xlsx(rows))
    assert text.splitlines() == ["SECOR Evaluation Tool", "Number of employees\t7",
                                 "Employer legal name\tAcme Roofing Ltd."]


def test_xlsx_inline_strings_are_read(tmp_path: Path) -> None:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = (f'<worksheet xmlns="{ns}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Purpose</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>Maintenance</t></is></c></row></sheetData></worksheet>')
    data = normal_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                      "xl/worksheets/sheet1.xml": sheet.encode()})
    assert text_of(tmp_path, "inline.xlsx", data) == "Purpose\tMaintenance\n"


def test_odt_text_is_read(tmp_path: Path) -> None:
    content = ('<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
               '<text:h>Emergency Response Plan</text:h><text:p>Muster point:<text:tab/>north gate</text:p>'
               '</office:text></office:body></office:document-content>')
    data = normal_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": content.encode()})
    assert text_of(tmp_path, "plan.odt", data) == "Emergency Response Plan\nMuster point:\tnorth gate\n"


def test_plain_text_decodings(tmp_path: Path) -> None:
    assert text_of(tmp_path, "a.txt", "Café policy\n".encode("utf-8")) == "Café policy\n"
    assert text_of(tmp_path, "b.txt", "Café policy\n".encode("cp1252")) == "Café policy\n"
    assert text_of(tmp_path, "c.txt", "Café policy\n".encode("utf-16")) == "Café policy\n"
    assert text_of(tmp_path, "d.txt", b"x" * 5000, max_chars=100) == "x" * 100


def test_rtf_text(tmp_path: Path) -> None:
    rtf = (rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}{\colortbl;\red0\green0\blue0;}"
           rb"{\*\generator Riched20;}\f0 Employer: Caf\'e9 Roofing\par Number of employees: 7\par"
           rb" Dash \u8212? done\tab end}")
    assert text_of(tmp_path, "tool.rtf", rtf) == "Employer: Café Roofing\nNumber of employees: 7\nDash — done\tend"
    assert rtf_to_text(r"{\rtf1 a\{b\}c\\d}") == r"a{b}c\d"


def test_legacy_word_text_by_crude_scan(tmp_path: Path) -> None:
    payload = "SECOR Evaluation Tool\rNumber of employees: 9\r".encode("utf-16-le")
    data = minimal_ole([("WordDocument", 2), ("1Table", 2)], payload=payload)
    text = text_of(tmp_path, "tool.doc", data)
    assert "SECOR Evaluation Tool" in text and "Number of employees: 9" in text


def test_formats_without_text_give_empty_text(tmp_path: Path) -> None:
    assert text_of(tmp_path, "scan.tif", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 100) == ""
    assert text_of(tmp_path, "a.zip", normal_zip({"a.txt": b"hello"})) == ""
    assert text_of(tmp_path, "empty.pdf", b"") == ""


# --- hostile inputs --------------------------------------------------------------------------


def bomb_docx(path: Path, prefix: bytes, unit: bytes, total: int, suffix: bytes) -> None:
    """A docx whose word/document.xml inflates to about `total` bytes, written without holding it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", minimal_docx_parts()["[Content_Types].xml"])
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(prefix)
            block = unit * (1024 * 1024 // len(unit))
            for _ in range(total // len(block)):
                fh.write(block)
            fh.write(suffix)


def minimal_docx_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(minimal_docx(["x"]))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


W = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'


def test_giant_paragraph_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    bomb_docx(path, W + b"<w:p><w:r><w:t>", b"a", 3 * XML_PART_CAP, b"</w:t></w:r></w:p></w:body></w:document>")
    assert path.stat().st_size < 1_000_000  # a zip bomb: tiny on disk
    ftype = sniff(path)
    assert ftype.family == "word"
    with path.open("rb") as fh:
        assert extract_text(fh, ftype, max_chars=5000) == "a" * 5000


def test_huge_part_without_text_is_read_only_up_to_the_cap(tmp_path: Path) -> None:
    """Millions of empty elements: no tree is kept, so memory stays small while the cap is read."""
    path = tmp_path / "elements.docx"
    bomb_docx(path, W, b"<w:bookmarkEnd/>", 3 * XML_PART_CAP, b"</w:body></w:document>")
    ftype = sniff(path)
    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            text = extract_text(fh, ftype)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text == ""
    assert peak < 8 * 1024 * 1024


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
              + b"".join(b'<!ENTITY %s "%s">' % (b"b" + str(i).encode(), (b"&a;" if i == 0 else b"&b%d;" % (i - 1)) * 10)
                         for i in range(9))
              + b']>' + W[len(b""):] + b"<w:p><w:r><w:t>&b8;</w:t></w:r></w:p></w:body></w:document>")
    parts = minimal_docx_parts()
    parts["word/document.xml"] = laughs
    assert text_of(tmp_path, "laughs.docx", normal_zip(parts)) == ""


def test_damaged_docx_gives_text_before_the_damage(tmp_path: Path) -> None:
    parts = minimal_docx_parts()
    parts["word/document.xml"] = W + b"<w:p><w:r><w:t>Readable part</w:t></w:r></w:p><w:p><w:r><w:t>oops</w:r>"
    assert text_of(tmp_path, "damaged.docx", normal_zip(parts)) == "Readable part\n"


def test_docx_without_document_part_gives_empty_text(tmp_path: Path) -> None:
    parts = minimal_docx_parts()
    del parts["word/document.xml"]
    parts["word/other.xml"] = b"<x/>"
    assert text_of(tmp_path, "hollow.docx", normal_zip(parts)) == ""


class CountingReader(io.BytesIO):
    """A BytesIO that counts the bytes handed out by read()."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_reads_from_a_file_object_stay_bounded() -> None:
    big = 20 * 1024 * 1024
    text = CountingReader(b"Number of employees: 7\n" + b"x" * big)
    ftype = sniff_file(text, "notes.txt", len(text.getvalue()))
    assert extract_text(text, ftype, max_chars=1000) == "Number of employees: 7\n" + "x" * 977
    assert text.bytes_read <= 64 * 1024 + 512 + 1000 * 4  # sniff's head and tail, then the text
    rtf = CountingReader(b"{\\rtf1\\ansi " + b"a" * big + b"}")
    assert extract_text(rtf, sniff_file(rtf, "a.rtf", len(rtf.getvalue())), max_chars=10) == "a" * 10
    assert rtf.bytes_read <= 64 * 1024 + 512 + RTF_RAW_BYTES
    doc = CountingReader(minimal_ole([("WordDocument", 2)], payload="Number of employees: 9".encode("utf-16-le"))
                         + b"\x00" * big)
    ftype = sniff_file(doc, "tool.doc", len(doc.getvalue()))
    before = doc.bytes_read  # sniffing scanned the OLE directory
    assert "Number of employees: 9" in extract_text(doc, ftype)
    assert doc.bytes_read - before <= BINARY_SCAN_BYTES
