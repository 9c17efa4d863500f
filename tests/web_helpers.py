"""A workbench over real data for the web tests: real emails taken by a real poll cycle into a
migrated database and storage, accounts created with the user commands' functions."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from intake import users
from intake.config import Config
from intake.demo import demo_emails
from intake.samples import minimal_pdf
from intake.service import Services, open_services, poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import maildir_config

PASSWORD = "correct horse battery staple"
XSS_NAME = "<img src=x onerror=alert(1)>.pdf"
RTL_NAME = "invoice\u202efdp.exe.pdf"  # shows as "invoice.exe.pdf" reversed: a classic disguise
XSS_SUBJECT = "SECOR 2026 <script>alert('subject')</script> Hostile Ltd."
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2ab1f8a0000000049454e44ae426082")
HTML_DOC = b"<html><body><script>alert('html')</script><p id=injected-html>x</p></body></html>"
SVG_DOC = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert("svg")</script>'
           b'<text id="injected-svg">x</text></svg>')


BEACON = "http://127.0.0.1:9/beacon.png"  # nothing listens there; a browser that tried would show it
_W_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
         'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
         'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
         'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"')
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def hostile_docx(beacon: str = BEACON, padding: int = 0) -> bytes:
    """A Word document that tries what a document can: script and markup as text, a javascript:
    link, an image linked from `beacon`. `padding` bytes of spaces inflate its XML (a zip bomb)."""
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {_W_NS}><w:body>'
                '<w:p><w:r><w:t>Hazard assessment 2026</w:t></w:r></w:p>'
                "<w:p><w:r><w:t>&lt;script&gt;alert('docx')&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
                '</w:t></w:r></w:p>'
                '<w:p><w:hyperlink r:id="rIdJs"><w:r><w:t>click me</w:t></w:r></w:hyperlink></w:p>'
                '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="9525" cy="9525"/><wp:docPr id="1" name="b"/>'
                '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
                '<pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="b"/><pic:cNvPicPr/></pic:nvPicPr>'
                '<pic:blipFill><a:blip r:link="rIdImg"/></pic:blipFill><pic:spPr/></pic:pic></a:graphicData>'
                '</a:graphic></wp:inline></w:drawing></w:r></w:p>'
                + (f"<w:p><w:r><w:t>{' ' * padding}</w:t></w:r></w:p>" if padding else "")
                + "</w:body></w:document>")
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
        'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
        "/></Types>",
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships"><Relationship Id="rId1" Type="{_REL}/officeDocument" Target="word/document.xml"/>'
        "</Relationships>",
        "word/_rels/document.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        f'openxmlformats.org/package/2006/relationships"><Relationship Id="rIdJs" Type="{_REL}/hyperlink" '
        f'Target="javascript:alert(3)" TargetMode="External"/><Relationship Id="rIdImg" Type="{_REL}/image" '
        f'Target="{beacon}" TargetMode="External"/></Relationships>',
        "word/document.xml": document,
    }
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=mailfactory.ZIP_DATE), text, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def hostile_xlsx(rows: int = 3) -> bytes:
    """An Excel workbook with script text, a javascript: hyperlink and formula, and `rows` rows."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Inspections <b>2026<b>"
    sheet.append(["Site", "Inspected on", "Note"])
    sheet["C1"].hyperlink = "javascript:alert(4)"
    sheet.append(["Yard", "2026-03-01", "<script>alert('xlsx')</script>"])
    sheet.append(["Shop", "2026-03-08", '=HYPERLINK("javascript:alert(5)","open")'])
    for n in range(3, rows):
        sheet.append([f"Site {n}", "2026-04-01", f"row {n + 1}"])
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


SCRIPTED_PDF_NAME = "scripted.pdf"


def scripted_pdf() -> bytes:
    """A PDF whose opening runs JavaScript (an alert), as a hostile submission would carry."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(BytesIO(minimal_pdf(["Inspection checklist"]))))
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('pdf js');")})
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def hostile_zip() -> bytes:
    """A submission whose names and contents are attacks on the workbench."""
    pdf = minimal_pdf(["Health and safety policy"])
    files = {
        "SECOR Evaluation Tool 2026.pdf": minimal_pdf(["SECOR Evaluation Tool", "Number of employees: 4"]),
        f"Element 1 - Management Leadership/{XSS_NAME}": pdf,
        f"Element 1 - Management Leadership/{RTL_NAME}": pdf,
        "Element 2 - Hazard Assessment/site photo.png": PNG,
        "Element 2 - Hazard Assessment/page.html": HTML_DOC,
        "Element 3 - Hazard Control/drawing.svg": SVG_DOC,
        "Element 4 - Inspections/notes.xml": b"<?xml version='1.0'?><x><script>alert(1)</script></x>",
        "Element 2 - Hazard Assessment/hazards.docx": hostile_docx(),
        "Element 4 - Inspections/inspections.xlsx": hostile_xlsx(),
        f"Element 4 - Inspections/{SCRIPTED_PDF_NAME}": scripted_pdf(),
    }
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=mailfactory.ZIP_DATE), data)
    return out.getvalue()


@dataclass
class Bench:
    """The data a web test works on."""

    config: Config
    services: Services
    clean: str  # tracking number of a clean submission
    hostile: str  # tracking number of the hostile one
    clean_message_id: str


def seed(tmp_path: Path, db_url: str, config: Config | None = None, demo: bool = False,
         undo_seconds: int = 0) -> Bench:
    """Two submissions taken by a real poll (`demo`: after the demo's emails), an analyst `ana`, a
    second analyst `ben`, an admin `ada`. A decision's email waits `undo_seconds` (0: the tests not
    about Undo decision see it sent by the next sending run)."""
    config = config or maildir_config(tmp_path, db_url)
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, undo_seconds=undo_seconds))
    services = open_services(config, upgrade=True)
    clean_id = "<clean.1@mail.acme-roofing.ca>"
    with services.mail_source() as source:
        for _, raw in demo_emails(tmp_path / "demo") if demo else []:
            source.append(config.mailbox.folder, raw)
        source.append(config.mailbox.folder, mailfactory.submission_with_zip(message_id=clean_id))
        source.append(config.mailbox.folder, mailfactory.submission_with_zip(
            hostile_zip(), filename="Hostile SECOR.zip", sender="Mallory <mallory@hostile.example>",
            subject=XSS_SUBJECT, message_id="<hostile.1@hostile.example>"))
    poll_cycle(services)
    with services.sessions.begin() as session:
        users.add_user(session, "ana", "analyst", PASSWORD)
        users.add_user(session, "ben", "analyst", PASSWORD)
        users.add_user(session, "ada", "admin", PASSWORD)
    from intake.cases.queries import submission_list

    with services.sessions() as session:
        rows = submission_list(session)
    numbers = {row["message_id"]: row["tracking_number"] for row in rows}
    return Bench(config, services, numbers[clean_id], numbers["<hostile.1@hostile.example>"], clean_id)


def sign_in(client: Any, username: str = "ana", password: str = PASSWORD, headers: dict[str, str] | None = None) -> Any:
    """Sign `client` (a Starlette TestClient) in through the form; returns the final response."""
    page = client.get("/signin")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
    return client.post("/signin", data={"username": username, "password": password, "signin_token": token,
                                        "next": "/"}, headers=headers)


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    start = html.index(f'action="{action}"')
    form = html[start:html.index("</form>", start)]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
