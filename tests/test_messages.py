"""Every finding code's message, rendered from real submissions, reads as written English.

The messages are quoted to submitters. Each one is produced here by the code that produces it in
service (triage of a folder or zip, the zip reader, the link fetchers, the pipeline), with realistic
paths, and checked for the slips that templates make: "is has", doubled words, a wrong article,
stray spaces, unfilled placeholders, no full stop.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from fetchers.fetch import unsupported
from fetchers.net import not_found, sign_in_required, unavailable
from intake.authresults import AuthResults
from intake.cases.company import Reused, reused_findings
from intake.db import FindingRow, make_engine, session_factory, upgrade
from intake.disposition import claimed_case_message, sender_unverified
from intake.mailbox.maildir import MaildirSource
from intake.message import ParsedMessage
from intake.registers.checks import judge
from intake.samples import evaluation_tool_lines, minimal_docx, minimal_pdf, write_sample_submission
from intake.scan import ScanResult
from intake.scan import findings_for as scan_findings
from intake.service import open_services, poll_cycle
from tests import mailfactory as mf
from tests import zipfactory as zf
from tests.pipeline_helpers import ROOT, maildir_config, with_section
from tests.test_registers_findings import RECEIVED, SETTINGS, facts, import_all
from triage.engine import triage_path
from triage.settings import ArchiveLimits, RuleSettings

TOOL = "SECOR Evaluation Tool 2026.pdf"
E = {1: "Element 1 - Management Leadership and Organizational Commitment",
     2: "Element 2 - Hazard Identification and Assessment",
     3: "Element 3 - Hazard Control",
     4: "Element 4 - Ongoing Inspections",
     5: "Element 5 - Qualifications, Orientation and Training",
     6: "Element 6 - Emergency Response",
     7: "Element 7 - Incident Investigation",
     8: "Element 8 - Program Administration"}


def codes_in_configuration() -> set[str]:
    data = tomllib.loads((ROOT / "config" / "severities.toml").read_text(encoding="utf-8"))
    return set(data["codes"])


def _triage(path: Path, work: Path, **limits) -> list[tuple[str, str]]:
    work.mkdir()
    report = triage_path(path, ArchiveLimits(**limits), RuleSettings(), work)
    return [(f.code, f.message) for f in report.findings]


def _folder_cases(tmp: Path) -> list[tuple[str, str]]:
    """Submissions with everything wrong that a folder can have, in four layouts."""
    out: list[tuple[str, str]] = []
    root = write_sample_submission(tmp / "messy", wrapper=None, employees=14)
    shutil.rmtree(root / E[8])
    for doc in (root / E[7]).iterdir():
        doc.unlink()
    (root / "Cover letter.pdf").write_bytes(minimal_pdf(["Cover letter"]))
    (root / "Photos").mkdir()
    (root / "Photos" / "Site photo 2026-03.pdf").write_bytes(minimal_pdf(["photo"]))
    (root / E[1] / "2026" / "March").mkdir(parents=True)
    (root / E[1] / "2026" / "March" / "Meeting minutes 2026-03.pdf").write_bytes(minimal_pdf(["minutes"]))
    (root / "E2 - Hazard Control").mkdir()
    (root / "E2 - Hazard Control" / "Hazard register.pdf").write_bytes(minimal_pdf(["register"]))
    (root / E[3] / "scan0001.pdf").write_bytes(minimal_pdf(["scan"]))
    for n in range(27):
        (root / E[3] / f"Hazard control record 2026-{n:02d}.pdf").write_bytes(minimal_pdf([f"record {n}"]))
    (root / E[4] / "Inspection 2026-02.tif").write_bytes(b"II*\x00" + b"\x00" * 200)
    (root / E[4] / "Old inspections.rar").write_bytes(zf.rar_bytes())
    (root / E[5] / "Training setup.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode")
    (root / E[6] / "file0").write_bytes(b"Emergency phone list\nFire: 911\n" * 20)
    (root / E[6] / "Evacuation plan.pdf").write_bytes(minimal_docx(["Evacuation plan"]))
    (root / E[6] / "Drill report.pdf").write_bytes(b"")
    os.symlink("/etc/passwd", root / E[6] / "passwords.pdf")
    out += _triage(root, tmp / "w1")

    for name, change in (("no-tool", lambda r: (r / TOOL).unlink()),
                         ("buried", lambda r: (r / TOOL).rename(r / E[1] / TOOL)),
                         ("split", lambda r: ((r / TOOL).rename(r / "SECOR Evaluation Tool 2026 Part 1.pdf"),
                                              shutil.copy(r / "SECOR Evaluation Tool 2026 Part 1.pdf",
                                                          r / "SECOR Evaluation Tool 2026 Part 2.pdf"))),
                         ("unstated", lambda r: (r / TOOL).write_bytes(minimal_pdf(["SECOR Evaluation Tool 2026"])))):
        root = write_sample_submission(tmp / name, wrapper=None)
        change(root)
        out += _triage(root, tmp / f"w-{name}")
    return out


def _zip_cases(tmp: Path) -> list[tuple[str, str]]:
    """Zips that the reader refuses, each named as a submitter would name it."""
    policy = zf.deflated(f"{E[1]}/Health and Safety Policy.pdf", minimal_pdf(["policy"]))
    good = zf.build_zip([policy])
    cases = {
        "truncated": (good[: len(good) // 2], {}),
        "locked": (zf.build_zip([policy, zf.zipcrypto(f"{E[2]}/Hazard assessment.pdf", b"%PDF-1.4", b"pw")]), {}),
        "too many": (zf.build_zip([zf.deflated(f"{E[2]}/Hazard assessment {n}.pdf", b"%PDF") for n in range(12)]),
                     {"max_entries": 10}),
        "bomb": (zf.build_zip([zf.lying_entry(f"{E[4]}/Inspection log.pdf", 60 * 1_000_000, 60 * 1_000_000)]), {}),
        "overlap": (zf.overlap_bomb(files=5, kernel_size=100_000), {}),
        "escape": (zf.build_zip([policy, zf.deflated("../../Startup/evil.pdf", b"%PDF")]), {}),
        "duplicate": (zf.build_zip([policy, zf.deflated(f"{E[1].upper()}/HEALTH AND SAFETY POLICY.PDF", b"%PDF")]), {}),
        "nameless": (zf.build_zip([policy, zf.deflated("", b"%PDF")]), {}),
        "rar": (zf.rar_bytes(), {}),
        "nested": (zf.build_zip([zf.deflated(f"{E[5]}.zip", zf.build_zip([zf.deflated("Training.zip", good)]))]), {}),
    }
    out: list[tuple[str, str]] = []
    tmp.mkdir()
    for name, (data, limits) in cases.items():
        path = tmp / f"Acme SECOR 2026 {name}.zip"
        path.write_bytes(data)
        out += _triage(path, tmp / f"z-{name}", **limits)
    return out


def _link_cases() -> list[tuple[str, str]]:
    problems = [
        sign_in_required("https://acme-my.sharepoint.com/:u:/g/personal/jane/EaBcD?e=x1"),
        not_found("https://www.dropbox.com/scl/fi/abc123/Acme%20SECOR.zip?rlkey=k&dl=0"),
        unavailable("https://drive.google.com/file/d/1AbC/view", "the server answered 503"),
    ]
    found = [unsupported("https://app.box.com/s/abc123", "Box"),
             unsupported("https://files.example.org/acme.zip", None)]
    return [(p.code, p.message) for p in problems] + [(f.code, f.message) for f in found]


def _tool_cases(tmp: Path) -> list[tuple[str, str]]:
    """What the evaluation tool's dates and the company's history say: a late tool, two months of
    documentation, documents resent from earlier years (one, and many)."""
    root = write_sample_submission(tmp / "late", wrapper=None)
    (root / TOOL).write_bytes(minimal_pdf(evaluation_tool_lines(end="2026-09-19", submitted="2026-10-30")))
    out = _triage(root, tmp / "w-late")
    short = tmp / "short"
    (short / E[4]).mkdir(parents=True)
    (short / TOOL).write_bytes(minimal_pdf(evaluation_tool_lines()))
    (short / E[4] / "Monthly Inspection 2026-06.pdf").write_bytes(minimal_pdf(["Inspection"]))
    (short / E[4] / "FLHA_20260702.pdf").write_bytes(minimal_pdf(["Field level hazard assessment"]))
    out += _triage(short, tmp / "w-short")
    resent = [Reused(f"{E[4]}/Inspection {n}.pdf", "SECOR-2025-000017", 2025, f"{E[4]}/Inspection {n}.pdf")
              for n in range(1, 12)]
    for reused in (resent[:1], resent):
        out += [(f.code, f.message) for f in reused_findings(reused)]
    return out


def _scan_cases() -> list[tuple[str, str]]:
    result = ScanResult(hits={f"{E[3]}/Hazard control procedure.pdf": "Win.Test.EICAR_HDB-1"},
                        not_scanned=[f"{E[4]}/Inspection video.pdf"], unavailable="clamd is down")
    return [(f.code, f.message) for f in scan_findings(result)]


def _sender_cases() -> list[tuple[str, str]]:
    msg = ParsedMessage(sender="jane.doe@acme-roofing.ca")
    return [("message.sender_unverified", why) for why in (
        sender_unverified(msg, AuthResults(dmarc="fail"), None),
        sender_unverified(msg, AuthResults(dmarc="none"), "owner@acme-roofing.ca"))] + [
        ("message.claimed_case", claimed_case_message("SECOR-2026-000005"))]


def _register_cases(tmp: Path) -> list[tuple[str, str]]:
    """The four register findings, judged against imported registers (the registers' own tests' data)."""
    tmp.mkdir()
    engine = make_engine(f"sqlite:///{tmp / 'db.sqlite3'}")
    upgrade(engine)
    sessions = session_factory(engine)
    import_all(sessions, tmp)
    try:
        with sessions() as session:
            judged = [judge(session, facts(account="2222222", assessor="Pat Morgan", purpose="action_plan"),
                            RECEIVED, SETTINGS),
                      judge(session, facts(account="2222222", assessor="Thomas Tran", purpose="maintenance"),
                            RECEIVED, SETTINGS)]
    finally:
        engine.dispose()
    return [(f.code, f.message) for judgement in judged for f in judgement.findings]


def _message_cases(tmp: Path) -> list[tuple[str, str]]:
    """message.no_submission and message.too_large, from a real poll."""
    config = with_section(maildir_config(tmp, f"sqlite:///{tmp / 'db.sqlite3'}"), "limits", max_message_bytes=200_000)
    with MaildirSource(config.resolve_path(config.mailbox.path)) as source:
        source.append("INBOX", mf.question_without_submission())
        source.append("INBOX", mf.oversized(400_000))
    services = open_services(config)
    try:
        poll_cycle(services)
        with services.sessions() as session:
            return [(f.code, f.message) for f in session.scalars(select(FindingRow))]
    finally:
        services.close()


@pytest.fixture(scope="module")
def messages(tmp_path_factory) -> list[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("messages")
    return (_folder_cases(tmp / "folders") + _zip_cases(tmp / "zips") + _link_cases()
            + _tool_cases(tmp / "tool") + _message_cases(tmp / "mail") + _scan_cases() + _sender_cases()
            + _register_cases(tmp / "registers"))


def test_every_configured_code_is_rendered(messages):
    assert codes_in_configuration() - {code for code, _ in messages} == set()


_QUOTED = re.compile(r"'[^']*'")  # names and paths are the submitter's words, not ours
_SLIPS = {
    "two verbs": re.compile(r"\b(is|are|was) (has|have|is|are)\b"),
    "a doubled word": re.compile(r"\b(\w+) \1\b", re.IGNORECASE),
    "'a' before a vowel": re.compile(r"\ba (?:[aeio][a-z]|un[^i])"),  # but "a unique", "a user"
    "'an' before a consonant": re.compile(r"\ban [bcdfgjklmnpqrstvwxz][a-z]"),
    "a doubled space": re.compile(r"  "),
    "a space before punctuation": re.compile(r" [,;:)]| \.(?!\w)"),  # but " .pdf"
    "a doubled full stop": re.compile(r"\.\."),
    "an unfilled placeholder": re.compile(r"\{|\}|\bNone\b|\[\]"),
    "a '(s)' plural": re.compile(r"\(s\)"),
    "one with a plural": re.compile(r"\b1 (files|folders|documents|levels|employees)\b"),
    "a missing article": re.compile(r"\bis (?!a |an |the )[A-Z][A-Za-z0-9-]* (archive|document|file|image|program)\b"),
    "nested parentheses": re.compile(r"\([^()]*\("),
    "a link given twice": re.compile(r"(https?://\S+?)[).,]?\s.*\1"),
    "a size of nothing": re.compile(r"\b0 (MB|KB|bytes)\b"),
}


def slips(message: str) -> list[str]:
    """What reads wrong in one message (its quoted names aside)."""
    ours = _QUOTED.sub("'x'", message)
    found = [what for what, pattern in _SLIPS.items() if pattern.search(ours)]
    if not ours[:1].isupper() and not ours.startswith("'"):
        found.append("no capital letter first")
    if not ours.rstrip(")").endswith("."):
        found.append("no full stop at the end")
    return found


def test_every_message_reads_as_written_english(messages):
    wrong = {message: found for _, message in messages if (found := slips(message))}
    assert wrong == {}


@pytest.mark.parametrize("message, slip", [
    ("'file0' is has no extension but it is a text file.", "two verbs"),
    ("The the zip is damaged.", "a doubled word"),
    ("It is a unknown file.", "'a' before a vowel"),
    ("The zip is damaged", "no full stop at the end"),
    ("The zip is {what}.", "an unfilled placeholder"),
    ("The zip is damaged .", "a space before punctuation"),
    ("Zips nested deeper than 1 level(s).", "a '(s)' plural"),
    ("It holds more than 1 files.", "one with a plural"),
    ("'x.zip' is RAR archive, not a zip file.", "a missing article"),
    ("It is empty (empty file (zero bytes)).", "nested parentheses"),
    ("We cannot use https://x.example/a automatically (https://x.example/a).", "a link given twice"),
    ("Your email is over our 0 MB limit.", "a size of nothing"),
])
def test_the_checks_catch_each_slip(message, slip):
    assert slip in slips(message)
