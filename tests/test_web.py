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
    refused = sign_in(attacker, "ben", PASSWORD)
    assert refused.status_code == 429  # 8 failures: the next waits 16 s, right or not
    assert refused.headers["Retry-After"] in ("15", "16")  # the wait left, as the page says it
    assert f"try again in {refused.headers['Retry-After']} seconds." in refused.text
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
    refused = sign_in(attacker, "ben", PASSWORD)
    assert refused.status_code == 429
    minutes = -(-int(refused.headers["Retry-After"]) // 60)
    assert minutes > 1 and f"try again in {minutes} minutes." in refused.text
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


def _file_link_text(page: str, document_id: int) -> str:
    """The text of a file's link on a case page, tags taken out (the element folder is a span)."""
    found = re.search(rf'<a class="file" href="/files/{document_id}"[^>]*>(.*?)</a>', page)
    assert found is not None, f"no link to file {document_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


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
        assert _file_link_text(page.text, document.id) == document.path
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
    boxes = re.findall(r'name="finding" value="([\d,]+)" checked', page)
    assert sorted(int(i) for box in boxes for i in box.split(",")) == sorted(f.id for f in findings)
    assert len(boxes) == len({f.code for f in findings})  # one box per code, however many paths it names
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
            "state": "new", "assignee": None, "decision": None, "decided_by": None, "decided_at": None, "note": None,
            "due_on": None, "overdue": False}


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


@pytest.mark.parametrize("same_form, same_note", [(True, True), (False, True), (False, False)],
                         ids=["one form sent twice", "two analysts, same decision", "two analysts, other notes"])
def test_two_processes_deciding_at_once_record_one_decision_and_queue_one_email(bench: Bench, same_form: bool,
                                                                               same_note: bool) -> None:
    from intake.cases.commands import DecidedMeanwhile, DecisionRequest, record_decision
    from intake.db import make_engine, session_factory
    from tests.concurrency import run_together

    before = _count(bench, Reply)
    keys = iter(["k" * 20, "j" * 20])
    notes = iter(["Resend it.", "Resend it." if same_note else "Send the whole folder again."])

    def decide() -> str:
        key = "k" * 20 if same_form else next(keys)
        note = next(notes)
        engine = make_engine(bench.config.database_url)  # each its own engine, as two web processes
        try:
            with session_factory(engine).begin() as session:
                case = find_case(session, bench.clean)
                analyst = users.find_user(session, "ana")
                request = DecisionRequest(decision="return", idempotency_key=key, sequence=1, note=note)
                result = record_decision(session, case, analyst, request, bench.config.outbound)
                return "created" if result.created else "already"
        except DecidedMeanwhile:
            return "meanwhile"
        finally:
            engine.dispose()

    outcomes = sorted(run_together(decide))
    # the same decision twice is recorded once, silently; another one is shown to its analyst
    assert outcomes == (["already", "created"] if same_note else ["created", "meanwhile"])
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
    section = page[page.index('id="timeline"'):page.index('id="notes"')]
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


# -- the file list: previews of Word and Excel, Filter files, pages --------------------------------

def _document_id(bench: Bench, tracking: str, name: str) -> int:
    with bench.services.sessions() as session:
        return next(d.id for d in find_case(session, tracking).versions[-1].documents if d.path.endswith(name))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_word_and_excel_preview_as_sanitised_html_in_a_sandbox(bench: Bench) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.hostile}").text
    for name, expected, script in (("hazards.docx", "Hazard assessment 2026", "docx"),
                                   ("inspections.xlsx", "Inspected on", "xlsx")):
        document_id = _document_id(bench, bench.hostile, name)
        assert f'data-frame="/files/{document_id}/preview"' in page  # offered like a PDF's preview
        shown = ana.get(f"/files/{document_id}/preview")
        assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/html")
        csp = shown.headers["content-security-policy"]
        assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
        assert "img-src data:;" in csp  # no image from anywhere but the document itself
        assert expected in shown.text
        assert f"&lt;script&gt;alert('{script}')" in shown.text  # the document's text, shown as text
        body = shown.text.lower()
        assert "<script" not in body and "javascript:" not in body and "<img" not in body
        assert "127.0.0.1:9" not in body  # the linked image's address is gone
        assert ana.get(f"/files/{document_id}").headers["content-disposition"].startswith("attachment")
    pdf_id = _document_id(bench, bench.hostile, "site photo.png")
    assert ana.get(f"/files/{pdf_id}/preview").status_code == 404  # only Word and Excel are converted


def test_converting_a_word_document_fetches_nothing(tmp_path: Path) -> None:
    import http.server
    import threading

    from intake.web import preview
    from tests.web_helpers import hostile_docx

    hits: list[str] = []

    class Beacon(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        beacon = f"http://127.0.0.1:{server.server_address[1]}/pixel.png"
        document = tmp_path / "linked.docx"
        document.write_bytes(hostile_docx(beacon))
        shown = preview.office_html(document, preview.DOCX)
        assert "Hazard assessment 2026" in shown and "pixel.png" not in shown
        # the beacon answers when asked: nobody asked
        assert __import__("urllib.request").request.urlopen(beacon).status == 200 and hits == ["/pixel.png"]
    finally:
        server.shutdown()


def test_office_previews_are_bounded(tmp_path: Path) -> None:
    from intake.web import preview
    from tests.web_helpers import hostile_docx, hostile_xlsx

    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(hostile_docx(padding=preview.XML_PART_CAP + 1))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(preview.NotPreviewable, match="too large"):
        preview.office_html(bomb, preview.DOCX)
    sheet = tmp_path / "long.xlsx"
    sheet.write_bytes(hostile_xlsx(rows=preview.MAX_ROWS + 200))
    shown = preview.office_html(sheet, preview.XLSX)
    assert shown.count("<tr>") == preview.MAX_ROWS and f"Only the first {preview.MAX_ROWS} rows" in shown
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(preview.NotPreviewable):
        preview.office_html(broken, preview.XLSX)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_filter_files_narrows_the_list_on_the_server_and_pages_a_long_one(bench: Bench, monkeypatch) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.hostile}").text
    assert '<label for="file-filter">Filter files</label>' in page and "data-complete" in page
    narrowed = ana.get(f"/cases/{bench.hostile}?files=PHOTO").text  # no script: the form's GET
    with bench.services.sessions() as session:
        total = len(find_case(session, bench.hostile).versions[-1].documents)
    assert "site photo.png" in narrowed and "drawing.svg" not in narrowed and f"1 of {total} files match" in narrowed
    alone = ana.get(f"/cases/{bench.hostile}/files?files=.xlsx")  # what the box fetches as one types
    assert "inspections.xlsx" in alone.text and "hazards.docx" not in alone.text and "<html" not in alone.text
    from intake.web import app as web_app

    monkeypatch.setattr(web_app, "FILES_PER_PAGE", 4)
    first = ana.get(f"/cases/{bench.hostile}").text
    pages = -(-total // 4)
    assert first.count('<a class="file"') == 4 and "data-complete" not in first and f"page 1 of {pages}" in first
    last = ana.get(f"/cases/{bench.hostile}?files_page={pages}").text
    assert last.count('<a class="file"') == total - 4 * (pages - 1) and f"page {pages} of {pages}" in last


def test_element_names_are_said_once_and_findings_of_one_code_make_one_line() -> None:
    from intake.cases.commands import reason_lines
    from intake.cases.queries import element_label

    assert element_label("1", "Element 1 - Management Leadership") == "Element 1 - Management Leadership"
    assert element_label("1", "element 01 Management") == "element 01 Management"
    assert element_label("1", "Element 10 - Other") == "Element 1 — Element 10 - Other"
    assert element_label("3", "Hazard Control") == "Element 3 — Hazard Control"
    assert element_label("3", None) == "Element 3"
    reasons = [{"code": "over", "path": f"Element 2/record {n}.pdf", "message": "More than asked for."}
               for n in range(8)] + [{"code": "name", "path": None, "message": "Name it."}]
    assert reason_lines(reasons) == [
        "More than asked for. (8 files: Element 2/record 0.pdf; Element 2/record 1.pdf; Element 2/record 2.pdf "
        "and 5 more)", "Name it."]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_not_found_keeps_the_navigation_an_unknown_case_offers_search_a_missing_version_says_so(bench: Bench) -> None:
    ana = _signed_in(bench)
    lost = ana.get("/no/such/page")
    assert lost.status_code == 404 and 'href="/stats"' in lost.text and "Sign out" in lost.text
    unknown = ana.get("/cases/SECOR-2026-999999")
    assert unknown.status_code == 404 and 'href="/stats"' in unknown.text
    assert '<label for="f-q">Search the cases</label>' in unknown.text and 'value="SECOR-2026-999999"' in unknown.text
    seventh = ana.get(f"/cases/{bench.clean}?version=7")
    assert seventh.status_code == 200 and "This case has no version 7: it has 1 version." in seventh.text
    assert "no version" not in ana.get(f"/cases/{bench.clean}?version=1").text
    anonymous = TestClient(create_app(bench.config, bench.services)).get("/no/such/page")
    assert anonymous.status_code == 404 and 'href="/stats"' not in anonymous.text


# -- decisions, second round: no preselection, the same decision once, undo, triage's return, due dates ----

def _delivered(bench: Bench, needle: str) -> list[email.message.Message]:
    outbox = bench.config.resolve_path(bench.config.outbound.path)
    return [m for m in outbox_messages(outbox) if not m.is_multipart() and needle in m.get_payload(decode=True).decode()]


def test_no_decision_is_preselected_and_none_chosen_records_nothing(bench: Bench) -> None:
    ana = _signed_in(bench)
    page = ana.get(f"/cases/{bench.clean}").text
    control = page[page.index('<select id="decision-choice"'):page.index("</select>", page.index('id="decision-choice"'))]
    assert '<option value="" selected>Choose…</option>' in control and control.count("selected") == 1
    assert "a note on Accept is not sent" in page
    before = _count(bench, Reply)
    _, response = _decide(ana, bench.clean, note="Looks fine to me.")  # no choice made
    assert "choose a decision" in response.text and "nothing was recorded" in response.text
    assert _count(bench, Decision) == 0 and _count(bench, Reply) == before
    _, accepted = _decide(ana, bench.clean, decision="accept", note="Looks fine to me.")
    assert "Accept sends no email: your note was kept with the decision, not sent" in accepted.text


def test_the_same_decision_from_a_reopened_page_or_another_analyst_sends_nothing_new(bench: Bench) -> None:
    ana, ben = _signed_in(bench, "ana"), _signed_in(bench, "ben")
    fields = {"decision": "return", "note": "The evaluation tool is not signed.", "reason": "0"}
    before = _count(bench, Reply)
    _, first = _decide(ana, bench.clean, **fields)
    assert "Decision recorded" in first.text
    _, reopened = _decide(ana, bench.clean, **fields)  # a new page (new form key, next decision number)
    _, second = _decide(ben, bench.clean, **fields)
    for response in (reopened, second):
        assert "already recorded; nothing new was sent" in response.text
    assert _count(bench, Decision) == 1 and _count(bench, Reply) == before + 1
    _, changed = _decide(ana, bench.clean, **(fields | {"note": "Also sign page 3."}))  # a different one is new
    assert "Decision recorded" in changed.text and _count(bench, Reply) == before + 2


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.server)], indirect=True)
def test_a_decisions_email_waits_can_be_undone_and_otherwise_goes_out_once(tmp_path: Path, db_url: str) -> None:
    bench = seed(tmp_path, db_url, undo_seconds=300)
    try:
        ana = _signed_in(bench)
        _, response = _decide(ana, bench.clean, decision="return", note="Sign the evaluation tool, please.")
        assert "The email waits 5 min before it goes out" in response.text
        page = ana.get(f"/cases/{bench.clean}").text
        held = page[page.index('id="held-email"'):page.index("</div>", page.index('id="held-email"'))]
        assert "Sign the evaluation tool, please." in held and f"[{bench.clean}]" in held and "Undo decision" in held
        send_replies(bench.services)
        assert _delivered(bench, "Sign the evaluation tool") == []  # held
        hidden = form_fields(page, f"/cases/{bench.clean}/undo")
        assert _signed_in(bench, "ben").post(f"/cases/{bench.clean}/undo", data=hidden).status_code == 403
        undone = ana.post(f"/cases/{bench.clean}/undo", data=hidden)
        assert "Decision undone: its email was withdrawn, never sent." in undone.text
        assert "Undo decision" not in undone.text and "its email was never sent" in undone.text
        with bench.services.sessions() as session:
            case = find_case(session, bench.clean)
            assert case.qa_state == "new" and show_document(session, case)["qa"]["decision"] is None
            actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.submission_id == case.id))]
        assert "decision" in actions and "undo" in actions  # the audit trail keeps both
        assert "nothing was undone" in ana.post(f"/cases/{bench.clean}/undo", data=hidden).text
        send_replies(bench.services)
        assert _delivered(bench, "Sign the evaluation tool") == []  # withdrawn: never sent
        from intake.web.stats import compute

        with bench.services.sessions() as session:
            figures = compute(session)  # an undone decision is not counted
        assert sum(decided for _, _, decided in figures.weeks) == 0 and figures.decided_cases == 0
        assert figures.verdict_agreement == {} or all(n == 0 for _, n in figures.verdict_agreement.values())

        # decided again, the email goes out once its time is up, exactly once
        _decide(ana, bench.clean, decision="return", note="Sign page 3 of the tool.")
        with bench.services.sessions.begin() as session:  # the five minutes pass
            reply = session.scalar(select(Reply).order_by(Reply.id.desc()))
            reply.next_attempt_at = utcnow() - timedelta(seconds=1)
        for _ in range(2):
            send_replies(bench.services)
        assert len(_delivered(bench, "Sign page 3 of the tool.")) == 1
        assert "Undo decision" not in ana.get(f"/cases/{bench.clean}").text  # sent: nothing left to undo
    finally:
        bench.services.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_return_of_a_version_triage_returned_sends_only_what_is_new(tmp_path: Path, db_url: str) -> None:
    bench = seed(tmp_path, db_url, demo=True)
    try:
        send_replies(bench.services)  # triage's emails go out
        with bench.services.sessions() as session:
            birch = session.scalar(select(Case).where(Case.submitter == "lee@birchelectric.example"))
            tracking, told = birch.tracking_number, session.scalar(select(Reply).where(
                Reply.version_id == birch.versions[-1].id))
            finding = next(f for f in birch.versions[-1].findings if f.severity == "reject")
        assert birch.verdict == "returned" and told.status == "sent"
        ana = _signed_in(bench)
        page = ana.get(f"/cases/{tracking}").text
        assert 'id="triage-told"' in page and f"{told.sent_at:%Y-%m-%d %H:%M} UTC" in page
        before = _count(bench, Reply)
        ticked = re.findall(r'name="finding" value="([\d,]+)" checked', page)  # as a browser sends the form
        _, nothing_new = _decide(ana, tracking, decision="return", finding=ticked)  # triage's findings: told already
        assert "had already told the submitter" in nothing_new.text and "nothing new was sent" in nothing_new.text
        assert _count(bench, Reply) == before
        with bench.services.sessions() as session:
            assert find_case(session, tracking).qa_state == "returned"  # recorded all the same
        _, with_note = _decide(ana, tracking, decision="return", finding=ticked,
                               note="Your WCB account number is missing too.")
        assert "only what is new goes out" in with_note.text and _count(bench, Reply) == before + 1
        send_replies(bench.services)
        [sent] = _delivered(bench, "Your WCB account number is missing too.")
        assert finding.message not in sent.get_payload(decode=True).decode()  # not repeated
    finally:
        bench.services.close()


def test_request_documents_due_date_overdue_and_the_one_reminder(bench: Bench) -> None:
    ana = _signed_in(bench)
    due = (utcnow() + timedelta(days=2)).date()
    _, response = _decide(ana, bench.clean, decision="request_documents", element="Element 6 - Emergency Response",
                          due=due.isoformat(), note="The drill records, please.")
    assert "Decision recorded" in response.text
    send_replies(bench.services)  # the request itself, then (due in 2 days, reminders 3 days before) the reminder
    send_replies(bench.services)
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        qa = show_document(session, case)["qa"]
    assert qa["due_on"] == due.isoformat() and qa["overdue"] is False and qa["state"] == "awaiting_documents"
    reminders = _delivered(bench, "A reminder about your SECOR submission")
    assert len(reminders) == 1 and f"[{bench.clean}]" in reminders[0]["Subject"]
    assert due.isoformat() in reminders[0].get_payload(decode=True).decode()
    assert reminders[0]["In-Reply-To"] == bench.clean_message_id  # threaded with the case
    with bench.services.sessions.begin() as session:  # the due date passes without a new version
        find_case(session, bench.clean).qa_due_on = (utcnow() - timedelta(days=1)).date()
    send_replies(bench.services)
    with bench.services.sessions() as session:
        assert show_document(session, find_case(session, bench.clean))["qa"]["overdue"] is True
    assert len(_delivered(bench, "A reminder about your SECOR submission")) == 1  # never a second one


def test_no_reminder_when_turned_off_or_when_a_new_version_came(tmp_path: Path) -> None:
    from intake.cases.commands import queue_due_reminders

    bench = seed(tmp_path, f"sqlite:///{tmp_path / 'r.sqlite3'}")
    try:
        ana = _signed_in(bench)
        due = (utcnow() + timedelta(days=1)).date()
        _decide(ana, bench.clean, decision="request_documents", element="Element 6", due=due.isoformat())
        with bench.services.sessions.begin() as session:
            assert queue_due_reminders(session, bench.config.outbound, 0, utcnow().date()) == 0  # 0: none
        with bench.services.mail_source() as source:
            source.append(bench.config.mailbox.folder, mailfactory.reply_to_case(bench.clean, with_zip=True))
        poll_cycle(bench.services)
        with bench.services.sessions.begin() as session:
            case = find_case(session, bench.clean)
            assert case.qa_state == "resubmitted" and case.qa_due_on is None
            assert show_document(session, case)["qa"]["overdue"] is False
            assert queue_due_reminders(session, bench.config.outbound, 3, utcnow().date()) == 0
    finally:
        bench.services.close()


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.server)], indirect=True)
def test_queue_views_overdue_first_sorting_legal_name_and_search_by_account(tmp_path: Path, db_url: str) -> None:
    bench = seed(tmp_path, db_url, demo=True)
    try:
        with bench.services.sessions() as session:
            birch = session.scalar(select(Case).where(Case.submitter == "lee@birchelectric.example")).tracking_number
            company = show_document(session, find_case(session, bench.clean))["company"]
        ana = _signed_in(bench)
        default = ana.get("/").text
        assert "Returned by triage: waiting for the submitter" in default
        assert f">{birch}</a>" not in default  # the submitter was told: not QA's work now
        waiting = ana.get("/?state=triage_returned").text
        assert f">{birch}</a>" in waiting and f">{bench.clean}</a>" not in waiting
        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        _decide(ana, bench.hostile, decision="request_documents", element="Element 6", due=yesterday)
        queue = ana.get("/?state=all").text
        rows = re.findall(r'<tr data-href="/cases/(SECOR-[\d-]+)', queue)
        assert rows[0] == bench.hostile and "overdue</strong>" in queue  # overdue rises to the top
        overdue = ana.get("/?state=overdue").text
        assert re.findall(r'<tr data-href="/cases/(SECOR-[\d-]+)', overdue) == [bench.hostile]
        ascending = re.findall(r'<tr data-href="/cases/(SECOR-[\d-]+)', ana.get("/?state=all&sort=case").text)
        descending = re.findall(r'<tr data-href="/cases/(SECOR-[\d-]+)', ana.get("/?state=all&sort=-case").text)
        assert ascending == sorted(ascending) and descending == ascending[::-1] and len(ascending) >= 4
        assert 'aria-sort="descending"' in ana.get("/?state=all&sort=-case").text
        assert company is not None  # the clean sample's tool states a WCB account and a legal name
        assert f"<strong>{company['legal_name']}</strong>" in ana.get("/?state=all").text
        account = company["wcb_account"]
        by_account = ana.get(f"/?state=all&q={account[:3]}-{account[3:]}").text  # as people write it
        assert f">{bench.clean}</a>" in by_account and f">{bench.hostile}</a>" not in by_account
        by_name = ana.get(f"/?state=all&q={company['legal_name'].split()[0].upper()}").text
        assert f">{bench.clean}</a>" in by_name
        _decide(ana, bench.clean, decision="accept")
        decided = ana.get(f"/?state=all&q={bench.clean}").text
        assert f">{bench.clean}</a>" in decided and ">Take</button>" not in decided  # nothing to take
        assert ">Take</button>" not in ana.get(f"/cases/{bench.clean}").text
        assert "needs_review" not in re.sub(r"<[^>]+>", "", ana.get("/?state=all").text)  # raw values as words
    finally:
        bench.services.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_timeline_per_case_with_page_views_summarised(bench: Bench) -> None:
    ana = _signed_in(bench)
    ana.post(f"/cases/{bench.clean}/assign", data={"assignee": "me", "csrf_token": _csrf(ana)})
    ana.post(f"/cases/{bench.clean}/notes", data={"text": "Called Jane about the tool.", "csrf_token": _csrf(ana)})
    _decide(ana, bench.clean, decision="return", note="Sign the tool.")
    for _ in range(3):
        page = ana.get(f"/cases/{bench.clean}").text
    assert page.count('<ol class="timeline">') == 1 and 'id="correspondence"' not in page and 'id="audit"' not in page
    timeline = page[page.index('id="timeline"'):page.index('id="notes"')]
    kinds = re.findall(r'<li class="(in|out|note|decision|event)[" ]', timeline)
    assert kinds.index("in") < kinds.index("event") < kinds.index("note") < kinds.index("decision")  # in time order
    assert "assigned the case to ana" in timeline and "Called Jane about the tool." in timeline
    assert re.search(r"Read by ana \(\d+ page views", timeline) and "{'" not in timeline  # no Python dicts


def test_stats_say_backlog_workload_and_times_as_people_do(bench: Bench) -> None:
    from intake.web.stats import duration

    assert [duration(h) for h in (0.25, 1.0, 5 + 20 / 60, 76.0, 48.0, None)] == [
        "15 min", "1 h", "5 h 20 min", "3 d 4 h", "2 d", "—"]
    ana = _signed_in(bench)
    ana.post(f"/cases/{bench.hostile}/assign", data={"assignee": "me", "csrf_token": _csrf(ana)})
    _decide(ana, bench.clean, decision="accept")
    page = ana.get("/stats").text
    assert re.search(r'id="backlog"><strong>1</strong> open case: waiting \d+ min \(median\)', page)
    assert re.search(r"<tr><td>ana</td><td class=\"num\">1</td><td class=\"num\">1</td></tr>", page)
    assert re.search(r"<strong>\d+ min</strong> \(median\)", page)  # not "0.0 h"


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
