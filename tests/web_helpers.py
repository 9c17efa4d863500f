"""A workbench over real data for the web tests: real emails taken by a real poll cycle into a
migrated database and storage, accounts created with the user commands' functions."""

from __future__ import annotations

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


def seed(tmp_path: Path, db_url: str, config: Config | None = None, demo: bool = False) -> Bench:
    """Two submissions taken by a real poll (`demo`: after the demo's emails), an analyst `ana`, a
    second analyst `ben`, an admin `ada`."""
    config = config or maildir_config(tmp_path, db_url)
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
