"""The triage engine: a zip or a folder in, a Report out (verdict, findings, summary, documents).

A zip is read once, without extracting it: each file is inflated, hashed and typed as it streams, and
the rules run on that listing (the few documents whose text a rule needs are inflated again). With
`keep_files` the same single pass also writes the files into `workdir/files`, for storage. A folder
is triaged in place and never written to; the files of a zip found inside it appear under the zip's
path minus `.zip` (it counts as one level of nesting). Any other single file is `archive.not_zip`.
Rules run in `triage.rules.RULES` order; the operator's severities are applied last.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Sequence

from triage.archive import ExtractResult, extract_zip, has_zip_signature, is_zip_file, not_zip_finding, read_zip
from triage.documentation import documentation_summary
from triage.elements import load_vocabulary
from triage.evaluation_tool import tool_folders
from triage.findings import SEVERITIES, Finding, apply_severities, finding
from triage.formats import FileType, sniff, sniff_file, with_article
from triage.report import DocumentInfo, Report, Source
from triage.rules import RULES, employees_stated
from triage.settings import ArchiveLimits, RuleSettings
from triage.submission import Document, Submission, Tree, scan_tree
from triage.tool_facts import ToolFacts


def triage_path(path: Path, limits: ArchiveLimits, rules: RuleSettings, workdir: Path,
                source: Source | None = None, keep_files: bool = False,
                prior_findings: Sequence[Finding] = ()) -> Report:
    """Triage a zip file or a folder, using `workdir` (an existing folder) for scratch space.

    With `keep_files`, a zip's files are left in `workdir/files` (nothing there when it is unusable).
    `prior_findings` (what went wrong before triage, e.g. one of several links) join the report's.
    Raises FileNotFoundError when `path` does not exist and triage.elements.UnknownVocabulary when
    the configured vocabulary does not exist."""
    path = Path(path)
    vocabulary = load_vocabulary(rules.vocabulary)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        source = source or Source(kind="folder", name=path.name)
        tree, findings = _folder_tree(path, limits, workdir)
        findings = [*prior_findings, *findings]
    elif has_zip_signature(path):  # the reader tells a truncated or corrupt zip from a good one
        source = source or Source(kind="zip", name=path.name)
        result, files = _read_zip(path, limits, workdir, keep_files)
        findings = [*prior_findings, *result.findings]
        if result.fatal:
            return finish_report(source, findings, rules.severities, empty_summary(vocabulary.name))
        tree = _zip_tree(result, files)
    else:
        source = source or Source(kind="zip", name=path.name)
        return finish_report(source, [*prior_findings, not_zip_finding(with_article(sniff(path).label), path.name)],
                             rules.severities, empty_summary(vocabulary.name))
    submission = Submission(tree, vocabulary)
    for rule in RULES:
        findings.extend(rule.check(submission, rules))
    dates = {d.path: d for d in submission.documentation}
    documents = [DocumentInfo(path=d.path, size=d.size, sha256=d.sha256, mime=d.ftype.mime,
                              element=_element_str(submission.element_of(d.path)),
                              date=dates[d.path].date.isoformat() if d.path in dates else None,
                              dated_by=dates[d.path].how if d.path in dates else None)
                 for d in submission.documents]
    return finish_report(source, findings, rules.severities, summarize(submission), documents)


def _read_zip(path: Path, limits: ArchiveLimits, workdir: Path,
              keep_files: bool) -> tuple[ExtractResult, Path | None]:
    """Read a zip (or extract it into `workdir/files`), typing each file as it streams; the folder
    its files were extracted into, or None."""
    target = workdir / ("files" if keep_files else "scratch")
    target.mkdir(parents=True, exist_ok=True)
    if keep_files:
        return extract_zip(path, target, limits, inspect=sniff_member), target
    return read_zip(path, target, limits, inspect=sniff_member), None


def sniff_member(path: str, content: BinaryIO, size: int) -> FileType:
    """The type of a zip's file from its content as it streams (an `Inspect` for the zip reader)."""
    return sniff_file(content, path.rpartition("/")[2], size)


def _zip_tree(result: ExtractResult, extracted: Path | None, prefix: str = "") -> Tree:
    """The documents and folders of a zip that was read (or extracted into `extracted`), under `prefix`."""
    tree = Tree(folders=[prefix + f for f in result.folders])
    for file in result.files:
        ftype = file.note if isinstance(file.note, FileType) else None
        if extracted is not None:
            document = Document(prefix + file.path, file.size, abspath=extracted / file.path,
                                ftype=ftype, sha256=file.sha256)
        else:
            document = Document(prefix + file.path, file.size, member=file, ftype=ftype, sha256=file.sha256)
        tree.documents.append(document)
    return tree


def empty_summary(vocabulary: str) -> dict[str, Any]:
    """The summary of a submission that could not be opened or downloaded: nothing read, every fact null."""
    return {"files": 0, "bytes": 0, "evaluation_tool": None, "elements": {}, "vocabulary": vocabulary,
            "tool": ToolFacts().summary()}


def _element_str(number: int | None) -> str | None:
    return None if number is None else str(number)


def finish_report(source: Source, findings: Sequence[Finding], severities: dict[str, str], summary: dict[str, Any],
                  documents: Sequence[DocumentInfo] = ()) -> Report:
    """The one place a report is finished: the operator's severities applied, findings in a stable order.
    Every report (triage, a failed download, a message with nothing to triage) is built here."""
    ordered = sorted(apply_severities(list(findings), severities), key=_finding_order)
    return Report(source=source, findings=ordered, summary=summary, documents=list(documents))


def _finding_order(f: Finding) -> tuple[int, str, str]:
    """Severity (reject first), then path (none first), then code; ties keep the rules' order."""
    rank = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)
    return (rank, f.path or "", f.code)


def _folder_tree(root: Path, limits: ArchiveLimits, workdir: Path) -> tuple[Tree, list[Finding]]:
    """The tree of a folder, with the zips inside it extracted into `workdir` and put in their place."""
    scanned = scan_tree(root)
    tree = Tree(folders=list(scanned.folders), links=list(scanned.links))
    findings: list[Finding] = []
    inner_limits = dataclasses.replace(limits, max_nesting=max(limits.max_nesting - 1, 0))
    zips = 0
    for document in scanned.documents:
        if not document.name.lower().endswith(".zip"):
            tree.documents.append(document)
            continue
        zip_path = document.abspath
        assert zip_path is not None  # scan_tree lists files on disk
        if limits.max_nesting < 1 and is_zip_file(zip_path):
            findings.append(finding("archive.bomb", f"'{document.path}' is a zip inside the submission, and zips "
                                    "inside the submission are not allowed by this inbox's limits. Please "
                                    "unzip it into its folder.", document.path))
            continue
        zips += 1
        scratch = workdir / "zips" / str(zips)
        scratch.mkdir(parents=True, exist_ok=True)
        logical = document.path[: -len(".zip")]
        # the reader also judges a `.zip` that is not one (archive.not_zip) or is damaged (archive.corrupt)
        result = read_zip(zip_path, scratch, inner_limits, inspect=sniff_member)
        findings.extend(_prefixed(f, logical, document.path) for f in result.findings)
        if result.fatal:  # nothing read: the file stays a document of the submission
            tree.documents.append(document)
            continue
        tree.folders.append(logical)
        tree.add(_zip_tree(result, None, prefix=logical + "/"))
    return tree, findings


def _prefixed(f: Finding, prefix: str, zip_path: str) -> Finding:
    """A finding from a zip inside a folder, with its path made a path of the submission."""
    path = f"{prefix}/{f.path}" if f.path else zip_path
    return dataclasses.replace(f, path=path)


def summarize(submission: Submission) -> dict[str, Any]:
    """The report summary: the contract's fields (files, bytes, evaluation_tool, elements) and detail for QA."""
    tool = submission.evaluation_tool
    elements: dict[str, str | None] = {}
    details: dict[str, Any] = {}
    for element in submission.vocabulary.elements:
        key = str(element.number)
        folders = submission.element_folders.get(element.number, [])
        elements[key] = PurePosixPath(folders[0]).name if folders else None
        rows = []
        for folder in folders:
            docs = submission.documents_under(folder)
            match = submission.element_matches[folder]
            rows.append({"path": folder, "how": match.how, "files": len(docs), "bytes": sum(d.size for d in docs),
                         "conflict": match.conflict.number if match.conflict else None})
        details[key] = {"name": element.name, "folders": rows, "files": sum(r["files"] for r in rows),
                        "bytes": sum(r["bytes"] for r in rows)}
    holding_tool = set(tool_folders(submission))
    unknown = [f for f, m in sorted(submission.element_matches.items())
               if m.element is None and f not in holding_tool]
    return {
        "files": len(submission.documents),
        "bytes": sum(d.size for d in submission.documents),
        "evaluation_tool": tool.primary.path if tool.primary else None,
        "evaluation_tool_parts": [d.path for d in tool.parts],
        "evaluation_tool_found_by": tool.how,
        "elements": elements,
        "element_details": details,
        "wrapper": submission.wrapper,
        "unknown_folders": unknown,
        "employees_stated": employees_stated(submission),
        "tool": submission.tool_facts.summary(),
        "tool_sources": submission.tool_facts.sources,
        "documentation": documentation_summary(submission),
        "vocabulary": submission.vocabulary.name,
    }
