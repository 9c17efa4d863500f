"""The QA workbench over HTTP (Starlette's TestClient), on SQLite and PostgreSQL, over real data:
real emails taken by a real poll cycle. Each security test fails when its defence is removed."""

from __future__ import annotations

import email
import email.header
import html
import re
import socket
import sqlite3
import time
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from intake import users
from intake.cases.queries import find_case, show_document
from intake.clock import utcnow
from intake.db import AuditEntry, Case, Decision, Reply, SignInAttempt, StoredDocument, WebSession
from intake.samples import minimal_pdf
from intake.service import poll_cycle, send_replies
from intake.web.app import create_app
from tests import mailfactory
from tests.pipeline_helpers import outbox_messages
from tests.web_helpers import (
    PASSWORD,
    RTL_NAME,
    SCRIPTED_PDF_NAME,
    XSS_NAME,
    Bench,
    form_fields,
    seed,
    sign_in,
)


@pytest.fixture
def bench(tmp_path: Path, db_url: str):
    data = seed(tmp_path, db_url)
    yield data
    data.services.close()


@pytest.fixture
def client(bench: Bench):
    with TestClient(create_app(bench.config, bench.services), follow_redirects=True) as test_client:
        yield test_client


def _signed_in(bench: Bench, username: str = "ana") -> TestClient:
    test_client = TestClient(create_app(bench.config, bench.services), follow_redirects=True)
    assert sign_in(test_client, username).url.path == "/"
    return test_client


def _count(bench: Bench, model, *where) -> int:
    with bench.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _decide(client: TestClient, tracking: str, **fields) -> tuple[dict[str, str], object]:
    page = client.get(f"/cases/{tracking}")
    hidden = form_fields(page.text, f"/cases/{tracking}/decision")
    response = client.post(f"/cases/{tracking}/decision", data=hidden | fields)
    return hidden, response


# -- sign-in, sessions, authorization --------------------------------------------------------------

def test_anonymous_requests_get_the_sign_in_page_or_401_and_change_nothing(bench: Bench, client: TestClient) -> None:
    page = client.get("/")
    assert page.url.path == "/signin" and "Username" in page.text and "Sign in" in page.text
    for path in ("/cases", f"/cases/{bench.clean}", "/files/1", "/stats", "/messages/1.eml"):
        assert client.get(path, follow_redirects=False).status_code == 303, path
        assert client.get(path, headers={"Accept": "application/json"}).status_code == 401, path
    before = _count(bench, Reply)
    response = client.post(f"/cases/{bench.clean}/decision", data={"decision": "return", "note": "x"})
    assert response.status_code == 403
    assert _count(bench, Decision) == 0 and _count(bench, Reply) == before


def test_sign_in_with_a_wrong_password_fails_and_a_new_session_id_is_issued_each_time(bench: Bench,
                                                                                      client: TestClient) -> None:
    assert sign_in(client, "ana", "not the password at all").status_code == 401
    assert client.cookies.get("secor_session") is None
    sign_in(client)
    first = client.cookies.get("secor_session")
    sign_in(client)  # the same browser signs in again: the old id must not live on (session fixation)
    second = client.cookies.get("secor_session")
    assert first and second and first != second
    other = TestClient(create_app(bench.config, bench.services))
    other.cookies.set("secor_session", first)
    assert other.get("/", follow_redirects=False).status_code == 303
    assert _count(bench, WebSession) == 1


def test_sign_out_ends_the_session_on_the_server(bench: Bench, client: TestClient) -> None:
    sign_in(client)
    token = client.cookies.get("secor_session")
    page = client.get("/")
    client.post("/signout", data={"csrf_token": form_fields(page.text, "/signout")["csrf_token"]})
    replay = TestClient(create_app(bench.config, bench.services))
    replay.cookies.set("secor_session", token)
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_disabled_users_are_signed_out_and_cannot_sign_in(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions.begin() as session:
        users.disable_user(session, "ana")
    assert ana.get("/", follow_redirects=False).status_code == 303
    assert sign_in(ana).status_code == 401


def test_idle_sessions_expire(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions.begin() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    assert ana.get("/", follow_redirects=False).status_code == 303
    assert _count(bench, WebSession) == 0


def _age_failed_sign_ins(bench: Bench, seconds: float) -> None:
    """Move every recorded failure `seconds` into the past (the throttle's clock is the rows' times)."""
    with bench.services.sessions.begin() as session:
        for attempt in session.scalars(select(SignInAttempt)):
            attempt.at -= timedelta(seconds=seconds)


def test_failed_sign_ins_slow_the_guesser_down_but_never_lock_out_a_browser_that_signed_in_before(
        bench: Bench) -> None:
    trusted = _signed_in(bench, "ben")  # ben's own browser, signed in before the attack
    trusted.post("/signout", data={"csrf_token": _csrf(trusted)})
    attacker = TestClient(create_app(bench.config, bench.services), follow_redirects=True)
    for _ in range(3):  # the free failures of a name from one address
        assert sign_in(attacker, "ben", "wrong password guess").status_code == 401
    assert sign_in(attacker, "ben", "wrong password guess").status_code == 401  # the 4th is checked too
    with bench.services.sessions.begin() as session:  # four more, as fast as a script (a slow test run
        for _ in range(4):                             # must not outlast the first waits of 1 s, 2 s...)
            users.record_failed_sign_in(session, "ben", "testclient")
    assert sign_in(attacker, "ben", PASSWORD).status_code == 429  # 8 failures: the next waits 16 s, right or not
    assert attacker.cookies.get("secor_session") is None
    assert sign_in(attacker, "ana").url.path == "/"  # another name from the same address is not delayed
    assert sign_in(trusted, "ben").url.path == "/"  # ben's browser is not delayed by the guesser's failures
    _age_failed_sign_ins(bench, 17)  # a delay, never a lock
    attacker.cookies.delete("secor_session")
    assert sign_in(attacker, "ben", "wrong password guess").status_code == 401
    _age_failed_sign_ins(bench, 20)  # the wait doubled to 32 s: 20 s later it still waits
    assert sign_in(attacker, "ben", PASSWORD).status_code == 429
    # brute force stays slow: twenty more failures make the wait the configured maximum
    with bench.services.sessions.begin() as session:
        for _ in range(20):
            users.record_failed_sign_in(session, "ben", "testclient")
    _age_failed_sign_ins(bench, 120)
    assert sign_in(attacker, "ben", PASSWORD).status_code == 429
    _age_failed_sign_ins(bench, bench.config.web.signin_max_delay_seconds)
    assert sign_in(attacker, "ben", PASSWORD).url.path == "/"


def test_guesses_spread_over_many_addresses_slow_down_per_name_and_a_forged_device_cookie_is_no_help(
        bench: Bench) -> None:
    trusted = _signed_in(bench, "ben")
    trusted.post("/signout", data={"csrf_token": _csrf(trusted)})
    for i in range(11):  # ten free failures per name from everywhere, then waits
        botnet = TestClient(create_app(bench.config, bench.services), client=(f"192.0.2.{i}", 40000))
        assert sign_in(botnet, "ben", "wrong password guess").status_code == 401, i
    with bench.services.sessions.begin() as session:  # five more, quickly: the next try waits 32 s
        for i in range(5):
            users.record_failed_sign_in(session, "ben", f"198.51.100.{i}")
    fresh = TestClient(create_app(bench.config, bench.services), client=("192.0.2.200", 40000))
    assert sign_in(fresh, "ben", PASSWORD).status_code == 429
    device = trusted.cookies.get("secor_device")
    issued, nonce, mac = device.split(".")
    fresh.cookies.set("secor_device", f"{issued}.{nonce}.{'0' * len(mac)}")
    assert sign_in(fresh, "ben", PASSWORD).status_code == 429
    fresh.cookies.set("secor_device", device)  # not ana's: a device cookie is for the name it signed in
    assert sign_in(fresh, "ana", PASSWORD).url.path == "/"
    assert sign_in(trusted, "ben").url.path == "/"


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(bench: Bench) -> None:
    from dataclasses import replace

    config = replace(bench.config, web=replace(bench.config.web, trusted_proxies=["10.0.0.0/24"]))
    proxy = TestClient(create_app(config, bench.services), client=("10.0.0.7", 40000))
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # the client wrote the first, the proxy the last
    for _ in range(4):
        assert sign_in(proxy, "ben", "wrong password guess", spoofed).status_code == 401
    # the guesser at 203.0.113.9 now waits; a colleague behind the same proxy does not
    assert sign_in(proxy, "ben", PASSWORD, spoofed).status_code == 429
    colleague = {"X-Forwarded-For": "203.0.113.10"}
    assert sign_in(proxy, "ben", PASSWORD, colleague).url.path == "/"
    direct = TestClient(create_app(config, bench.services), client=("192.0.2.50", 40000))
    for _ in range(4):  # not from a trusted proxy: its header is the client's own word, ignored
        sign_in(direct, "ana", "wrong password guess", {"X-Forwarded-For": f"198.51.100.{_}"})
    with bench.services.sessions() as session:
        sources = set(session.scalars(select(SignInAttempt.address)))
    assert sources == {"203.0.113.9", "192.0.2.50"}


def test_sign_in_returns_only_to_a_path_on_this_site(bench: Bench, client: TestClient) -> None:
    for target, landing in ((f"/cases/{bench.clean}", f"/cases/{bench.clean}"), ("//evil.example/x", "/"),
                            ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        client.cookies.clear()
        page = client.get("/signin", params={"next": target})
        token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)
        response = client.post("/signin", data={"username": "ana", "password": PASSWORD, "signin_token": token,
                                                "next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == landing, target


def test_sign_in_form_needs_its_token_and_a_same_site_request(bench: Bench, client: TestClient) -> None:
    client.get("/signin")
    data = {"username": "ana", "password": PASSWORD, "signin_token": "forged"}
    assert client.post("/signin", data=data).status_code == 403
    token = re.search(r'name="signin_token" value="([^"]+)"', client.get("/signin").text).group(1)
    response = client.post("/signin", data=data | {"signin_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and client.cookies.get("secor_session") is None


def test_every_post_needs_the_csrf_token_and_a_same_site_request(bench: Bench) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.clean}")
    hidden = form_fields(page.text, f"/cases/{bench.clean}/decision")
    fields = hidden | {"decision": "return", "note": "Please resend."}
    replies = _count(bench, Reply)
    for action, data in ((f"/cases/{bench.clean}/decision", fields), (f"/cases/{bench.clean}/assign", {"assignee": "me"}),
                         (f"/cases/{bench.clean}/notes", {"text": "x"}), ("/signout", {})):
        without = {k: v for k, v in data.items() if k != "csrf_token"}
        assert ana.post(action, data=without).status_code == 403, action
        assert ana.post(action, data=without | {"csrf_token": "wrong"}).status_code == 403, action
        good = without | {"csrf_token": hidden["csrf_token"]}
        assert ana.post(action, data=good, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403, action
        assert ana.post(action, data=good, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403, action
    assert _count(bench, Decision) == 0 and _count(bench, Reply) == replies
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.assignee_id is None and case.qa_state == "new"
    assert ana.get("/").url.path == "/"  # still signed in: signout was refused too


# -- the queue and the case page -----------------------------------------------------------------

def test_queue_lists_cases_with_state_verdict_and_filters_as_urls(bench: Bench) -> None:
    ana = _signed_in(bench)
    for path in ("/", "/cases"):
        page = ana.get(path)
        assert f">{bench.clean}</a>" in page.text and f">{bench.hostile}</a>" in page.text
        assert "New" in page.text and "needs_review" in page.text or "accepted" in page.text
    only = ana.get("/?q=site+photo")  # a file name
    assert bench.hostile in only.text and bench.clean not in only.text
    assert bench.clean in ana.get("/?q=acme-roofing").text and bench.hostile not in ana.get("/?q=acme-roofing").text
    assert "No cases match" in ana.get("/?state=accepted").text
    assert "No cases match" in ana.get("/?q=%25").text  # LIKE wildcards are searched for, not expanded
    ana.post(f"/cases/{bench.clean}/assign", data={"assignee": "me", "csrf_token": _csrf(ana)})
    mine = ana.get("/?assignee=ana")
    assert bench.clean in mine.text and bench.hostile not in mine.text
    assert bench.hostile in ana.get("/?assignee=none").text and bench.clean not in ana.get("/?assignee=none").text
    assert bench.clean in ana.get("/?state=in_review").text


def test_case_pages_link_the_previous_and_next_case_in_the_queues_order(bench: Bench) -> None:
    ana = _signed_in(bench)
    queue = ana.get("/").text
    first, second = sorted((bench.clean, bench.hostile), key=queue.index)
    page = ana.get(f"/cases/{first}").text
    assert 'id="prev-case"' not in page and f'id="next-case" href="/cases/{second}?' in page
    page = ana.get(f"/cases/{second}").text
    assert f'id="prev-case" href="/cases/{first}?' in page and 'id="next-case"' not in page
    alone = ana.get(f"/cases/{bench.clean}?q=acme-roofing").text  # the filter the queue was read with
    assert 'id="prev-case"' not in alone and 'id="next-case"' not in alone


def _csrf(test_client: TestClient) -> str:
    return form_fields(test_client.get("/").text, "/signout")["csrf_token"]


def test_case_page_lists_every_document_by_path_linking_to_its_bytes(bench: Bench) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.clean}")
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        documents = case.versions[-1].documents
        folder = bench.services.storage.version_dir(case.tracking_number, 1) / "files"
        tool = case.versions[-1].report["summary"]["evaluation_tool"]
    assert documents
    for document in documents:
        assert f'<a class="file" href="/files/{document.id}"' in page.text
        assert f">{document.path}</a>" in page.text
        served = ana.get(f"/files/{document.id}", params={"download": "1"})
        assert served.status_code == 200 and served.content == (folder / document.path).read_bytes()
    assert page.text.index(tool) < page.text.index("Element 1 - ")  # the evaluation tool first
    assert "Record decision" in page.text and "Note to submitter" in page.text


def test_case_page_shows_the_tools_facts_with_where_each_was_read_and_the_company(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions() as session:
        summary = find_case(session, bench.clean).versions[-1].report["summary"]
    facts = ana.get(f"/cases/{bench.clean}").text
    section = facts[facts.index('<section id="tool-facts">'):facts.index("</section>", facts.index('id="tool-facts"'))]
    assert summary["tool"]["wcb_account"] and summary["tool"]["legal_name"]
    for key in ("legal_name", "wcb_account", "employees"):
        value, source = str(summary["tool"][key]), summary["tool_sources"][key]
        assert f"<td>{html.escape(value)}</td>" in section
        assert f"{html.escape(source['document'])}, {html.escape(source['where'])}" in section
    assert f"WCB account <strong>{summary['tool']['wcb_account']}</strong>" in section  # the company record
    assert f"<strong>{bench.clean}</strong> (this case)" in section


def test_pdfs_and_images_are_inline_everything_else_is_a_download(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions() as session:
        docs = {d.path.rsplit("/", 1)[-1]: d.id for d in find_case(session, bench.hostile).versions[-1].documents}
    pdf = ana.get(f"/files/{docs['SECOR Evaluation Tool 2026.pdf']}")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["content-disposition"].startswith("inline")
    png = ana.get(f"/files/{docs['site photo.png']}")
    assert png.headers["content-type"] == "image/png" and "sandbox" in png.headers["content-security-policy"]
    for name in ("page.html", "drawing.svg", "notes.xml"):
        served = ana.get(f"/files/{docs[name]}")
        assert served.headers["content-type"] == "application/octet-stream", name
        assert served.headers["content-disposition"].startswith("attachment;"), name
        assert "sandbox" in served.headers["content-security-policy"]
    forced = ana.get(f"/files/{docs['SECOR Evaluation Tool 2026.pdf']}?download=1")
    assert forced.headers["content-disposition"].startswith("attachment;")


def test_content_disposition_is_rfc_6266_with_hostile_names_neutralised(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions() as session:
        docs = {d.path.rsplit("/", 1)[-1]: d.id for d in find_case(session, bench.hostile).versions[-1].documents}
    rtl = ana.get(f"/files/{docs[RTL_NAME]}").headers["content-disposition"]
    assert "\u202e" not in rtl and "%E2%80%AE" not in rtl  # the bidi override is dropped
    assert rtl == "inline; filename=\"invoicefdp.exe.pdf\"; filename*=UTF-8''invoicefdp.exe.pdf"
    xss = ana.get(f"/files/{docs[XSS_NAME]}").headers["content-disposition"]
    assert xss.startswith('inline; filename="<img src=x onerror=alert(1)>.pdf"; filename*=UTF-8\'\'%3Cimg%20src')
    assert ana.get(f"/files/{docs[XSS_NAME]}").headers["content-disposition"].count('"') == 2


def test_hostile_names_and_subjects_are_escaped_everywhere(bench: Bench) -> None:
    ana = _signed_in(bench)
    for path in ("/", f"/cases/{bench.hostile}", f"/?q={bench.hostile}"):
        html = ana.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert" in html
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in ana.get(f"/cases/{bench.hostile}").text


def test_bidi_controls_are_shown_as_codes_in_pages_reports_and_emails(bench: Bench) -> None:
    disguised = "photo\u202egpj.html"  # reads "photolmth.jpg" when the override is obeyed
    files = {"SECOR Evaluation Tool 2026.pdf": minimal_pdf(["SECOR Evaluation Tool", "Number of employees: 4"]),
             f"Element 1 - Management Leadership/{disguised}": b"<html><body>x</body></html>",
             "Extra \u202eredlof/notes.pdf": minimal_pdf(["notes"])}
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with bench.services.mail_source() as source:
        source.append(bench.config.mailbox.folder, mailfactory.submission_with_zip(
            archive.getvalue(), sender="=?utf-8?q?Eve_=E2=80=AEnomis?= <eve@example.org>",
            subject="=?utf-8?q?SECOR_2026_=E2=80=AEdtL_evE?=", message_id="<bidi.1@example.org>"))
    poll_cycle(bench.services)
    send_replies(bench.services)
    with bench.services.sessions() as session:
        case = session.scalar(select(Case).where(Case.submitter == "eve@example.org"))
        tracking = case.tracking_number
    ana = _signed_in(bench)
    pages = [ana.get(f"/cases/{tracking}").text, ana.get("/", params={"q": "Eve"}).text]
    report = (bench.services.storage.version_dir(tracking, 1) / "report.txt").read_text()
    sent = [m for m in outbox_messages(bench.config.resolve_path(bench.config.outbound.path))
            if tracking in str(m["Subject"])]
    assert sent
    emails = [str(email.header.make_header(email.header.decode_header(m["Subject"]))) + str(m["To"]) +
              "".join(part.get_payload(decode=True).decode() for part in m.walk() if not part.is_multipart())
              for m in sent]
    for i, text_shown in enumerate([*pages, report, *emails]):
        assert "\u202e" not in text_shown, i
    assert "photo[U+202E]gpj.html" in pages[0] and "[U+202E]dtL evE" in pages[0] + pages[1]
    assert "Extra [U+202E]redlof" in report
    assert any("[U+202E]dtL evE" in e for e in emails) and any("Eve [U+202E]nomis" in e for e in emails)


def test_a_pdf_is_previewed_without_its_scripts_and_downloaded_as_it_came(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions() as session:
        document = session.scalar(select(StoredDocument).where(StoredDocument.path.endswith(SCRIPTED_PDF_NAME)))
        folder = bench.services.storage.version_dir(bench.hostile, 1) / "files"
    original = (folder / document.path).read_bytes()
    assert b"/OpenAction" in original and b"/JavaScript" in original
    shown = ana.get(f"/files/{document.id}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/pdf"
    assert b"/OpenAction" not in shown.content and b"/JavaScript" not in shown.content and b"/JS" not in shown.content
    assert len(PdfReader(BytesIO(shown.content)).pages) == len(PdfReader(BytesIO(original)).pages)
    downloaded = ana.get(f"/files/{document.id}", params={"download": "1"})
    assert downloaded.content == original and downloaded.headers["content-disposition"].startswith("attachment")
    (folder / document.path).write_bytes(b"%PDF-1.4 not really a pdf")  # unreadable: no preview, a download
    refused = ana.get(f"/files/{document.id}")
    assert refused.status_code == 415 and refused.headers["content-type"].startswith("text/html")


def test_files_are_served_by_id_only_and_traversal_is_404(bench: Bench) -> None:
    ana = _signed_in(bench)
    for path in ("/files/../../etc/passwd", "/files/..%2f..%2fetc%2fpasswd", "/files/abc", "/files/999999",
                 "/cases/..%2f..%2fetc", "/static/../../intake/db.py", "/messages/999.eml"):
        assert ana.get(path).status_code == 404, path
    with bench.services.sessions.begin() as session:  # a row whose path would escape the case folder
        version = find_case(session, bench.clean).versions[-1]
        evil = StoredDocument(version_id=version.id, path="../" * 40 + "etc/passwd", size=1, sha256="0" * 64,
                              mime="text/plain", element=None)
        folder = bench.services.storage.version_dir(bench.clean, version.number) / "files"
        (folder / "linked.pdf").symlink_to("/etc/passwd")  # a link planted in the case folder
        linked = StoredDocument(version_id=version.id, path="linked.pdf", size=1, sha256="1" * 64,
                                mime="application/pdf", element=None)
        session.add_all([evil, linked])
        session.flush()
        ids = (evil.id, linked.id)
    for document_id in ids:
        assert ana.get(f"/files/{document_id}").status_code == 404


def _assert_security_headers(response, what: object) -> None:
    assert response.headers["x-content-type-options"] == "nosniff", what
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp, what
    assert "script-src 'self'" in csp or "script-src" not in csp, what
    framing = "SAMEORIGIN" if "frame-ancestors 'self'" in csp else "DENY"
    assert response.headers["x-frame-options"] == framing, what
    assert "camera=()" in response.headers["permissions-policy"], what


def test_security_headers_are_on_every_response(bench: Bench, client: TestClient) -> None:
    ana = _signed_in(bench)
    for test_client, path in ((client, "/signin"), (client, "/nowhere"), (ana, "/"), (ana, f"/cases/{bench.clean}"),
                              (ana, "/static/app.css"), (ana, "/files/1"), (ana, "/stats"), (ana, "/files/999")):
        _assert_security_headers(test_client.get(path), path)


def test_bad_input_gets_a_4xx_never_a_500_and_every_refusal_carries_the_security_headers(bench: Bench) -> None:
    anonymous = TestClient(create_app(bench.config, bench.services), follow_redirects=False)
    anonymous.get("/signin")
    refusals = [anonymous.post("/signin", data={"username": "ana", "password": PASSWORD, "signin_token": "é"}),
                anonymous.post(f"/cases/{bench.clean}/notes", data={"text": "x", "csrf_token": "é"}),
                anonymous.post("/signin", content=b"--x\r\nbroken", headers={
                    "content-type": "multipart/form-data; boundary=x"}),
                anonymous.put("/signin")]
    ana = _signed_in(bench)
    ana.follow_redirects = False
    refusals += [ana.post(f"/cases/{bench.clean}/notes", data={"text": "x", "csrf_token": "é"}),
                 ana.get("/files/" + "9" * 30), ana.get("/files/18446744073709551616"),
                 ana.get("/messages/" + "9" * 30 + ".eml"), ana.get("/messages/9223372036854775808.eml")]
    for i, response in enumerate(refusals):
        assert 400 <= response.status_code < 500, (i, response.status_code)
        _assert_security_headers(response, i)
    odd_numbers = ("²", "9" * 5000, "-1", "1e3", "")
    for field in ("finding", "reason", "sequence"):
        for value in odd_numbers:
            page = ana.get(f"/cases/{bench.clean}")
            hidden = form_fields(page.text, f"/cases/{bench.clean}/decision")
            response = ana.post(f"/cases/{bench.clean}/decision", data=hidden | {
                "decision": "return", "note": "odd numbers", field: value})
            assert response.status_code == 303, (field, value)
            shown = ana.get(response.headers["location"])
            assert shown.status_code == 200 and "Exceeds" not in shown.text and "int()" not in shown.text


def test_an_unexpected_error_is_a_plain_500_with_the_headers_and_no_traceback(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions.begin() as session:  # a database that lost a table: a real fault
        session.execute(text("DROP TABLE case_note"))
    response = ana.get(f"/cases/{bench.clean}")
    assert response.status_code == 500 and "Traceback" not in response.text and "case_note" not in response.text
    _assert_security_headers(response, "500")


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(bench: Bench) -> None:
    from tests.servers.browser import LiveServer

    def send_and_answer(port: int, head: bytes, body_chunks) -> tuple[int, bytes]:
        """Send `head` and then chunks until the server answers; how many body bytes went, and the answer."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(head)
            sent = 0
            conn.setblocking(False)
            answer = b""
            for chunk in body_chunks:
                try:
                    answer += conn.recv(65536)
                except BlockingIOError:
                    pass
                if answer:
                    break
                try:
                    conn.sendall(chunk)
                except (BlockingIOError, ConnectionError):
                    break
                sent += len(chunk)
            conn.settimeout(10)
            try:
                while b"\r\n\r\n" not in answer:
                    more = conn.recv(65536)
                    if not more:
                        break
                    answer += more
            except ConnectionError:
                pass
            return sent, answer

    limit = bench.config.web.max_request_bytes
    with LiveServer(create_app(bench.config, bench.services)) as server:
        head = (b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100000000\r\n\r\n")
        sent, answer = send_and_answer(server.port, head, [])
        assert answer.startswith(b"HTTP/1.1 413") and sent == 0  # refused from the header alone
        assert b"x-frame-options: DENY" in answer.lower().replace(b"deny", b"DENY")
        chunk = b"a=" + b"x" * 65534
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        head = (b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        sent, answer = send_and_answer(server.port, head, (framed for _ in range(100_000_000 // len(chunk))))
        assert answer.startswith(b"HTTP/1.1 413")
        assert sent < 20 * limit  # stopped near the limit (socket buffers hold some), not after 100 MB
        small = TestClient(create_app(bench.config, bench.services))
        assert small.post("/signin", data={"username": "x" * 1000}).status_code == 403  # a form still works


def test_every_route_needs_authorization_and_roles_limit_assignment(bench: Bench) -> None:
    ana, ada = _signed_in(bench, "ana"), _signed_in(bench, "ada")
    response = ana.post(f"/cases/{bench.clean}/assign", data={"assignee": "ben", "csrf_token": _csrf(ana)})
    assert response.status_code == 403
    ana.post(f"/cases/{bench.clean}/assign", data={"assignee": "me", "csrf_token": _csrf(ana)})
    ben = _signed_in(bench, "ben")
    assert ben.post(f"/cases/{bench.clean}/assign", data={"assignee": "me", "csrf_token": _csrf(ben)}).status_code == 403
    ada.post(f"/cases/{bench.clean}/assign", data={"assignee": "ben", "csrf_token": _csrf(ada)})
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.assignee.username == "ben" and case.qa_state == "in_review"
        actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.submission_id == case.id))]
    assert actions.count("assign") == 2 and actions[-1] == "view"  # each assignment shows the case again


# -- decisions -----------------------------------------------------------------------------------

def test_return_sends_one_threaded_email_even_when_sent_twice_or_by_two_analysts(bench: Bench) -> None:
    ana, ben = _signed_in(bench, "ana"), _signed_in(bench, "ben")
    stale = form_fields(ben.get(f"/cases/{bench.clean}").text, f"/cases/{bench.clean}/decision")
    before = _count(bench, Reply)
    hidden, first = _decide(ana, bench.clean, decision="return", note="The evaluation tool is not signed.",
                            reason="0")
    assert "Decision recorded" in first.text
    again = ana.post(f"/cases/{bench.clean}/decision", data=hidden | {"decision": "return", "note": "again"})
    assert "already recorded" in again.text
    other = ben.post(f"/cases/{bench.clean}/decision", data=stale | {"decision": "accept"})
    assert "meanwhile" in other.text and "nothing was sent" in other.text
    assert _count(bench, Decision) == 1 and _count(bench, Reply) == before + 1
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        document = show_document(session, case)
        reply = session.scalar(select(Reply).where(Reply.submission_id == case.id).order_by(Reply.id.desc()))
    assert document["qa"]["state"] == "returned" and document["qa"]["decision"] == "return"
    assert document["qa"]["decided_by"] == "ana" and document["qa"]["note"] == "The evaluation tool is not signed."
    assert document["verdict"] == case.verdict and case.verdict in ("accepted", "needs_review")  # triage kept
    sent = email.message_from_bytes(bytes(reply.raw))
    assert f"[{bench.clean}]" in sent["Subject"] and sent["In-Reply-To"] == bench.clean_message_id
    body = sent.get_payload(decode=True).decode()
    assert "The evaluation tool is not signed." in body and "Missing documentation" in body
    send_replies(bench.services)  # the daemon's own reply job delivers it to the pickup folder
    delivered = [m for m in outbox_messages(bench.config.resolve_path(bench.config.outbound.path))
                 if m["Message-ID"] == sent["Message-ID"]]
    assert len(delivered) == 1


def test_messages_come_from_the_session_never_the_url_and_another_cases_form_key_is_refused(bench: Bench) -> None:
    ana = _signed_in(bench)
    planted = ana.get(f"/cases/{bench.clean}", params={"error": "Call 555-0100 now", "notice": "Password expired"})
    assert "555-0100" not in planted.text and "Password expired" not in planted.text
    hidden, recorded = _decide(ana, bench.clean, decision="return", note="Element 6 is missing.")
    assert "Decision recorded." in recorded.text and "notice=" not in str(recorded.url)
    assert "Decision recorded." not in ana.get(f"/cases/{bench.clean}").text  # shown once
    other = form_fields(ana.get(f"/cases/{bench.hostile}").text, f"/cases/{bench.hostile}/decision")
    replayed = ana.post(f"/cases/{bench.hostile}/decision", data=other | {
        "idempotency_key": hidden["idempotency_key"], "decision": "return", "note": "x"})
    assert "belongs to another case" in replayed.text and "already recorded" not in replayed.text
    with bench.services.sessions() as session:
        hostile = find_case(session, bench.hostile)
        assert session.scalar(select(func.count(Decision.id)).where(Decision.submission_id == hostile.id)) == 0


def test_return_and_request_need_a_note_or_reason_and_accept_sends_nothing(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert not [f for f in case.versions[-1].findings if f.severity in ("reject", "warn")]
    _, response = _decide(ana, bench.clean, decision="return", note="  ")
    assert "need a note" in response.text and _count(bench, Decision) == 0
    _, response = _decide(ana, bench.clean, decision="request_documents", note="More please", due="")
    assert "element and a due date" in response.text and _count(bench, Decision) == 0
    replies = _count(bench, Reply)
    _decide(ana, bench.clean, decision="accept")
    assert _count(bench, Decision) == 1 and _count(bench, Reply) == replies
    _, response = _decide(ana, bench.clean, decision="request_documents", note="",
                          element="Element 6 (Element 6 - Emergency Response)", due="2026-12-24")
    assert _count(bench, Reply) == replies + 1
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.qa_state == "awaiting_documents"
        body = email.message_from_bytes(bytes(session.scalar(select(Reply.raw).order_by(Reply.id.desc()).limit(1))))
    text_body = body.get_payload(decode=True).decode()
    assert "Element 6" in text_body and "2026-12-24" in text_body


def test_findings_are_pre_ticked_reasons_and_grouped_by_element(bench: Bench) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.hostile}").text
    with bench.services.sessions() as session:
        findings = [f for f in find_case(session, bench.hostile).versions[-1].findings
                    if f.severity in ("reject", "warn")]
    assert findings
    for f in findings:
        assert f'name="finding" value="{f.id}" checked' in page
    assert "Whole submission" in page or "<h3>Element" in page


def test_a_submitters_new_version_moves_the_case_to_resubmitted_with_a_comparison(bench: Bench) -> None:
    ana = _signed_in(bench)
    _decide(ana, bench.clean, decision="return", note="Add the emergency drill records.")
    changed = mailfactory.tiny_zip({"SECOR Evaluation Tool 2026.pdf": b"%PDF-1.4\n% v2\n%%EOF\n",
                                    "Element 6 - Emergency Response/Drill 2026-05.pdf": b"%PDF-1.4\n%%EOF\n"})
    with bench.services.mail_source() as source:
        source.append(bench.config.mailbox.folder, mailfactory.reply_to_case(bench.clean, with_zip=True,
                                                                             zip_bytes=changed))
    poll_cycle(bench.services)
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.qa_state == "resubmitted" and len(case.versions) == 2
    queue = ana.get("/").text
    assert queue.index(bench.clean) < queue.index(bench.hostile)  # back to the top
    page = ana.get(f"/cases/{bench.clean}").text
    assert "Version 2 compared with version 1" in page
    assert "added: Element 6 - Emergency Response/Drill 2026-05.pdf" in page and "removed: " in page


def test_notes_views_and_downloads_are_in_the_append_only_audit_trail(bench: Bench) -> None:
    ana = _signed_in(bench)
    ana.post(f"/cases/{bench.clean}/notes", data={"text": "Called Jane <b>about</b> it", "csrf_token": _csrf(ana)})
    page = ana.get(f"/cases/{bench.clean}").text
    assert "Called Jane &lt;b&gt;about&lt;/b&gt; it" in page
    document_id = int(re.search(r'href="/files/(\d+)"', page).group(1))
    ana.get(f"/files/{document_id}")
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.submission_id == case.id))]
    assert {"note", "view"} <= set(actions) and ({"open", "download"} & set(actions))
    for statement in ("UPDATE audit_entry SET action = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            with bench.services.sessions.begin() as session:
                session.execute(text(statement))


def test_viewing_a_case_changes_no_state(bench: Bench) -> None:
    ana = _signed_in(bench)
    ana.get(f"/cases/{bench.clean}")
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.qa_state == "new" and show_document(session, case)["qa"] == {
            "state": "new", "assignee": None, "decision": None, "decided_by": None, "decided_at": None, "note": None}


def test_stats_count_cases_decisions_and_agreement_per_code(bench: Bench) -> None:
    ana = _signed_in(bench)
    _decide(ana, bench.clean, decision="accept")
    _decide(ana, bench.hostile, decision="accept")
    page = ana.get("/stats").text
    assert "over 2 decided cases" in page
    with bench.services.sessions() as session:
        codes = {f.code for f in find_case(session, bench.hostile).versions[-1].findings}
    for code in codes:  # the hostile case was needs_review and QA accepted it: 0% agreement
        assert re.search(rf"<code>{re.escape(code)}</code></td><td class=\"num\">1</td><td class=\"num\">0</td>", page)


def test_page_reads_do_not_wait_for_the_daemons_write_lock_on_sqlite(tmp_path: Path) -> None:
    bench = seed(tmp_path, f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    try:
        ana = _signed_in(bench)
        held = sqlite3.connect(tmp_path / "lock.sqlite3", isolation_level=None)
        held.execute("BEGIN IMMEDIATE")  # the daemon in the middle of a write transaction
        held.execute("UPDATE submission SET subject = subject")
        try:
            started = time.monotonic()
            page = ana.get(f"/?q={bench.clean}")
            assert page.status_code == 200 and bench.clean in page.text
            assert time.monotonic() - started < 5  # the write engine would wait up to 30 s
        finally:
            held.execute("ROLLBACK")
            held.close()
    finally:
        bench.services.close()


@pytest.mark.parametrize("same_form", [True, False], ids=["one form sent twice", "two analysts"])
def test_two_processes_deciding_at_once_record_one_decision_and_queue_one_email(bench: Bench, same_form: bool) -> None:
    from intake.cases.commands import DecidedMeanwhile, DecisionRequest, record_decision
    from intake.db import make_engine, session_factory
    from tests.concurrency import run_together

    before = _count(bench, Reply)
    keys = iter(["k" * 20, "j" * 20])

    def decide() -> str:
        key = "k" * 20 if same_form else next(keys)
        engine = make_engine(bench.config.database_url)  # each its own engine, as two web processes
        try:
            with session_factory(engine).begin() as session:
                case = find_case(session, bench.clean)
                analyst = users.find_user(session, "ana")
                request = DecisionRequest(decision="return", idempotency_key=key, sequence=1, note="Resend it.")
                result = record_decision(session, case, analyst, request, bench.config.outbound)
                return "created" if result.created else "already"
        except DecidedMeanwhile:
            return "meanwhile"
        finally:
            engine.dispose()

    outcomes = sorted(run_together(decide))
    assert outcomes == (["already", "created"] if same_form else ["created", "meanwhile"])
    assert _count(bench, Decision) == 1 and _count(bench, Reply) == before + 1


def _behind_proxy(bench: Bench, address: str, header: str = "X-Remote-User") -> TestClient:
    from dataclasses import replace

    config = replace(bench.config, web=replace(bench.config.web, proxy_user_header=header,
                                               trusted_proxies=["10.0.0.0/24"]))
    return TestClient(create_app(config, bench.services), client=(address, 40000), follow_redirects=False)


def test_a_trusted_reverse_proxy_signs_users_in_by_header(bench: Bench) -> None:
    proxy = _behind_proxy(bench, "10.0.0.7")
    page = proxy.get("/", headers={"X-Remote-User": "ana"})
    assert page.status_code == 200 and "ana (analyst)" in page.text and proxy.cookies.get("secor_session")
    csrf = form_fields(page.text, "/signout")["csrf_token"]
    noted = proxy.post(f"/cases/{bench.clean}/notes", data={"text": "via proxy", "csrf_token": csrf},
                       headers={"X-Remote-User": "ana"})
    assert noted.status_code == 303
    switched = proxy.get("/", headers={"X-Remote-User": "ben"})  # the proxy's word wins over the cookie
    assert "ben (analyst)" in switched.text
    with bench.services.sessions.begin() as session:
        users.disable_user(session, "ben")
    assert proxy.get("/", headers={"X-Remote-User": "ben"}).status_code == 303
    assert proxy.get("/", headers={"X-Remote-User": "nobody"}).status_code == 303


def test_the_proxy_header_is_ignored_from_other_addresses_or_when_not_configured(bench: Bench) -> None:
    assert _behind_proxy(bench, "192.0.2.9").get("/", headers={"X-Remote-User": "ana"}).status_code == 303
    unconfigured = _behind_proxy(bench, "10.0.0.7", header="")
    assert unconfigured.get("/", headers={"X-Remote-User": "ana"}).status_code == 303
    assert _count(bench, WebSession) == 0


def test_correspondence_shows_every_email_in_and_out_as_text(bench: Bench) -> None:
    ana = _signed_in(bench)
    with bench.services.mail_source() as source:  # the submitter writes back without files
        source.append(bench.config.mailbox.folder, mailfactory.reply_to_case(bench.clean).replace(
            b"we will fix the folders", b"we will <b>fix</b> the folders"))
    poll_cycle(bench.services)
    page = ana.get(f"/cases/{bench.clean}").text
    section = page[page.index('id="correspondence"'):page.index('id="notes"')]
    assert section.count('class="in"') == 2 and section.count('class="out"') == 1  # no reply to the follow-up
    assert "we will &lt;b&gt;fix&lt;/b&gt; the folders" in section  # its text, escaped
    assert "Please find attached our SECOR certification audit" in section  # the first email's text
    eml_ids = re.findall(r'href="/messages/(\d+)\.eml"', section)
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        stored = bench.services.storage.version_dir(case.tracking_number, 1) / "message.eml"
    first = ana.get(f"/messages/{eml_ids[0]}.eml")
    assert first.content == stored.read_bytes() and first.headers["content-type"] == "application/octet-stream"
    assert b"we will <b>fix</b>" in ana.get(f"/messages/{eml_ids[1]}.eml").content


def test_a_follow_up_from_another_address_opens_its_own_case_until_qa_adds_that_address(bench: Bench) -> None:
    def follow_up(message_id: str) -> None:
        with bench.services.mail_source() as source:
            source.append(bench.config.mailbox.folder, mailfactory.submission_with_zip(
                sender="Pat <pat@partner.example>", subject=f"Re: [{bench.clean}] corrected submission",
                message_id=message_id))
        poll_cycle(bench.services)

    def versions() -> int:
        with bench.services.sessions() as session:
            return len(find_case(session, bench.clean).versions)

    follow_up("<pat.1@partner.example>")
    assert versions() == 1  # not theirs to add to
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.clean}")
    assert "May write for this case: jane.doe@acme-roofing.ca" in page.text
    csrf = form_fields(page.text, f"/cases/{bench.clean}/correspondents")["csrf_token"]
    refused = ana.post(f"/cases/{bench.clean}/correspondents", data={"address": "pat, eve@x.example", "csrf_token": csrf})
    assert "give one email address" in refused.text
    added = ana.post(f"/cases/{bench.clean}/correspondents", data={"address": " Pat@Partner.example ", "csrf_token": csrf})
    assert "pat@partner.example may now write for this case." in added.text
    assert "May write for this case: jane.doe@acme-roofing.ca, pat@partner.example" in added.text
    follow_up("<pat.2@partner.example>")
    assert versions() == 2
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.qa_state == "resubmitted"
        codes = [f.code for f in case.versions[-1].findings]
        assert "message.sender_unverified" in codes and "message.claimed_case" not in codes  # unverified: QA looks
        assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "add_correspondent")) == 1
