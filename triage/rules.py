"""The triage rules, in the manner of GNU Mailman 3's rules: small named checks the engine runs in order.

Each rule has a `name`, a one-line `description`, the finding `codes` it may emit, and
`check(submission, settings)` that yields findings at their default severity (the engine applies the
operator's overrides). Messages are plain language, fit to quote to the submitter: what is wrong and
what to do. `RULES` is the ordered registry the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Callable, Iterable, Iterator

from triage.dates import months_between
from triage.evaluation_tool import read_employees, tool_folders
from triage.findings import Finding, finding
from triage.formats import extension_mismatch, with_article
from triage.names import unclear_name
from triage.paths import name_of
from triage.settings import RuleSettings
from triage.submission import Submission

CheckFn = Callable[[Submission, RuleSettings], Iterable[Finding]]

# More unclear names than this in one folder are reported as one finding for the folder.
UNCLEAR_NAMES_PER_FOLDER = 10
# Element folders may hold one level of subfolders (element/month/document); deeper is hard to follow.
MAX_ELEMENT_SUBFOLDER_DEPTH = 1


@dataclass(frozen=True)
class Rule:
    """One named check over a submission."""

    name: str
    description: str
    codes: tuple[str, ...]
    check_fn: CheckFn

    def check(self, submission: Submission, settings: RuleSettings) -> Iterable[Finding]:
        """The findings this rule makes on `submission` (default severities)."""
        return self.check_fn(submission, settings)


RULES: list[Rule] = []


def rule(name: str, description: str, codes: tuple[str, ...]) -> Callable[[CheckFn], Rule]:
    """Register a check function as a rule, in definition order."""

    def register(fn: CheckFn) -> Rule:
        registered = Rule(name=name, description=description, codes=codes, check_fn=fn)
        RULES.append(registered)
        return registered

    return register


def _quoted(path: str) -> str:
    return f"'{path}'"


# -- the evaluation tool -------------------------------------------------------------------------


@rule("evaluation-tool", "The completed evaluation tool is there, whole, as its own document at the top.",
      ("structure.no_evaluation_tool", "structure.evaluation_tool_split", "structure.evaluation_tool_buried"))
def _evaluation_tool(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    tool = sub.evaluation_tool
    if not tool.found:
        yield finding("structure.no_evaluation_tool",
                      "We could not find the SECOR evaluation tool. Please include the completed evaluation "
                      "tool as its own document at the top of the submission, with a clear name such as "
                      "'SECOR Evaluation 2026.pdf'.")
        return
    primary = tool.primary
    assert primary is not None
    if tool.split:
        names = ", ".join(_quoted(d.path) for d in tool.parts)
        if len(tool.parts) > 1:
            text = f"The evaluation tool seems to be in {len(tool.parts)} pieces or copies ({names}). "
        else:
            text = f"The evaluation tool {names} is named as one piece of several. "
        yield finding("structure.evaluation_tool_split",
                      text + "Please send the evaluation tool as one complete document.", primary.path)
    if tool.buried:
        folder = primary.folder or "/"
        yield finding("structure.evaluation_tool_buried",
                      f"The evaluation tool {_quoted(primary.path)} is inside the folder {_quoted(folder)}. "
                      "Please keep it as its own document at the top of the submission, outside the "
                      "element folders.", primary.path)


# -- elements and folders ------------------------------------------------------------------------


@rule("missing-element", "Every element of the vocabulary has a folder.", ("structure.missing_element",))
def _missing_element(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for element in sub.vocabulary.elements:
        if element.number not in sub.element_folders:
            yield finding("structure.missing_element",
                          f"There is no folder for Element {element.number} ({element.name}). Please add a "
                          f"folder named for example 'Element {element.number} - {element.name}' with its "
                          "documents.")


@rule("empty-element", "Every element folder holds documents.", ("structure.empty_element",))
def _empty_element(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for number, folders in sorted(sub.element_folders.items()):
        if any(sub.documents_under(f) for f in folders):
            continue
        element = sub.vocabulary.element(number)
        assert element is not None
        for folder in folders:
            yield finding("structure.empty_element",
                          f"The folder {_quoted(name_of(folder))} for Element {number} ({element.name}) "
                          "holds no documents. Please add the documents for this element.", folder)


@rule("duplicate-element", "Say when several folders match one element (their documents all count for it).",
      ("structure.duplicate_element",))
def _duplicate_element(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for number, folders in sorted(sub.element_folders.items()):
        if len(folders) > 1:
            names = ", ".join(_quoted(name_of(f)) for f in folders)
            yield finding("structure.duplicate_element",
                          f"Several folders match Element {number}: {names}. Their documents all count for "
                          "that element.", folders[1])


@rule("element-name-conflict", "Say when a folder's number and name point to different elements.",
      ("structure.element_name_conflict",))
def _element_name_conflict(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for folder, match in sorted(sub.element_matches.items()):
        if match.conflict is not None and match.element is not None:
            yield finding("structure.element_name_conflict",
                          f"The folder {_quoted(match.folder)} is numbered as Element {match.element.number} "
                          f"({match.element.name}) but its name suggests Element {match.conflict.number} "
                          f"({match.conflict.name}); we took the number.", folder)


@rule("unknown-folder", "Every top-level folder is an element folder (or holds the evaluation tool).",
      ("structure.unknown_folder",))
def _unknown_folder(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    holding_tool = set(tool_folders(sub))
    for folder, match in sorted(sub.element_matches.items()):
        if match.element is None and folder not in holding_tool:
            count = len(sub.documents_under(folder))
            holds = "1 document" if count == 1 else f"{count} documents"
            yield finding("structure.unknown_folder",
                          f"The folder {_quoted(name_of(folder))} ({holds}) does not match any "
                          "element. Please name each folder after its element (for example 'Element 1 - "
                          "Management Leadership') and move these documents into the element folders they "
                          "support.", folder)


@rule("unfiled-document", "Every document other than the evaluation tool is inside an element folder.",
      ("structure.unfiled_document",))
def _unfiled_document(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    tool_parts = {d.path for d in sub.evaluation_tool.parts}
    for document in sub.top_documents:
        if document.path not in tool_parts:
            yield finding("structure.unfiled_document",
                          f"{_quoted(document.name)} is not inside any element folder. Please move it into "
                          "the folder of the element it supports.", document.path)


@rule("deep-folder", "Element folders hold at most one level of subfolders.", ("structure.deep_folder",))
def _deep_folder(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for folder in sub.folders:
        top = sub.top_folder_of(folder)
        if top is None or sub.element_of(folder) is None:
            continue
        depth = len(PurePosixPath(folder).relative_to(top).parts)
        if depth == MAX_ELEMENT_SUBFOLDER_DEPTH + 1:  # the first level too deep; deeper ones are inside it
            yield finding("structure.deep_folder",
                          f"The folder {_quoted(folder)} is nested {depth} levels deep inside the element "
                          f"folder {_quoted(name_of(top))}. Please keep at most one level of subfolders "
                          "inside an element folder.", folder)


# -- labels, formats, volume ---------------------------------------------------------------------


@rule("unclear-name", "Every file and folder name says what it holds.", ("label.unclear_name",))
def _unclear_name(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    exempt = {f for f, m in sub.element_matches.items() if m.element is not None}
    if sub.wrapper:
        exempt.add(sub.wrapper)
    for folder in sub.folders:
        if folder not in exempt and unclear_name(name_of(folder), folder=True):
            yield finding("label.unclear_name",
                          f"The folder name {_quoted(name_of(folder))} does not say what it holds. "
                          "Please rename it after its element or its contents.", folder)
    for folder, documents in sorted(sub.documents_by_folder.items()):
        unclear = [d for d in documents if unclear_name(d.name)]
        if len(unclear) > UNCLEAR_NAMES_PER_FOLDER:
            examples = ", ".join(_quoted(d.name) for d in unclear[:3])
            yield finding("label.unclear_name",
                          f"{len(unclear)} documents in {_quoted(folder or '/')} have names that do not say "
                          f"what they are (for example {examples}). Please rename each one after its "
                          "content, for example '2026-03 Site inspection.pdf'.", folder or None)
            continue
        for document in unclear:
            yield finding("label.unclear_name",
                          f"The name {_quoted(document.name)} does not say what the document is. Please rename "
                          "it after its content, for example '2026-03 Site inspection.pdf'.", document.path)


@rule("file-format", "Every document is in a format QA can open safely: no paper-era, unsafe, empty, "
      "mislabelled or non-zip archive files (one finding per file, the most serious).",
      ("format.paper_era", "format.unsafe", "format.mismatch", "format.empty", "archive.not_zip"))
def _file_format(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for document in sub.documents:
        ftype = document.ftype
        name = _quoted(document.name)
        # A `.zip` name was opened when the submission was unpacked, or judged there (not_zip, corrupt).
        unpacked = document.name.lower().endswith(".zip")
        if ftype.family == "empty":
            yield finding("format.empty", f"{name} is {with_article(ftype.label)}. Please send the document "
                          "again, or remove it.", document.path)
        elif ftype.family == "paper_era":
            yield finding("format.paper_era", f"{name} is in a format QA cannot use ({ftype.label}): "
                          f"{ftype.reason or 'please convert it to PDF'}.",
                          document.path)
        elif ftype.family == "unsafe":
            yield finding("format.unsafe", f"{name} was refused: {ftype.reason or 'it is not safe to open'}. "
                          "Please remove it from the submission.", document.path)
        elif unpacked:
            continue
        elif ftype.family == "archive" and ftype.mime != "application/zip":
            yield finding("archive.not_zip", f"{name} is an archive we cannot open ({ftype.label}); we can only "
                          "open zip files. Please put its documents in the zip itself, in their element folders.", document.path)
        elif mismatch := extension_mismatch(document.name, ftype):
            yield finding("format.mismatch", f"{name} {mismatch}. Please save it in its real format with "
                          "the matching extension (PDF is best).", document.path)


@rule("links", "A folder given to triage holds real files, not links or devices.", ("archive.unsafe_path",))
def _links(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    for path in sub.links:
        yield finding("archive.unsafe_path", f"{_quoted(path)} is a link or special file, not a document; it "
                      "was not read. Please include the document itself.", path)


@rule("over-submission", "No folder holds more documents than the sampling guide asks for.",
      ("volume.over_submission",))
def _over_submission(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    limit = settings.max_documents_per_folder
    for folder, documents in sorted(sub.documents_by_folder.items()):
        if len(documents) > limit:
            yield finding("volume.over_submission",
                          f"The folder {_quoted(folder or '/')} holds {len(documents)} documents; the sampling "
                          f"guide asks for at most {limit} (one or two a month for the year, or one or two a "
                          "week for the busiest three months). Please send only that sample: sending more "
                          "can get the submission returned, and QA may ask for more later.", folder or None)


# -- eligibility ---------------------------------------------------------------------------------


def employees_stated(sub: Submission) -> int | None:
    """The number of employees the evaluation tool states, or None (no tool, or not readable)."""
    if not sub.evaluation_tool.found:
        return None
    stated = sub.tool_facts.int_value("employees")
    return stated if stated is not None else read_employees(sub.evaluation_text)


@rule("employees", "The employer has no more than the SECOR maximum of employees.",
      ("eligibility.too_many_employees", "eligibility.employees_not_stated"))
def _employees(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    tool = sub.evaluation_tool.primary
    if tool is None:
        return
    count = employees_stated(sub)
    if count is None:
        yield finding("eligibility.employees_not_stated",
                      "We could not read the number of employees from the evaluation tool; QA will check it.",
                      tool.path)
    elif count > settings.max_employees:
        yield finding("eligibility.too_many_employees",
                      f"The evaluation tool states {count} employees. SECOR is for employers with no more "
                      f"than {settings.max_employees} employees (everyone on the WCB account in the past 12 "
                      "months); an employer with more must apply for COR instead.", tool.path)


@rule("wcb-account", "The evaluation tool states the employer's WCB account number.", ("tool.wcb_account_missing",))
def _wcb_account(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    tool = sub.evaluation_tool.primary
    if tool is not None and sub.tool_facts.values["wcb_account"] is None:
        yield finding("tool.wcb_account_missing",
                      "We could not read the employer's WCB-Alberta account number from the evaluation tool. "
                      "Please make sure the tool states it (for example 'WCB Account #: 1234567'), in a "
                      "document with text rather than a scan.", tool.path)


# -- documentation and timing --------------------------------------------------------------------

MIN_DOCUMENTATION_MONTHS = 3  # SECOR: at least three months of HSMS documentation before the evaluation
EVALUATION_LOOKBACK = timedelta(days=365)  # documents older than this before the evaluation end are out of period
DATED_EXAMPLES = 10  # more documents out of period than this make one finding


@rule("documentation-span", "The dated documentation covers at least three months.",
      ("eligibility.documentation_too_short",))
def _documentation_span(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    dates = [d.date for d in sub.documentation]
    if not dates:
        return
    earliest, latest = min(dates), max(dates)
    months = months_between(earliest, latest)
    if months < MIN_DOCUMENTATION_MONTHS:
        yield finding("eligibility.documentation_too_short",
                      f"The dated documents in your submission cover only {months:.1f} months (from "
                      f"{earliest:%B %-d, %Y} to {latest:%B %-d, %Y}). SECOR asks for at least three months of "
                      "health and safety documentation before the evaluation. Please include records that "
                      "cover at least three months, with the date in each file name (for example "
                      "'2026-03-14 Site Inspection.pdf').")


@rule("evaluation-period", "Documents are dated within the 12 months before the evaluation end.",
      ("timing.outside_evaluation_period",))
def _evaluation_period(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    end = sub.tool_facts.date_value("evaluation_end")
    if end is None:
        return
    start = end - EVALUATION_LOOKBACK
    outside = [d for d in sub.documentation if d.date > end or d.date < start]
    period = f"the 12 months before the evaluation end ({end:%B %-d, %Y})"
    if len(outside) > DATED_EXAMPLES:
        examples = ", ".join(_quoted(d.path) for d in outside[:3])
        yield finding("timing.outside_evaluation_period",
                      f"{len(outside)} documents are dated outside {period}, for example {examples}. "
                      "Please check that they belong to this evaluation.")
        return
    for d in outside:
        when = "after the evaluation ended" if d.date > end else "more than 12 months before the evaluation ended"
        yield finding("timing.outside_evaluation_period",
                      f"{_quoted(name_of(d.path))} is dated {d.date:%B %-d, %Y}, {when} ({end:%B %-d, %Y}). "
                      "Please check that it belongs to this evaluation.", d.path)


@rule("late-submission", "The tool was submitted within the allowed days after the evaluation end.",
      ("timing.late_submission",))
def _late_submission(sub: Submission, settings: RuleSettings) -> Iterator[Finding]:
    facts = sub.tool_facts
    end, submitted = facts.date_value("evaluation_end"), facts.date_value("submitted_on")
    if end is None or submitted is None:
        return
    days = (submitted - end).days
    if days > settings.late_submission_days:
        yield finding("timing.late_submission",
                      f"The evaluation tool gives {submitted:%B %-d, %Y} as the submission date, {days} days "
                      f"after the evaluation ended ({end:%B %-d, %Y}); evaluations are due within "
                      f"{settings.late_submission_days} days of the end. If that date is wrong, please correct "
                      "it in the tool; if it is right, QA will contact you.",
                      sub.evaluation_tool.primary.path if sub.evaluation_tool.primary else None)
