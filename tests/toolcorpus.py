"""A corpus of filled-in SECOR evaluation tools in the shapes they arrive in, with what each states.

Built with real writers (fpdf2 for PDFs, python-docx for Word, openpyxl for Excel), deterministic for
a seed: text PDFs with `Label: value` lines, the value on the line below, two fields on one line and a
scanned page without text; Word documents whose header is a table (label cell, value cell, or a label
row over a value row) or paragraphs (`Label: value`, or the value in the paragraph under its label),
with ☒/☐, [X]/[ ] and legacy form checkboxes; Excel sheets with the label in one column and the value
in the next (or one or three further, past empty cells), dates as real date cells. Labels (the
assessor's also as a company assessing itself words it: `Self-Assessment Completed By`),
date styles and layouts vary as the issue lists them, and each tool carries instruction lines that
name the fields without filling them (decoys inside the tool).

`python -m tests.toolcorpus` prints the precision and recall per field (the README's figures).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from intake.samples import pdf_file, pdf_string

LEGAL = ["Employer Legal Name (as registered with WCB)", "Legal Name of Employer", "Company Name",
         "Employer legal name"]
TRADE = ["Trade Name", "Operating As", "Trade name (if different)"]
WCB = ["WCB Account #", "WCB Acct. No.", "WCB-Alberta Account Number", "WCB account number(s)"]
EMPLOYEES = ["Number of employees covered by the WCB account", "# of workers (including owners)",
             "Number of Employees", "Total number of workers (past 12 months)"]
PURPOSE = ["Purpose of evaluation", "Type of Evaluation", "Evaluation type"]
START = ["Evaluation Start Date", "Date evaluation started", "Start date of evaluation"]
END = ["Evaluation End Date", "Evaluation Completion Date", "End date of evaluation"]
SUBMITTED = ["Date Submitted", "Submission Date", "Date of submission to the certifying partner"]
ASSESSOR = ["Assessor Name", "Name of Assessor", "Evaluator", "Assessor (name)",
            # a company that assesses itself
            "Self-Assessment Completed By", "Evaluated By", "Internal Auditor", "Auditor Name"]
PURPOSES = {"certification": "Certification", "maintenance": "Maintenance", "renewal": "Renewal",
            "action_plan": "Action Plan"}
DATE_STYLES = ["iso", "long", "dmy", "us"]
COMPANIES = ["Acme Roofing Ltd.", "Birch Electric Inc.", "Northern Lights Landscaping Ltd.",
             "Prairie Plumbing & Heating Ltd.", "Bow Valley Drywall Inc.", "Chinook Concrete Cutting Ltd.",
             "Red Deer Fencing Co.", "Lethbridge Glass & Mirror Ltd.", "Peace River Welding Inc.",
             "Foothills Tree Care Ltd.", "Medicine Hat Mechanical Ltd.", "Sundre Septic Services Inc."]
PEOPLE = ["Jordan Lee", "Priya Sharma", "Marc-André Tremblay", "Dana O'Neill", "Sam Whitehorse",
          "Li Wei", "Kateryna Bondarenko", "Tom MacDonald"]
INSTRUCTIONS = [
    "Instructions: complete every field. The employer legal name must match the WCB account.",
    "Legal name must be the name registered with WCB-Alberta.",
    "Count everyone on the WCB account, owners included, when giving the number of employees.",
]


def fmt_date(value: date, style: str) -> str:
    if style == "iso":
        return value.isoformat()
    if style == "long":
        return f"{value:%B} {value.day}, {value.year}"
    if style == "dmy":
        return f"{value.day:02d}-{value:%b}-{value.year}"
    return f"{value:%m/%d/%Y}"


@dataclass
class Tool:
    """One evaluation tool: its file name and bytes, and what it states (None where left blank)."""

    name: str
    data: bytes
    shape: str
    truth: dict[str, object] = field(default_factory=dict)


def _facts(rng: random.Random) -> dict[str, object]:
    company = rng.choice(COMPANIES)
    end = date(2026, 1, 5) + timedelta(days=rng.randrange(0, 300))
    start = end - timedelta(days=rng.randrange(3, 25))
    submitted = end + timedelta(days=rng.randrange(0, 40))
    trade = company.replace(" Ltd.", "").replace(" Inc.", "").replace(" Co.", "")
    return {"legal_name": company, "trade_name": trade if rng.random() < 0.8 else None,
            "wcb_account": str(rng.randrange(1_000_000, 9_999_999)), "employees": rng.randrange(1, 15),
            "purpose": rng.choice(list(PURPOSES)), "evaluation_start": start, "evaluation_end": end,
            "submitted_on": submitted, "assessor": rng.choice(PEOPLE)}


def _labels(rng: random.Random) -> dict[str, str]:
    return {"legal_name": rng.choice(LEGAL), "trade_name": rng.choice(TRADE), "wcb_account": rng.choice(WCB),
            "employees": rng.choice(EMPLOYEES), "purpose": rng.choice(PURPOSE),
            "evaluation_start": rng.choice(START), "evaluation_end": rng.choice(END),
            "submitted_on": rng.choice(SUBMITTED), "assessor": rng.choice(ASSESSOR)}


def _text_value(key: str, value: object, style: str) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return fmt_date(value, style)
    if key == "purpose":
        return PURPOSES[str(value)]
    return str(value)


def _boxes(chosen: str, checked: str, unchecked: str) -> str:
    return "  ".join(f"{checked if key == chosen else unchecked} {label}" for key, label in PURPOSES.items())


# -- PDF ---------------------------------------------------------------------------------------


def _pdf(lines: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="letter")
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for line in lines:
        pdf.cell(0, 6, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _pdf_table(lines: list[str], pairs: list[tuple[str, str]]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(70, 110), first_row_as_headings=False) as table:
        for label, value in pairs:
            row = table.row()
            row.cell(label)
            row.cell(value)
    return bytes(pdf.output())


def scanned_pdf(rng: random.Random) -> bytes:
    """A page that is only a picture (a scan): no text layer at all."""
    from fpdf import FPDF
    from PIL import Image

    image = Image.new("L", (850, 1100), 255)
    pixels = image.load()
    for _ in range(4000):  # specks of toner
        pixels[rng.randrange(850), rng.randrange(1100)] = rng.randrange(0, 120)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF(format="letter")
    pdf.add_page()
    pdf.image(buffer, x=0, y=0, w=pdf.w)
    return bytes(pdf.output())


def pdf_tool(rng: random.Random, facts: dict, layout: str) -> tuple[bytes, str]:
    labels, style = _labels(rng), rng.choice(DATE_STYLES)
    lines = ["SECOR Evaluation Tool", "Small Employer Certificate of Recognition", rng.choice(INSTRUCTIONS), ""]
    keys = list(labels)
    if layout == "same_line":
        for key in keys:
            if key == "purpose":
                lines.append(f"{labels[key]}: " + _boxes(str(facts[key]), "[X]", "[ ]"))
            else:
                lines.append(f"{labels[key]}: {_text_value(key, facts[key], style) or '________'}")
    elif layout == "next_line":
        for key in keys:
            lines.append(labels[key] + ("" if rng.random() < 0.5 else ":"))
            if key == "purpose":
                lines += [f"{'[X]' if k == facts[key] else '[ ]'} {v}" for k, v in PURPOSES.items()]
            else:
                lines.append(_text_value(key, facts[key], style) or "________")
    elif layout == "table":  # a drawn table: label cell, value cell, no colons
        return _pdf_table(lines, [(labels[k], _text_value(k, facts[k], style) if k != "purpose"
                                   else _boxes(str(facts[k]), "[X]", "[ ]")) for k in keys]), "pdf/table"
    else:  # two fields on one line where they fit
        lines.append(f"{labels['legal_name']}: {facts['legal_name']}")
        lines.append(f"{labels['trade_name']}: {_text_value('trade_name', facts['trade_name'], style) or 'N/A'}"
                     f"    {labels['wcb_account']}: {facts['wcb_account']}")
        lines.append(f"{labels['employees']}: {facts['employees']}")
        lines.append(f"{labels['purpose']}: {PURPOSES[str(facts['purpose'])]}")
        lines.append(f"{labels['evaluation_start']}: {fmt_date(facts['evaluation_start'], style)}"
                     f"    {labels['evaluation_end']}: {fmt_date(facts['evaluation_end'], style)}")
        lines.append(f"{labels['submitted_on']}: {fmt_date(facts['submitted_on'], style)}")
        lines.append(f"{labels['assessor']}: {facts['assessor']}")
    lines += ["", "Element 1 - Management Leadership: 88%", "Element 2 - Hazard Identification: 91%",
              f"Assessor signature: {facts['assessor']}   Date: {fmt_date(facts['submitted_on'], style)}"]
    return _pdf(lines), f"pdf/{layout}"


def form_pdf(lines: list[str], fields: list[tuple[str, str | None, str | None, bool]]) -> bytes:
    """A fillable PDF as Acrobat saves it: the printed labels on the page, the answers only in form
    fields (name, tooltip, value; a checkbox when the last item is True, ticked when value is set)."""
    n_fields = len(fields)
    field_refs = " ".join(f"{6 + i} 0 R" for i in range(n_fields))
    stream = b"BT /F1 10 Tf 14 TL 60 760 Td\n" + b"".join(pdf_string(x) + b" Tj T*\n" for x in lines) + b"ET\n"
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [{field_refs}] /NeedAppearances true >> >>".encode(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        f"/Contents 5 0 R /Annots [{field_refs}] >>".encode(),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
    ]
    for i, (name, tooltip, value, checkbox) in enumerate(fields):
        rect = f"/Rect [300 {740 - 16 * i} 560 {752 - 16 * i}]"
        tip = b" /TU " + pdf_string(tooltip) if tooltip else b""
        if checkbox:
            state = b"/Yes" if value else b"/Off"
            objects.append(b"<< /Type /Annot /Subtype /Widget /FT /Btn /T " + pdf_string(name) + tip
                           + b" /V " + state + b" /AS " + state + b" " + rect.encode() + b" /P 4 0 R >>")
        else:
            objects.append(b"<< /Type /Annot /Subtype /Widget /FT /Tx /T " + pdf_string(name) + tip
                           + (b" /V " + pdf_string(value) if value else b"") + b" " + rect.encode() + b" /P 4 0 R >>")
    return pdf_file(objects, "1.6")


def fillable_pdf_tool(rng: random.Random, facts: dict, layout: str) -> tuple[bytes, str]:
    """The association's fillable PDF: labels printed, answers in fields named after them, with the
    printed label as tooltip in some; in others the fields keep Acrobat's names (Text1, Check1), and
    then nothing ties an answer to its label: we read nothing rather than guess."""
    labels, style = _labels(rng), rng.choice(DATE_STYLES)
    names = {"legal_name": "LegalName", "trade_name": "Trade Name", "wcb_account": "WCB Account Number",
             "employees": "Number of Employees", "evaluation_start": "Evaluation Start Date",
             "evaluation_end": "Evaluation End Date", "submitted_on": "Date Submitted", "assessor": "Assessor Name"}
    tips = rng.choice(["all", "some", "none"])  # "none": fields left as Acrobat names them (Text1, Check1)
    fields: list[tuple[str, str | None, str | None, bool]] = []
    for n, (key, name) in enumerate(names.items(), start=1):
        tip = labels[key] if tips == "all" or (tips == "some" and key == "legal_name") else None
        fields.append((name if tips != "none" else f"Text{n}", tip, _text_value(key, facts[key], style) or None, False))
    fields += [(label if tips != "none" else f"Check{n}", None, "Yes" if key == facts["purpose"] else None, True)
               for n, (key, label) in enumerate(PURPOSES.items(), start=1)]
    lines = ["SECOR Evaluation Tool (fillable)", rng.choice(INSTRUCTIONS)] + [f"{labels[k]}:" for k in names]
    return form_pdf(lines, fields), f"pdf/form/{tips}"


# -- Word --------------------------------------------------------------------------------------


def _legacy_checkbox(paragraph, checked: bool) -> None:
    """A Word 97-style form checkbox (FORMCHECKBOX): no character in the text, a w:checked flag."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    run = paragraph.add_run()
    run._r.append(parse_xml(
        f'<w:fldChar {nsdecls("w")} w:fldCharType="begin"><w:ffData><w:name w:val="Check1"/>'
        f'<w:enabled/><w:checkBox><w:sizeAuto/><w:default w:val="{1 if checked else 0}"/></w:checkBox>'
        '</w:ffData></w:fldChar>'))
    paragraph.add_run().add_text(" ")


def _purpose_cell(cell, chosen: str, boxes: str) -> None:
    _purpose_runs(cell.paragraphs[0], chosen, boxes)


def _purpose_runs(paragraph, chosen: str, boxes: str) -> None:
    if boxes == "legacy":
        for key, label in PURPOSES.items():
            _legacy_checkbox(paragraph, key == chosen)
            paragraph.add_run(f"{label}   ")
    elif boxes == "text":
        paragraph.add_run(PURPOSES[chosen])
    else:
        checked, unchecked = ("☒", "☐") if boxes == "glyph" else ("[X]", "[ ]")
        paragraph.add_run(_boxes(chosen, checked, unchecked))


def docx_tool(rng: random.Random, facts: dict, layout: str) -> tuple[bytes, str]:
    from docx import Document

    labels, style = _labels(rng), rng.choice(DATE_STYLES)
    boxes = rng.choice(["glyph", "brackets", "legacy", "text"])
    doc = Document()
    doc.add_heading("SECOR Evaluation Tool 2026", level=1)
    doc.add_paragraph(rng.choice(INSTRUCTIONS))
    keys = list(labels)
    if layout == "table":
        table = doc.add_table(rows=0, cols=2)
        for key in keys:
            cells = table.add_row().cells
            cells[0].text = labels[key] + (":" if rng.random() < 0.5 else "")
            if key == "purpose":
                _purpose_cell(cells[1], str(facts[key]), boxes)
            else:
                cells[1].text = _text_value(key, facts[key], style)
    elif layout == "table4":  # two fields a row: label, value, label, value
        table = doc.add_table(rows=0, cols=4)
        for i in range(0, len(keys), 2):
            cells = table.add_row().cells
            for j, key in enumerate(keys[i:i + 2]):
                cells[2 * j].text = labels[key]
                if key == "purpose":
                    _purpose_cell(cells[2 * j + 1], str(facts[key]), boxes)
                else:
                    cells[2 * j + 1].text = _text_value(key, facts[key], style)
    elif layout == "vertical":  # a row of labels over a row of values, four fields at a time
        for i in range(0, len(keys), 4):
            chunk = keys[i:i + 4]
            table = doc.add_table(rows=2, cols=len(chunk))
            for column, key in enumerate(chunk):
                table.rows[0].cells[column].text = labels[key]
                if key == "purpose":
                    _purpose_cell(table.rows[1].cells[column], str(facts[key]), boxes)
                else:
                    table.rows[1].cells[column].text = _text_value(key, facts[key], style)
            doc.add_paragraph("")
    elif layout == "stacked":  # a label paragraph, its value in the paragraph under it
        for key in keys:
            doc.add_paragraph(labels[key] + (":" if rng.random() < 0.5 else ""))
            if key == "purpose":
                _purpose_runs(doc.add_paragraph(), str(facts[key]), boxes)
            else:
                doc.add_paragraph(_text_value(key, facts[key], style) or "________")
    else:  # paragraphs, `Label: value`
        for key in keys:
            paragraph = doc.add_paragraph(f"{labels[key]}: ")
            if key == "purpose":
                if boxes == "legacy":
                    for k, label in PURPOSES.items():
                        _legacy_checkbox(paragraph, k == facts[key])
                        paragraph.add_run(f"{label}   ")
                else:
                    checked, unchecked = ("☒", "☐") if boxes == "glyph" else ("[X]", "[ ]")
                    paragraph.add_run(_boxes(str(facts[key]), checked, unchecked))
            else:
                paragraph.add_run(_text_value(key, facts[key], style) or "________")
    doc.add_heading("Element 1 - Management Leadership and Organizational Commitment", level=2)
    doc.add_paragraph("1.1 Is there a written health and safety policy? Score: 10/10")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue(), f"docx/{layout}/{boxes}"


# -- Excel -------------------------------------------------------------------------------------


def xlsx_tool(rng: random.Random, facts: dict, layout: str) -> tuple[bytes, str]:
    from openpyxl import Workbook

    labels = _labels(rng)
    book = Workbook()
    sheet = book.active
    sheet.title = rng.choice(["Evaluation", "Cover", "Sheet1"])
    sheet.append(["SECOR Evaluation Tool"])
    sheet.append([rng.choice(INSTRUCTIONS)])
    sheet.append([])
    gap = layout == "gap"  # the value one column further, past an empty merged-looking cell
    wide = layout == "wide"  # the value in column E: the label's cell merged across B-D
    for key in labels:
        value = facts[key]
        if key == "purpose":
            value = _boxes(str(value), "☒", "☐") if rng.random() < 0.5 else PURPOSES[str(value)]
        elif key == "wcb_account" and rng.random() < 0.5:
            value = int(str(value))
        if gap or wide:
            row = [labels[key] + (":" if rng.random() < 0.3 else ""), *[None] * (3 if wide else 1), value]
        else:
            row = [labels[key], value]
        sheet.append(row)
        if isinstance(value, date):
            cell = sheet.cell(row=sheet.max_row, column=len(row))
            cell.number_format = rng.choice(["yyyy-mm-dd", "mmmm d, yyyy", "dd-mmm-yyyy", "mm/dd/yyyy"])
    sheet.append([])
    sheet.append(["Element", "Score"])
    sheet.append(["1 Management Leadership", 0.88])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"xlsx/{layout}"


# -- the corpus --------------------------------------------------------------------------------


SHAPES = [("pdf", "same_line"), ("pdf", "next_line"), ("pdf", "two_per_line"), ("docx", "table"),
          ("docx", "vertical"), ("docx", "paragraphs"), ("xlsx", "adjacent"), ("xlsx", "gap"), ("form", "fields"),
          ("docx", "table4"), ("pdf", "table"), ("xlsx", "wide"), ("docx", "stacked")]
_BUILDERS = {"pdf": pdf_tool, "docx": docx_tool, "xlsx": xlsx_tool, "form": fillable_pdf_tool}


def corpus(count: int = 99, seed: int = 11) -> list[Tool]:
    """`count` tools over every shape (and one scan per eight), each with what it states."""
    rng = random.Random(seed)
    tools: list[Tool] = []
    for i in range(count):
        facts = _facts(rng)
        if i % 9 == 8:
            tools.append(Tool(f"SECOR Evaluation scan {i}.pdf", scanned_pdf(rng), "pdf/scan",
                              dict.fromkeys(facts)))
            continue
        kind, layout = SHAPES[i % len(SHAPES)]
        data, shape = _BUILDERS[kind](rng, facts, layout)
        tools.append(Tool(f"SECOR Evaluation {i}.{'pdf' if kind == 'form' else kind}", data, shape, facts))
    return tools


def read(tool: Tool) -> tuple[dict[str, object], dict[str, str]]:
    """What triage reads from one tool (its type sniffed from content, as in a submission)."""
    from triage.formats import sniff_file
    from triage.tool_facts import document_rows, read_facts

    ftype = sniff_file(io.BytesIO(tool.data), tool.name, len(tool.data))
    return read_facts(document_rows(io.BytesIO(tool.data), ftype))


def score(tools: list[Tool]) -> dict[str, dict[str, int]]:
    """Per field: values read (`read`), read and right (`right`), and stated in the tool (`stated`)."""
    from triage.tool_facts import FIELDS

    counts = {f: {"read": 0, "right": 0, "stated": 0} for f in FIELDS}
    for tool in tools:
        values, _ = read(tool)
        for name in FIELDS:
            got, want = values.get(name), tool.truth.get(name)
            counts[name]["stated"] += want is not None
            if got is not None:
                counts[name]["read"] += 1
                counts[name]["right"] += got == want
    return counts


def main() -> None:
    tools = corpus()
    counts = score(tools)
    print(f"{len(tools)} tools: " + ", ".join(sorted({t.shape.split('/')[0] + '/' + t.shape.split('/')[1]
                                                       for t in tools})))
    print(f"{'field':<18} {'precision':>10} {'recall':>8}  (right / read / stated)")
    for name, c in counts.items():
        precision = c["right"] / c["read"] if c["read"] else 1.0
        recall = c["right"] / c["stated"] if c["stated"] else 1.0
        print(f"{name:<18} {precision:>10.3f} {recall:>8.3f}  ({c['right']} / {c['read']} / {c['stated']})")


if __name__ == "__main__":
    main()
