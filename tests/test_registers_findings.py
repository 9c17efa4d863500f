"""The four register findings: each exactly where it should fire and nowhere else, with and without each
register; possible name matches shown to QA and never a finding; through the pipeline, findings for QA
only (the submitter's reply leaves them out)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete

from intake.config import RegistersConfig
from intake.db import RegisterImport
from intake.registers.checks import REGISTER_CODES, judge
from intake.registers.csvfile import FileLimits, RegisterFile
from intake.registers.store import MODELS, import_register

LIMITS = FileLimits(max_bytes=20_000_000, max_rows=100_000)
SETTINGS = RegistersConfig()

MEMBERS = ("\ufeff WCB-Account ,Legal Name,MEMBER SINCE,Member_Until\n"
           "123-4567,Nguyễn Roofing Ltée,2020-01-01,\n"
           "2222222,Lapsed Ltd,2019-01-01,30-Jun-2026\n"
           "3333333,Edge Ltd,2019-01-01,\"October 5, 2026\"\n")
TRAINING = ("Name,WCB account,Course,Completed on,Hours,Employee ID\n"
            "\"Nguyễn, Tôm\",1234567,Principles of Health & Safety Management,2024-05-01,14,E1\n"
            "Zoë Ébert,,Small Employer Health and Safety Management,2018-01-01,7,\n"
            "Thomas Tran,2222222,WHMIS,2021-01-01,2,E7\n"
            "Ann Lee,3333333,Leadership for Safety Excellence,2023-09-19,8,E9\n"
            "Bo Chen,4444444,Effective Safety Committees,2023-09-20,4,E3\n")
CERTIFICATES = ("wcb_account,legal_name,program,issued_on,expires_on\n"
                "1234567,Nguyễn Roofing Ltée,SECOR,2025-06-01,2028-06-01\n"
                "2222222,Lapsed Ltd,COR,2024-01-01,2027-01-01\n"
                "3333333,Edge Ltd,secor,2022-01-01,2025-01-01\n")
FILES = {"members": (MEMBERS, "utf-8"), "training": (TRAINING, "cp1252"), "certificates": (CERTIFICATES, "utf-8")}


def import_all(sessions, tmp_path: Path) -> None:
    for register, (text, encoding) in FILES.items():
        if encoding == "cp1252":
            text = text.replace("ễ", "e").replace("ô", "ô")  # Windows-1252 has ô but not ễ
        path = tmp_path / f"{register}.csv"
        path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
        register_file = RegisterFile(register, path, LIMITS)
        assert register_file.encoding == ("cp1252" if encoding == "cp1252" else "utf-8-sig")
        import_register(sessions, register_file, path.name, "test")


def facts(account="1234567", assessor="Tom Nguyen", purpose="maintenance", end="2026-09-19") -> dict:
    return {"wcb_account": account, "assessor": assessor, "purpose": purpose, "evaluation_end": end}


RECEIVED = date(2026, 10, 2)
CASES = [  # (what, tool facts, day received, the codes expected)
    ("all in order", facts(), RECEIVED, []),
    ("assessor named last name first, accents left out", facts(assessor="NGUYEN, Tom"), RECEIVED, []),
    ("external assessor with the former course name", facts(assessor="Zoe Ebert"), RECEIVED, []),
    ("assessor not in the register", facts(assessor="Pat Morgan"), RECEIVED,
     ["eligibility.assessor_not_qualified"]),
    ("assessor with other courses only", facts(assessor="Thomas Tran"), RECEIVED,
     ["eligibility.assessor_not_qualified"]),
    ("only a possible match (initial): no finding either way", facts(assessor="T. Nguyen"), RECEIVED, []),
    ("membership ended before the email", facts(account="2222222", assessor="Zoe Ebert", purpose="certification"),
     RECEIVED, ["eligibility.not_a_member", "eligibility.continuing_education_lapsed"]),
    ("membership ends on the day received (inclusive)", facts(account="3333333", assessor="Zoe Ebert",
                                                              purpose="renewal"), date(2026, 10, 5), []),
    ("membership ended the day before", facts(account="3333333", assessor="Zoe Ebert", purpose="renewal"),
     date(2026, 10, 6), ["eligibility.not_a_member"]),
    ("account in no register", facts(account="9999999", assessor="Zoe Ebert", purpose="certification"), RECEIVED,
     ["eligibility.not_a_member", "eligibility.continuing_education_lapsed"]),
    ("a course exactly three years before the end counts", facts(account="3333333", assessor="Zoe Ebert",
                                                                      purpose="renewal", end="2026-09-19"),
     date(2026, 10, 1), []),
    ("...not one three years and a day before", facts(account="3333333", assessor="Zoe Ebert", purpose="renewal",
                                                      end="2026-09-20"),
     date(2026, 10, 1), ["eligibility.continuing_education_lapsed"]),
    ("a course of exactly the minimum hours counts", facts(account="4444444", assessor="Zoe Ebert",
                                                          purpose="certification", end="2026-09-19"),
     date(2025, 1, 1), ["eligibility.not_a_member"]),
    ("maintenance on a COR only", facts(account="2222222", assessor="Zoe Ebert", purpose="action_plan"),
     date(2026, 6, 1), ["eligibility.continuing_education_lapsed", "history.no_certificate_to_maintain"]),
    ("maintenance after the SECOR expired", facts(account="3333333", assessor="Zoe Ebert", end="2025-02-01"),
     date(2025, 3, 1), ["history.no_certificate_to_maintain"]),
    ("certification needs no certificate", facts(account="3333333", assessor="Zoe Ebert", purpose="certification",
                                                 end="2025-02-01"), date(2025, 3, 1), []),
    ("nothing read from the tool", {}, RECEIVED, []),
]


def test_each_finding_fires_exactly_where_it_should(db_sessions, tmp_path):
    import_all(db_sessions, tmp_path)
    with db_sessions() as session:
        for what, tool, received, expected in CASES:
            judged = judge(session, tool, received, SETTINGS)
            assert sorted(f.code for f in judged.findings) == sorted(expected), what
            assert all(f.severity == "warn" for f in judged.findings)


def test_the_registers_block_and_possible_matches(db_sessions, tmp_path):
    import_all(db_sessions, tmp_path)
    with db_sessions() as session:
        judged = judge(session, facts(), RECEIVED, SETTINGS).registers
        assert (judged["member"], judged["assessor_qualified"]) == (True, True)
        assert judged["certificate"] == {"program": "SECOR", "issued_on": "2025-06-01", "expires_on": "2028-06-01"}
        assert judged["membership"]["member_until"] is None
        assert [c["course"] for c in judged["assessor"]["courses"]] == ["Principles of Health & Safety Management"]
        assert judged["continuing_education"]["last"]["completed_on"] == "2024-05-01"
        assert judged["imports"]["training"]["file"] == "training.csv"

        possible = judge(session, facts(assessor="T. Nguyen"), RECEIVED, SETTINGS).registers
        assert possible["assessor_qualified"] is None
        assert [m["name"] for m in possible["assessor"]["possible_matches"]] == ["Nguyen, Tôm"]
        lapsed = judge(session, facts(account="2222222", assessor="Pat Morgan"), RECEIVED, SETTINGS)
        assert (lapsed.registers["member"], lapsed.registers["assessor_qualified"]) == (False, False)
        assert lapsed.registers["membership"]["member_until"] == "2026-06-30"
        [message] = [f.message for f in lapsed.findings if f.code == "eligibility.not_a_member"]
        assert message == ("The members register has no membership of WCB account 2222222 covering 2026-10-02, "
                           "the day the submission arrived; the last membership on record ended 2026-06-30.")


CODES_OF = {"members": {"eligibility.not_a_member"},
            "training": {"eligibility.assessor_not_qualified", "eligibility.continuing_education_lapsed"},
            "certificates": {"history.no_certificate_to_maintain"}}
ANSWER_OF = {"members": "member", "training": "assessor_qualified", "certificates": "certificate"}


@pytest.mark.parametrize("missing", [None, "members", "training", "certificates"])
def test_no_register_no_finding(db_sessions, tmp_path, missing):
    """A tool that every register finds fault with: each register's findings come and go with it."""
    import_all(db_sessions, tmp_path)
    everything = facts(account="2222222", assessor="Pat Morgan", purpose="maintenance")
    with db_sessions() as session:
        if missing:  # as if it had never been imported (rolled back after)
            session.execute(delete(MODELS[missing]))
            session.execute(delete(RegisterImport).where(RegisterImport.register == missing))
        judged = judge(session, everything, RECEIVED, SETTINGS)
        expected = set(REGISTER_CODES) - CODES_OF.get(missing or "", set())
        assert {f.code for f in judged.findings} == expected
        for register, answer in ANSWER_OF.items():
            assert (judged.registers[answer] is None) == (register == missing), register
        session.rollback()


def test_nothing_imported_nothing_found(db_sessions):
    with db_sessions() as session:
        judged = judge(session, facts(account="2222222", assessor="Pat Morgan"), RECEIVED, SETTINGS)
    assert judged.findings == []
    assert {judged.registers[k] for k in ("member", "assessor_qualified", "certificate")} == {None}


def test_configured_courses_and_continuing_education_settings(db_sessions, tmp_path):
    import_all(db_sessions, tmp_path)
    strict = RegistersConfig(assessor_courses=["Auditor Course"], continuing_education_min_hours=15,
                             continuing_education_years=1)
    with db_sessions() as session:
        judged = judge(session, facts(), RECEIVED, strict)
    assert sorted(f.code for f in judged.findings) == ["eligibility.assessor_not_qualified",
                                                       "eligibility.continuing_education_lapsed"]


# -- through the pipeline ----------------------------------------------------------------------------


def submission_zip(base: Path, name: str, wcb: str, assessor: str, purpose: str = "Maintenance") -> bytes:
    from intake.samples import evaluation_tool_lines, minimal_pdf, write_sample_submission
    from tests.test_company import zip_of

    root = write_sample_submission(base / name, employer="Acme Roofing Ltd", wrapper=None)
    lines = evaluation_tool_lines(employer="Acme Roofing Ltd.", wcb_account=wcb, purpose=purpose, assessor=assessor,
                                  start="2026-09-08", end="2026-09-19", submitted="2026-10-02")
    (root / "SECOR Evaluation Tool 2026.pdf").write_bytes(minimal_pdf(lines))
    return zip_of(root)


def test_the_pipeline_records_register_findings_for_qa_only(setup, tmp_path):
    from tests import mailfactory
    from tests.pipeline_helpers import body_text, outbox_messages
    from tests.test_company import deliver_and_poll, latest_tracking, show

    config, services = setup
    import_all(services.sessions, tmp_path)
    raw = mailfactory.submission_with_zip(submission_zip(tmp_path / "src", "lapsed", "2222222", "Pat Morgan"),
                                          message_id="<lapsed@acme>")
    deliver_and_poll(config, services, raw)
    shown = show(services, latest_tracking(services))
    assert shown["summary"]["tool"]["assessor"] == "Pat Morgan"
    codes = sorted(f["code"] for f in shown["findings"] if f["code"] in REGISTER_CODES)
    assert codes == sorted(REGISTER_CODES)  # not a member (received today), COR only, no course, no CE
    assert shown["verdict"] == "needs_review"
    text = body_text(outbox_messages(config.resolve_path(config.outbound.path))[-1])
    assert "register" not in text and "Pat Morgan" not in text  # the submitter hears nothing of it
    registers = shown["registers"]
    assert (registers["member"], registers["assessor_qualified"]) == (False, False)
    assert registers["certificate"] == {"program": "COR", "issued_on": "2024-01-01", "expires_on": "2027-01-01"}
    assert registers["continuing_education"] == {"lapsed": True, "last": {
        "name": "Thomas Tran", "wcb_account": "2222222", "course": "WHMIS", "completed_on": "2021-01-01",
        "hours": 2.0, "line": 4}}

    raw = mailfactory.submission_with_zip(submission_zip(tmp_path / "src", "fine", "1234567", "Tom Nguyen"),
                                          message_id="<fine@acme>")
    deliver_and_poll(config, services, raw)
    shown = show(services, latest_tracking(services))
    assert [f["code"] for f in shown["findings"] if f["code"] in REGISTER_CODES] == []
    assert (shown["registers"]["member"], shown["registers"]["assessor_qualified"]) == (True, True)
    # The company record knows the certificate from the register from its first case on.
    company = shown["company"]
    assert shown["summary"]["tool"]["legal_name"] == "Acme Roofing Ltd."
    assert company["legal_name"] == "Nguyễn Roofing Ltée"  # the register names a new company, not the tool
    assert company["certificates"] == [{"program": "SECOR", "issued_on": "2025-06-01", "expires_on": "2028-06-01",
                                        "legal_name": "Nguyễn Roofing Ltée", "line": 2}]
    assert company["next_due"]["year"] == 2027 and company["next_due"]["purpose"] == "maintenance"


def test_show_and_companies_start_from_the_certificates_register(tmp_path):
    """Without the register the first case knows no certification year; with it, maintenance and renewal
    years follow from the certificate, and holders that never wrote are listed with what they owe."""
    import json

    from intake.cases.company import companies, next_due
    from tests import mailfactory
    from tests.pipeline_helpers import maildir_config, run_cli, write_config
    from tests.test_company import deliver_and_poll, latest_tracking

    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    from intake.service import open_services

    config = maildir_config(tmp_path, db_url)
    services = open_services(config)
    try:
        raw = mailfactory.submission_with_zip(submission_zip(tmp_path / "src", "one", "1234567", "Tom Nguyen"),
                                              message_id="<one@acme>")
        deliver_and_poll(config, services, raw)
        tracking = latest_tracking(services)
        with services.sessions() as session:
            [before] = companies(session, 2027)
        assert before["next_due"] == {"year": 2027, "purpose": None, "status": "due"}  # the year only
        import_all(services.sessions, tmp_path)
        with services.sessions() as session:
            listed = {row["wcb_account"]: row for row in companies(session, 2027)}
    finally:
        services.close()
    assert listed["1234567"]["next_due"] == {"year": 2027, "purpose": "maintenance", "status": "due"}
    assert listed["3333333"]["cases"] == {} and listed["3333333"]["next_due"] == {
        "year": 2023, "purpose": "maintenance", "status": "overdue"}  # a SECOR of 2022 that never wrote
    assert "2222222" not in listed  # a COR only: no SECOR cycle
    assert next_due([(2026, "maintenance")], 2026, [2024]) == {"year": 2027, "purpose": "renewal", "status": "not_due"}

    config_file = write_config(tmp_path / "cli.toml", {"database": {"url": db_url},
                                                        "storage": {"path": str(tmp_path / "submissions")}})
    text = run_cli(config_file, "show", tracking)
    assert text.returncode == 0, text.stderr
    assert "registers on wcb account: member: since 2020-01-01, still a member" in text.stdout
    assert "registers on assessor: Principles of Health & Safety Management, 2024-05-01" in text.stdout
    assert "registers on purpose: certificate SECOR 2025-06-01 to 2028-06-01" in text.stdout
    shown = json.loads(run_cli(config_file, "show", tracking, "--json").stdout)
    assert shown["registers"]["imports"]["members"]["rows"] == 3
