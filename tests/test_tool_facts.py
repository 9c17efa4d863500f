"""Reading the evaluation tool's facts: the generated corpus of real-shaped tools, each shape, labels,
dates, checkboxes, sources, and decoys in the tool and in other documents."""

from __future__ import annotations

import io
import json
import random
from datetime import date

import pytest

from intake.samples import evaluation_tool_lines, minimal_pdf, write_sample_submission
from tests import toolcorpus
from triage.dates import find_dates, name_date, parse_date
from triage.engine import triage_path
from triage.formats import sniff_file
from triage.settings import ArchiveLimits, RuleSettings
from triage.tool_facts import FIELDS, Cell, document_rows, read_facts


@pytest.fixture(scope="module")
def tools() -> list[toolcorpus.Tool]:
    return toolcorpus.corpus()


def rows_of(lines: list[str | list[str]]) -> list[list[Cell]]:
    return [[Cell(c, f"r{r}c{i}") for i, c in enumerate([line] if isinstance(line, str) else line)]
            for r, line in enumerate(lines)]


def test_the_corpus_covers_every_shape(tools):
    shapes = {"/".join(t.shape.split("/")[:2]) for t in tools}
    assert shapes == {"pdf/same_line", "pdf/next_line", "pdf/two_per_line", "pdf/table", "pdf/scan", "pdf/form", "docx/table",
                      "docx/table4", "docx/vertical", "docx/paragraphs", "docx/stacked", "xlsx/adjacent", "xlsx/gap",
                      "xlsx/wide"}
    assert {t.shape for t in tools if t.shape.startswith("pdf/form")} == {"pdf/form/all", "pdf/form/some",
                                                                          "pdf/form/none"}
    boxes = {t.shape.rsplit("/", 1)[1] for t in tools if t.shape.startswith("docx/")}
    assert boxes == {"glyph", "brackets", "legacy", "text"}


def test_precision_and_recall_per_field_on_the_corpus(tools):
    counts = toolcorpus.score(tools)
    for name in FIELDS:
        c = counts[name]
        assert c["read"] and c["right"] == c["read"], (name, c)  # what we say is right
        assert c["right"] / c["stated"] >= 0.9, (name, c)  # and most of what is there (not: unlabelled form fields)


def test_a_scan_without_text_gives_nulls_not_guesses(tools):
    scans = [t for t in tools if t.shape == "pdf/scan"]
    assert scans
    for scan in scans:
        values, _ = toolcorpus.read(scan)
        assert values == {}


def test_each_value_says_where_it_came_from(tools):
    for tool in tools:
        values, where = toolcorpus.read(tool)
        assert set(where) == set(values)
        kind = tool.shape.split("/")[0]
        for name, at in where.items():
            if tool.shape.startswith("pdf/form"):
                assert at.startswith("form field "), (tool.shape, name, at)
            elif kind == "pdf":
                assert at.startswith("page 1, line "), (tool.shape, name, at)
            elif tool.shape.startswith(("docx/paragraphs", "docx/stacked")):
                assert at.startswith("paragraph "), (tool.shape, name, at)
            elif kind == "docx":
                assert at.startswith("table "), (tool.shape, name, at)
            else:
                sheet, _, ref = at.partition("!")
                assert sheet in ("Evaluation", "Cover", "Sheet1") and ref[0] in "BCE", (tool.shape, name, at)


def test_fillable_pdf_fields_are_read_by_tooltip_or_name_and_unnamed_ones_are_not_guessed(tools):
    forms = [t for t in tools if t.shape.startswith("pdf/form")]
    for tool in forms:
        values, where = toolcorpus.read(tool)
        if tool.shape == "pdf/form/none":
            assert values == {}, values
        else:
            assert values == {k: v for k, v in tool.truth.items() if v is not None}
            assert where["wcb_account"] == "form field 'WCB Account Number'"
            assert where["purpose"] == f"form field '{toolcorpus.PURPOSES[tool.truth['purpose']]}'"


def test_docx_table_source_is_the_value_cell(tools):
    tool = next(t for t in tools if t.shape.startswith("docx/table"))
    _, where = toolcorpus.read(tool)
    assert where["legal_name"] == "table 1, row 1, cell 2"
    assert where["assessor"] == "table 1, row 9, cell 2"


def test_xlsx_dates_are_read_from_date_cells():
    tool = next(t for t in toolcorpus.corpus(16) if t.shape == "xlsx/adjacent")
    values, where = toolcorpus.read(tool)
    assert values["evaluation_end"] == tool.truth["evaluation_end"]
    assert where["evaluation_end"].endswith("!B10")


@pytest.mark.parametrize("label", toolcorpus.LEGAL)
def test_legal_name_labels(label):
    values, _ = read_facts(rows_of([f"{label}: Acme Roofing Ltd."]))
    assert values == {"legal_name": "Acme Roofing Ltd."}


@pytest.mark.parametrize("label", toolcorpus.WCB)
def test_wcb_account_labels(label):
    values, _ = read_facts(rows_of([[label, "123 4567"]]))
    assert values == {"wcb_account": "1234567"}


@pytest.mark.parametrize("label", toolcorpus.EMPLOYEES)
def test_employee_labels(label):
    values, _ = read_facts(rows_of([label, "8"]))
    assert values == {"employees": 8}


@pytest.mark.parametrize("written", ["2026-03-14", "March 14, 2026", "14-Mar-2026", "03/14/2026", "Mar. 14th 2026",
                                     "14 March 2026"])
def test_date_styles(written):
    values, _ = read_facts(rows_of([f"Evaluation End Date: {written}"]))
    assert values == {"evaluation_end": date(2026, 3, 14)}


def test_evaluation_period_gives_start_and_end():
    values, where = read_facts(rows_of(["Evaluation period: March 2, 2026 to March 13, 2026"]))
    assert values == {"evaluation_start": date(2026, 3, 2), "evaluation_end": date(2026, 3, 13)}
    assert where["evaluation_start"] == where["evaluation_end"] == "r0c0"


@pytest.mark.parametrize("line, purpose", [
    ("Purpose of evaluation: ☐ Certification ☒ Maintenance ☐ Renewal ☐ Action Plan", "maintenance"),
    ("Type of Evaluation: [ ] Certification [ ] Maintenance [X] Renewal [ ] Action Plan", "renewal"),
    ("Evaluation type: Action Plan", "action_plan"),
    ("Purpose of evaluation: Certification ☒  Maintenance ☐", "certification"),
    ("Purpose of evaluation: ☒ Certification ☒ Maintenance", None),  # two ticked: no guess
    ("Purpose of evaluation: ☐ Certification ☐ Maintenance", None),  # none ticked
])
def test_purpose_checkboxes(line, purpose):
    values, _ = read_facts(rows_of([line]))
    assert values.get("purpose") == purpose


def test_purpose_boxes_one_per_line_under_a_heading_without_label():
    values, where = read_facts(rows_of(["This evaluation is for:", "[ ] Certification", "[X] Maintenance",
                                        "☐ Renewal ☐ Action plan"]))
    assert values.get("purpose") is None  # one box a line, and no label: too little to go on
    values, where = read_facts(rows_of(["This evaluation is for:", "☐ Certification ☒ Maintenance ☐ Renewal"]))
    assert values == {"purpose": "maintenance"} and where == {"purpose": "r1c0"}


def test_blank_fields_and_placeholders_give_nothing():
    values, _ = read_facts(rows_of(["Trade Name: ________", "Company Name: N/A", "WCB Account #:",
                                    "Number of employees: ", "Evaluation Start Date: TBD"]))
    assert values == {}


def test_instructions_that_name_a_field_are_not_values():
    lines = ["Legal name must match the WCB account.", "Assessor must hold the certificate.",
             "Company Name", "Birch Electric Inc."]
    values, where = read_facts(rows_of(lines))
    assert values == {"legal_name": "Birch Electric Inc."} and where == {"legal_name": "r3c0"}


def test_assessor_signature_and_training_lines_are_not_the_assessor():
    values, _ = read_facts(rows_of(["Assessor signature: J. Lee", "Assessor training date: 2025-04-10",
                                    "Assessor: Priya Sharma   Date: 2026-03-01"]))
    assert values == {"assessor": "Priya Sharma"}


@pytest.mark.parametrize("label", ["Self-Assessment Completed By", "Evaluation conducted by", "Evaluated by",
                                   "Audited by", "Internal Auditor", "Auditor Name", "SECOR Auditor",
                                   "Self-Assessor", "Name of Internal Auditor", "Internal Assessor (name)"])
def test_assessor_labels_of_a_company_that_assesses_itself(label):
    assert read_facts(rows_of([f"{label}: Priya Sharma"]))[0] == {"assessor": "Priya Sharma"}
    # the label and the name on separate lines (a printed form, a Word paragraph under another)
    assert read_facts(rows_of([label, "Priya Sharma"]))[0] == {"assessor": "Priya Sharma"}
    # separate spreadsheet columns: the name in the next cell that is not empty, a date further on
    values, where = read_facts(rows_of([[label, "Priya Sharma", "Date", "2026-03-01"]]))
    assert values == {"assessor": "Priya Sharma"} and where == {"assessor": "r0c1"}


def test_by_labels_in_prose_and_other_people_are_not_the_assessor():
    lines = ["The evaluation must be completed by a trained assessor.", "Evaluated by the certifying partner",
             "Submitted by: Dana O'Neill", "Date: 2026-03-13"]
    assert read_facts(rows_of(lines))[0] == {}


def test_two_fields_on_one_line():
    values, _ = read_facts(rows_of(["Trade Name: Acme Roofing    WCB Acct. No.: 7654321"]))
    assert values == {"trade_name": "Acme Roofing", "wcb_account": "7654321"}


def test_dates_in_file_names():
    assert name_date("2026-03-14 Site Inspection.pdf") == date(2026, 3, 14)
    assert name_date("Toolbox Talk March 3 2026.pdf") == date(2026, 3, 3)
    assert name_date("FLHA_20260402.pdf") == date(2026, 4, 2)
    assert name_date("Minutes 2026-06.pdf") == date(2026, 6, 1)
    assert name_date("IMG_20260314_101010.jpg") == date(2026, 3, 14)
    assert name_date("Health and Safety Policy 2026.pdf") is None  # a year alone dates nothing
    assert name_date("Record 12345678.pdf") is None
    assert name_date("Invoice 2026-02-30.pdf") is None  # no such day
    assert parse_date("14/03/2026") == date(2026, 3, 14)  # the first number cannot be a month
    assert [d for d, _, _ in find_dates("from 2026-09-08 to 19-Sep-2026")] == [date(2026, 9, 8), date(2026, 9, 19)]
    # a table's label and value printed without a gap still give the date; a word is no month
    assert parse_date("Date of submission to the partnerMay 27, 2026") == date(2026, 5, 27)
    assert parse_date("Date of submission to the partner23-Aug-2026") == date(2026, 8, 23)
    assert parse_date("Submitted11/26/2026") == date(2026, 11, 26)
    assert parse_date("primary 27, 2026") is None and name_date("Summary 2026.pdf") is None
    assert name_date("Inspection 14-Mar-26.pdf") == date(2026, 3, 14)  # a two-digit year


def test_names_skipped_by_the_year_check_hold_no_date():
    """name_date skips the full pattern when a name has no year; over many made-up names, that
    skip never loses a date the full pattern finds."""
    from triage.dates import _from_match, name_date_pattern

    def full_pattern(name):
        return next((v for m in name_date_pattern().finditer(name) if (v := _from_match(m)) is not None), None)

    rng = random.Random(14)
    tokens = ["Mar", "March", "sept.", "14", "3", "03", "26", "2026", "20260314", "1999", "0001", "of",
              "Record", "_", "-", " ", "/", ".", ",", "th", "IMG", "x",
              "14-Mar-26", "3rd of June 26", "1 Sep 26", "03/14/2026", "June 2026", "2026-06"]
    names = ["".join(rng.choice(tokens) for _ in range(rng.randrange(1, 8))) + ".pdf" for _ in range(20_000)]
    dated = [n for n in names if full_pattern(n) is not None]
    assert len(dated) > 1_000  # the made-up names do carry dates the check must not skip
    assert [name_date(n) for n in dated] == [full_pattern(n) for n in dated]


def test_triage_reads_the_tool_and_not_the_decoys(tmp_path):
    root = write_sample_submission(tmp_path / "sub", employer="Birch Electric Inc.", employees=6)
    invoice = root / "Element 8 - Program Administration" / "Invoice - Bolt Supply - 2026-05-02.pdf"
    invoice.write_bytes(minimal_pdf(["INVOICE", "Company Name: Bolt Supply Inc.", "WCB Account #: 9999999",
                                     "Number of employees: 40", "Date submitted: 2026-05-02",
                                     "Assessor: Nobody Here"]))
    (tmp_path / "work").mkdir()
    report = triage_path(root, ArchiveLimits(), RuleSettings(), tmp_path / "work")
    tool = report.summary["tool"]
    assert tool == {"legal_name": "Birch Electric Inc.", "trade_name": "Birch Electric", "wcb_account": "1234567",
                    "employees": 6, "purpose": "certification", "evaluation_start": "2026-09-08",
                    "evaluation_end": "2026-09-19", "submitted_on": "2026-10-02", "assessor": "Jordan Lee"}
    sources = report.summary["tool_sources"]
    assert sources["wcb_account"] == {"document": "SECOR Evaluation Tool 2026.pdf", "where": "page 1, line 5"}
    json.dumps(report.to_dict())  # JSON all the way down


def test_triage_of_a_tool_that_states_nothing_gives_nulls(tmp_path):
    root = write_sample_submission(tmp_path / "sub")
    (root / "SECOR Evaluation Tool 2026.pdf").write_bytes(toolcorpus.scanned_pdf(random.Random(1)))
    (tmp_path / "work").mkdir()
    report = triage_path(root, ArchiveLimits(), RuleSettings(), tmp_path / "work")
    assert report.summary["tool"] == dict.fromkeys(FIELDS)
    assert report.summary["tool_sources"] == {}


def test_pdf_rows_keep_page_and_line():
    data = minimal_pdf(evaluation_tool_lines(), lines_per_page=6)
    rows = document_rows(io.BytesIO(data), sniff_file(io.BytesIO(data), "t.pdf", len(data)))
    assert rows[0][0].where == "page 1, line 1"
    values, where = read_facts(rows)
    assert where["employees"] == "page 2, line 1" and values["employees"] == 7


def test_triage_command_reads_a_word_tool_inside_a_zip_and_not_a_spreadsheet_decoy(tmp_path):
    import subprocess
    import sys
    import zipfile

    from openpyxl import Workbook

    tool = next(t for t in toolcorpus.corpus(16) if t.shape.startswith("docx/table"))
    decoy = Workbook()
    decoy.active.append(["Company Name", "Bolt Supply Inc."])
    decoy.active.append(["WCB Account #", 9999999])
    decoy.active.append(["Number of employees", 44])
    decoy_bytes = io.BytesIO()
    decoy.save(decoy_bytes)
    root = write_sample_submission(tmp_path / "sub", wrapper=None)
    (root / "SECOR Evaluation Tool 2026.pdf").unlink()
    zip_path = tmp_path / "Acme SECOR.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SECOR Evaluation Tool 2026.docx", tool.data)
        zf.writestr("Element 8 - Program Administration/Supplier list - 2026-05-02.xlsx", decoy_bytes.getvalue())
        for path in sorted(root.rglob("*.*")):
            zf.write(path, path.relative_to(root).as_posix())
    done = subprocess.run([sys.executable, "-m", "intake", "triage", str(zip_path), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    want = {k: v.isoformat() if isinstance(v, date) else v for k, v in tool.truth.items()}
    assert summary["tool"] == want
    assert summary["tool_sources"]["wcb_account"] == {"document": "SECOR Evaluation Tool 2026.docx",
                                                      "where": "table 1, row 3, cell 2"}
