"""The company record across years: cases of one WCB account, history.reused_documents (recorded by the
pipeline, kept from the submitter), the analyst's link, and `companies` with what is due next."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.cases.company import next_due
from intake.cases.queries import show_document
from intake.db import Case
from intake.samples import evaluation_tool_lines, minimal_pdf, write_sample_submission
from intake.service import open_services, poll_cycle
from tests import mailfactory
from tests.pipeline_helpers import body_text, deliver, maildir_config, outbox_messages, run_cli, write_config

E2 = "Element 2 - Hazard Identification and Assessment"
SHARED = f"{E2}/Hazard Assessment - Roof Replacement - 2026-03-14.pdf"


def zip_of(root: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.writestr(zipfile.ZipInfo(path.relative_to(root).as_posix(), (2026, 10, 2, 9, 30, 0)),
                            path.read_bytes())
    return out.getvalue()


def tool_folder(base: Path, year: int, employer: str, wcb: str | None, purpose: str = "Maintenance",
                legal_name: str = "Acme Roofing Ltd.") -> Path:
    root = write_sample_submission(base / str(year), employer=employer, wrapper=None)
    lines = evaluation_tool_lines(employer=legal_name, wcb_account=wcb or "", start=f"{year}-09-08",
                                  end=f"{year}-09-19", submitted=f"{year}-10-02",
                                  purpose=purpose)
    if wcb is None:
        lines = [line for line in lines if not line.startswith("WCB")]
    (root / "SECOR Evaluation Tool 2026.pdf").write_bytes(minimal_pdf(lines))
    return root


def deliver_and_poll(config, services, raw: bytes) -> None:
    deliver(config, raw)
    poll_cycle(services)


def show(services, tracking_number: str) -> dict:
    with services.sessions() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == tracking_number))
        return show_document(session, case, services.storage)


def latest_tracking(services) -> str:
    with services.sessions() as session:
        return session.scalars(select(Case.tracking_number).order_by(Case.id.desc())).first()


def test_a_company_resending_last_years_document_is_flagged_for_qa_only(setup, tmp_path):
    config, services = setup
    earlier = tool_folder(tmp_path / "src", 2025, "Acme Roofing Ltd", "1234567", "Certification")
    deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(earlier), message_id="<a2025@acme>"))
    first = latest_tracking(services)
    later = tool_folder(tmp_path / "src", 2026, "Acme Roofing Ltd.", "1234567")
    shutil.copyfile(earlier / SHARED, later / SHARED)  # last year's hazard assessment, sent again
    deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(later), message_id="<a2026@acme>"))
    second = latest_tracking(services)

    shown = show(services, second)
    company = shown["company"]
    assert (company["wcb_account"], company["legal_name"], company["linked_by"]) == ("1234567", "Acme Roofing Ltd.", "tool")
    assert [(c["tracking_number"], c["year"], c["purpose"]) for c in company["cases"]] == [
        (first, 2025, "certification"), (second, 2026, "maintenance")]
    assert company["reused_documents"] == [{"path": SHARED, "earlier_case": first, "earlier_year": 2025,
                                            "earlier_path": SHARED}]
    [reused] = [f for f in shown["findings"] if f["code"] == "history.reused_documents"]
    assert reused["severity"] == "warn" and reused["path"] == SHARED
    assert first not in reused["message"] and "case of 2025" in reused["message"]  # which case: the record
    assert shown["verdict"] == "needs_review"
    assert [f["code"] for f in shown["versions"][0]["findings"]].count("history.reused_documents") == 1
    # The earlier case reuses nothing (the later one is not earlier), and its record shows both cases.
    assert show(services, first)["company"]["reused_documents"] == []
    assert not [f for f in show(services, first)["findings"] if f["code"] == "history.reused_documents"]

    # The submitter hears nothing of the history: not in the reply, not in report.txt.
    reply = outbox_messages(config.resolve_path(config.outbound.path))[-1]
    assert second in reply["Subject"]
    text = body_text(reply)
    assert first not in text and "identical" not in text and "Points a QA analyst will look at" not in text
    assert "passed to our QA team" in text
    report_txt = (Path(shown["versions"][0]["storage_path"]) / "report.txt").read_text()
    assert "history.reused_documents" not in report_txt and first not in report_txt
    assert "Documentation dated" in report_txt


def test_an_outsiders_tool_naming_another_companys_account_neither_renames_it_nor_hears_of_it(setup, tmp_path):
    from starlette.testclient import TestClient

    from intake import users
    from intake.service import send_replies
    from intake.web.app import create_app
    from tests.web_helpers import PASSWORD, form_fields, sign_in

    config, services = setup
    victim = tool_folder(tmp_path / "victim", 2025, "Acme Roofing Ltd", "1234567", "Certification")
    deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(victim), message_id="<v@acme>"))
    victim_case = latest_tracking(services)
    outsider = tool_folder(tmp_path / "outsider", 2026, "Mallory Holdings", "1234567", legal_name="Mallory Holdings Inc.")
    shutil.copyfile(victim / SHARED, outsider / SHARED)  # a shared blank template is enough
    deliver_and_poll(config, services, mailfactory.submission_with_zip(
        zip_of(outsider), sender="Mallory <mallory@hostile.example>", subject="SECOR 2026 Mallory Holdings",
        message_id="<m@hostile.example>"))
    outsider_case = latest_tracking(services)
    assert show(services, victim_case)["company"]["legal_name"] == "Acme Roofing Ltd."  # a tool renames nothing
    [reuse] = show(services, outsider_case)["company"]["reused_documents"]  # QA sees the join and the reuse
    assert reuse["earlier_case"] == victim_case
    with services.sessions.begin() as session:
        users.add_user(session, "ana", "analyst", PASSWORD)
        every_finding = [str(f.id) for f in session.scalar(select(Case).where(
            Case.tracking_number == outsider_case)).versions[-1].findings]
    with TestClient(create_app(config, services), follow_redirects=True) as client:
        sign_in(client)
        assert "Mallory Holdings Inc." not in client.get(f"/cases/{victim_case}").text
        page = client.get(f"/cases/{outsider_case}").text
        hidden = form_fields(page, f"/cases/{outsider_case}/decision")
        # Return with the pre-ticked reasons, and then with every finding ticked by a crafted form
        client.post(f"/cases/{outsider_case}/decision", data=hidden | {"decision": "return", "note": "Please resend.",
                    "finding": re.findall(r'name="finding" value="(\d+)" checked', page)})
        page = client.get(f"/cases/{outsider_case}").text
        hidden = form_fields(page, f"/cases/{outsider_case}/decision")
        client.post(f"/cases/{outsider_case}/decision", data=hidden | {"decision": "return", "note": "Resend, please.",
                    "finding": every_finding})
    send_replies(services)
    sent = [m for m in outbox_messages(config.resolve_path(config.outbound.path)) if "mallory" in str(m["To"])]
    decisions = [m for m in sent if "Resend, please." in body_text(m) or "Please resend." in body_text(m)]
    assert len(decisions) == 2
    for message in sent:
        text = message.as_string()
        assert victim_case not in text and "identical" not in text and "1234567" not in text, text


def test_a_case_without_a_readable_account_is_linked_by_an_analyst(setup, tmp_path):
    config, services = setup
    root = tool_folder(tmp_path / "src", 2026, "Acme Roofing Ltd.", None)
    deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(root)))
    tracking = latest_tracking(services)
    shown = show(services, tracking)
    assert shown["company"] is None
    assert "tool.wcb_account_missing" in [f["code"] for f in shown["findings"]]

    from intake.cases.company import link

    with services.sessions.begin() as session:
        link(session, tracking, "7654321", "Acme Roofing Ltd.")
    company = show(services, tracking)["company"]
    assert (company["wcb_account"], company["linked_by"]) == ("7654321", "analyst")
    assert [(c["tracking_number"], c["year"]) for c in company["cases"]] == [(tracking, 2026)]
    with services.sessions.begin() as session, pytest.raises(LookupError):
        link(session, "SECOR-2026-999999", "7654321")

    # A new version whose tool states another account does not undo the analyst's link.
    fixed = tool_folder(tmp_path / "src2", 2026, "Acme Roofing Ltd.", "1111111")
    deliver_and_poll(config, services, mailfactory.submission_with_zip(
        zip_of(fixed), subject=f"Re: SECOR evaluation [{tracking}]", message_id="<v2@acme>"))
    shown = show(services, tracking)
    assert len(shown["versions"]) == 2 and shown["summary"]["tool"]["wcb_account"] == "1111111"
    assert (shown["company"]["wcb_account"], shown["company"]["linked_by"]) == ("7654321", "analyst")


@pytest.mark.parametrize("cases, this_year, due", [
    ([(2024, "certification")], 2025, {"year": 2025, "purpose": "maintenance", "status": "due"}),
    ([(2024, "certification"), (2025, "maintenance")], 2026, {"year": 2026, "purpose": "maintenance", "status": "due"}),
    ([(2023, "certification"), (2024, "action_plan"), (2025, "maintenance")], 2026,
     {"year": 2026, "purpose": "renewal", "status": "due"}),
    ([(2022, "certification"), (2023, "maintenance")], 2026, {"year": 2024, "purpose": "maintenance", "status": "overdue"}),
    ([(2021, "renewal")], 2026, {"year": 2022, "purpose": "maintenance", "status": "overdue"}),
    ([(2025, "certification")], 2025, {"year": 2026, "purpose": "maintenance", "status": "not_due"}),
    ([(2025, None)], 2027, {"year": 2026, "purpose": None, "status": "overdue"}),
])
def test_next_submission_due(cases, this_year, due):
    assert next_due(cases, this_year) == due


def test_company_link_and_companies_commands(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    config = maildir_config(tmp_path, db_url)
    services = open_services(config)
    try:
        for year in (2024, 2025):
            root = tool_folder(tmp_path / "src", year, "Acme Roofing Ltd.", "1234567",
                               "Certification" if year == 2024 else "Maintenance")
            deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(root), message_id=f"<m{year}@acme>"))
        unlinked = tool_folder(tmp_path / "src", 2026, "Acme Roofing Ltd.", None)
        deliver_and_poll(config, services, mailfactory.submission_with_zip(zip_of(unlinked), message_id="<m2026@acme>"))
        first, second, third = [f"SECOR-{config_year()}-00000{n}" for n in (1, 2, 3)]
    finally:
        services.close()
    config_file = write_config(tmp_path / "cli.toml", {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "maildir")}, "outbound": {"kind": "file", "path": str(tmp_path / "outbox")},
        "database": {"url": db_url}, "storage": {"path": str(tmp_path / "submissions")}})

    bad = run_cli(config_file, "company", "link", third, "12-ab")
    assert bad.returncode == 2 and "not a WCB account number" in bad.stderr
    unknown = run_cli(config_file, "company", "link", "SECOR-2026-999999", "1234567")
    assert unknown.returncode == 2 and "no submission" in unknown.stderr
    linked = run_cli(config_file, "company", "link", third, "123-4567")
    assert linked.returncode == 0, linked.stderr

    listing = run_cli(config_file, "companies", "--json", "--year", "2027")
    assert listing.returncode == 0, listing.stderr
    [acme] = json.loads(listing.stdout)
    assert acme["wcb_account"] == "1234567" and acme["legal_name"] == "Acme Roofing Ltd."
    assert {year: [c["tracking_number"] for c in cases] for year, cases in acme["cases"].items()} == {
        "2024": [first], "2025": [second], "2026": [third]}
    assert acme["cases"]["2026"][0]["linked_by"] == "analyst"
    assert (acme["last_year"], acme["last_purpose"]) == (2026, "maintenance")
    assert acme["next_due"] == {"year": 2027, "purpose": "renewal", "status": "due"}
    shown = json.loads(run_cli(config_file, "show", third, "--json").stdout)
    assert shown["company"]["wcb_account"] == "1234567"
    text = run_cli(config_file, "companies", "--year", "2027").stdout
    assert "1234567    Acme Roofing Ltd." in text and "next: renewal in 2027 (due)" in text


def config_year() -> int:
    from intake.clock import utcnow

    return utcnow().year


def test_one_account_whose_cases_state_different_legal_names_is_flagged(setup, tmp_path):
    config, services = setup
    for year, name in ((2025, "Acme Roofing Ltd."), (2026, "ACME  roofing ltd."), (2026, "Birch Electric Inc.")):
        root = tool_folder(tmp_path / "src" / name, year, name, "1234567", legal_name=name)
        deliver_and_poll(config, services, mailfactory.submission_with_zip(
            zip_of(root), message_id=f"<{year}.{len(name)}@mail.example>"))
    tracking = latest_tracking(services)
    names = show(services, tracking)["company"]["legal_names"]
    # spelling aside, two employers under one account
    assert {name: len(cases) for name, cases in names.items()} == {"Acme Roofing Ltd.": 2, "Birch Electric Inc.": 1}

    from starlette.testclient import TestClient

    from intake import users
    from intake.web.app import create_app
    from tests.web_helpers import PASSWORD, sign_in

    with services.sessions.begin() as session:
        users.add_user(session, "ana", "analyst", PASSWORD)
    client = TestClient(create_app(config, services), follow_redirects=True)
    sign_in(client)
    page = client.get(f"/cases/{tracking}").text
    warning = page[page.index('id="legal-names"'):page.index("</p>", page.index('id="legal-names"'))]
    assert "2 different legal names" in warning
    assert "Acme" not in warning  # another case's tool is not quoted: its case number is
    assert re.search(r"SECOR-\d{4}-\d{6}", warning)
    company_page = client.get("/companies/1234567").text  # the company page warns too
    assert 'id="legal-names"' in company_page and "2 different legal names" in company_page
    config_file = write_config(tmp_path / "cli.toml", {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "maildir")},
        "outbound": {"kind": "file", "path": str(tmp_path / "outbox")},
        "database": {"url": config.database_url}, "storage": {"path": str(tmp_path / "submissions")}})
    listing = run_cli(config_file, "companies")
    assert "warning: its cases state 2 different legal names" in listing.stdout
