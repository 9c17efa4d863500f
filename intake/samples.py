"""Realistic sample submissions, built with the standard library only (tests and the README demo).

Everything here is deterministic: fixed dates, fixed zip timestamps, no randomness, so two runs
write byte-identical files.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ZIP_DATE = (2026, 10, 2, 9, 30, 0)  # every zip entry's timestamp

ALBERTA_8 = (
    "Management Leadership and Organizational Commitment",
    "Hazard Identification and Assessment",
    "Hazard Control",
    "Ongoing Inspections",
    "Qualifications, Orientation and Training",
    "Emergency Response",
    "Incident Investigation",
    "Program Administration",
)
VOCABULARIES = {"alberta-8": ALBERTA_8}

# Per element: well-named documents a small employer would send (the first `docs_per_element`).
ELEMENT_DOCUMENTS: dict[int, tuple[str, ...]] = {
    1: ("Health and Safety Policy 2026.pdf", "Roles and Responsibilities - 2026.docx",
        "Management Safety Meeting - 2026-04-07.pdf", "Policy Review Sign-off - 2026-01-12.pdf"),
    2: ("Hazard Assessment - Roof Replacement - 2026-03-14.pdf", "Field Level Hazard Assessment - 2026-05-21.docx",
        "Hazard Assessment - Shop and Yard - 2026-02-03.pdf", "Field Level Hazard Assessment - 2026-06-11.docx"),
    3: ("Safe Work Practice - Working at Heights.pdf", "Safe Job Procedure - Ladder Setup.docx",
        "PPE Requirements - 2026.pdf", "Preventive Maintenance Log - 2026-Q2.docx"),
    4: ("Monthly Inspection - 2026-05.docx", "Monthly Inspection - 2026-06.pdf",
        "Monthly Inspection - 2026-07.docx", "Vehicle Inspection - 2026-07-15.pdf"),
    5: ("Worker Orientation Checklist - J. Smith - 2026-03-02.pdf", "Training Records - 2026.docx",
        "Fall Protection Certificate - J. Smith.pdf", "First Aid Certificates - 2026.pdf"),
    6: ("Emergency Response Plan 2026.pdf", "Emergency Drill Record - 2026-04-22.docx",
        "First Aid Kit Inspection - 2026-06.pdf", "Emergency Contact List - 2026.docx"),
    7: ("Incident Investigation - Near Miss - 2026-05-09.pdf", "Incident Reporting Procedure.docx",
        "Incident Investigation - First Aid - 2026-07-02.pdf", "Incident Log - 2026.docx"),
    8: ("Health and Safety Meeting Minutes - 2026-06-03.docx", "Document Control Procedure.pdf",
        "Legislation Review - 2026.pdf", "Health and Safety Meeting Minutes - 2026-07-08.docx"),
}


# ---------------------------------------------------------------------------------------------
# PDF


def pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); characters outside it become '?'."""
    raw = text.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def minimal_pdf(lines: list[str], lines_per_page: int = 48) -> bytes:
    """A small valid PDF (Helvetica, one text line per `lines` item), paged every `lines_per_page`.

    Written by hand: catalog, page tree, one font, one page and one content stream per page, and a
    cross-reference table with correct byte offsets, so pypdf reads the text back.
    """
    pages = [lines[i:i + lines_per_page] for i in range(0, len(lines), lines_per_page)] or [[]]
    n = len(pages)
    # Object numbers: 1 catalog, 2 page tree, 3 font, then (page, content) pairs.
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, page_lines in enumerate(pages):
        stream = b"BT /F1 11 Tf 14 TL 72 756 Td\n" + b"".join(
            pdf_string(line) + b" Tj T*\n" for line in page_lines) + b"ET\n"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream")
    return pdf_file(objects)


def pdf_file(objects: list[bytes], version: str = "1.4") -> bytes:
    """A PDF of numbered `objects` (1 is the catalog) with a cross-reference table of correct offsets."""
    out = io.BytesIO()
    out.write(f"%PDF-{version}\n".encode() + b"%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode())
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# OOXML


def _zip_bytes(parts: list[tuple[str, bytes]]) -> bytes:
    """A deflated zip of `parts`, in order, with fixed timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out.getvalue()


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def minimal_docx(paragraphs: list[str], macros: bool = False) -> bytes:
    """A valid Word package with one paragraph per item; `macros=True` makes it a .docm with a VBA part."""
    main_type = ("application/vnd.ms-word.document.macroEnabled.main+xml" if macros else
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
    content_types = (
        _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macros else "")
        + f'<Override PartName="/word/document.xml" ContentType="{main_type}"/></Types>')
    rels = (_XML + f'<Relationships xmlns="{_PKG_RELS}">'
            f'<Relationship Id="rId1" Type="{_R_DOC}" Target="word/document.xml"/></Relationships>')
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    document = (_XML + f'<w:document xmlns:w="{_W_NS}"><w:body>{body}'
                '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/></w:sectPr></w:body></w:document>')
    parts = [("[Content_Types].xml", content_types.encode()), ("_rels/.rels", rels.encode()),
             ("word/document.xml", document.encode())]
    if macros:
        doc_rels = (_XML + f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
                    'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                    'Target="vbaProject.bin"/></Relationships>')
        parts.append(("word/_rels/document.xml.rels", doc_rels.encode()))
        # A stand-in VBA project: an OLE header and a VBA storage name, not runnable code.
        parts.append(("word/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
                      + "_VBA_PROJECT".encode("utf-16-le")))
    return _zip_bytes(parts)


def _column(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def minimal_xlsx(rows: list[list[str]]) -> bytes:
    """A valid one-sheet Excel workbook; text cells use shared strings, whole numbers are numbers."""
    shared: list[str] = []
    index: dict[str, int] = {}
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_column(c)}{r}"
            if value.isdigit():
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                continue
            if value not in index:
                index[value] = len(shared)
                shared.append(value)
            cells.append(f'<c r="{ref}" t="s"><v>{index[value]}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    content_types = (
        _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '</Types>')
    rels = (_XML + f'<Relationships xmlns="{_PKG_RELS}">'
            f'<Relationship Id="rId1" Type="{_R_DOC}" Target="xl/workbook.xml"/></Relationships>')
    workbook = (_XML + f'<workbook xmlns="{ns}" xmlns:r="{rel_ns}"><sheets>'
                '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
    workbook_rels = (
        _XML + f'<Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{rel_ns}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{rel_ns}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    sheet = _XML + f'<worksheet xmlns="{ns}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
    strings = (_XML + f'<sst xmlns="{ns}" count="{len(shared)}" uniqueCount="{len(shared)}">'
               + "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in shared) + "</sst>")
    return _zip_bytes([
        ("[Content_Types].xml", content_types.encode()), ("_rels/.rels", rels.encode()),
        ("xl/workbook.xml", workbook.encode()), ("xl/_rels/workbook.xml.rels", workbook_rels.encode()),
        ("xl/worksheets/sheet1.xml", sheet.encode()), ("xl/sharedStrings.xml", strings.encode()),
    ])


# ---------------------------------------------------------------------------------------------
# Submissions


def evaluation_tool_lines(employer: str = "Acme Roofing Ltd.", employees: int = 7, purpose: str = "Certification",
                          *, trade_name: str | None = None, wcb_account: str = "1234567",
                          industry_code: str = "42100", start: str = "2026-09-08", end: str = "2026-09-19",
                          submitted: str = "2026-10-02", assessor: str = "Jordan Lee",
                          assessor_trained: str = "2025-04-10", year: int = 2026) -> list[str]:
    """The first page of a filled-in SECOR evaluation tool, one line per item, with element scores."""
    trade = trade_name if trade_name is not None else employer.replace(" Ltd.", "").replace(" Inc.", "")
    lines = [
        "SECOR Evaluation Tool",
        f"Small Employer Certificate of Recognition (SECOR) - {year}",
        f"Employer legal name (as registered with WCB): {employer}",
        f"Trade name: {trade}",
        f"WCB account number: {wcb_account}",
        f"Industry code: {industry_code}",
        f"Number of employees: {employees}",
        f"Purpose of evaluation: {purpose}",
        f"Evaluation start date: {start}",
        f"Evaluation end date: {end}",
        f"Submission date: {submitted}",
        f"Assessor name: {assessor}",
        f"Assessor training date (Principles of Health and Safety Management): {assessor_trained}",
        "",
        "Element scores",
    ]
    scores = (92, 88, 90, 85, 94, 87, 83, 90)
    lines += [f"Element {n} - {name}: {score}%" for n, (name, score) in enumerate(zip(ALBERTA_8, scores, strict=True), start=1)]
    lines += [f"Overall score: {round(sum(scores) / len(scores))}%", "",
              f"Assessor signature: {assessor}    Date: {submitted}",
              f"Employer representative signature: Pat Morgan, Owner    Date: {submitted}"]
    return lines


def _document_lines(title: str, employer: str, element: int, element_name: str) -> list[str]:
    """A few plausible lines of body text for an element document."""
    return [
        title,
        employer,
        f"Element {element} - {element_name}",
        "Prepared by: Pat Morgan, Owner",
        "Reviewed with all workers at the monthly health and safety meeting.",
        "Hazards identified were assessed, controlled and followed up.",
        "Signed: Pat Morgan    Date: 2026-07-31",
    ]


def write_sample_submission(dest: Path, *, employer: str = "Acme Roofing Ltd.", employees: int = 7,
                            vocabulary: str = "alberta-8", wrapper: str | None = "Acme Roofing SECOR 2026",
                            docs_per_element: int = 3) -> Path:
    """Write a clean, well-organised submission under `dest` and return its root folder.

    Layout: [wrapper/] "SECOR Evaluation Tool 2026.pdf" and one "Element N - Name" folder per
    element, each with `docs_per_element` well-named PDFs and Word documents (a few KB each).
    """
    elements = VOCABULARIES.get(vocabulary)
    if elements is None:
        raise ValueError(f"unknown vocabulary {vocabulary!r}; known: {', '.join(VOCABULARIES)}")
    root = dest / wrapper if wrapper else dest
    root.mkdir(parents=True, exist_ok=True)
    (root / "SECOR Evaluation Tool 2026.pdf").write_bytes(
        minimal_pdf(evaluation_tool_lines(employer=employer, employees=employees)))
    for number, name in enumerate(elements, start=1):
        folder = root / f"Element {number} - {name}"
        folder.mkdir(exist_ok=True)
        names = ELEMENT_DOCUMENTS[number]
        for i in range(docs_per_element):
            # Past the prepared names, continue with dated monthly records of the element.
            doc = names[i] if i < len(names) else f"{name} Record - 2026-{(i % 12) + 1:02d}-{i // 12 + 1:02d}.pdf"
            lines = _document_lines(doc.rsplit(".", 1)[0], employer, number, name)
            data = minimal_docx(lines) if doc.endswith(".docx") else minimal_pdf(lines)
            (folder / doc).write_bytes(data)
    return root


def build_sample_zip(zip_path: Path, **kwargs) -> Path:
    """`write_sample_submission(**kwargs)` zipped (deflate, fixed timestamps, sorted); returns `zip_path`."""
    with tempfile.TemporaryDirectory(prefix="secor-sample-") as tmp:
        base = Path(tmp)
        write_sample_submission(base, **kwargs)
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=ZIP_DATE)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, path.read_bytes())
    return zip_path


__all__ = ["ALBERTA_8", "build_sample_zip", "evaluation_tool_lines", "minimal_docx", "minimal_pdf",
           "minimal_xlsx", "pdf_file", "pdf_string", "write_sample_submission"]
