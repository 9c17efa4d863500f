"""The triage engine: a zip or a folder in, a Report out (verdict, findings, summary, documents).

A zip is extracted into `workdir/files` and that tree is triaged. A folder is triaged in place and
never written to; a zip found inside it is extracted into `workdir` and its files appear under the
zip's path minus `.zip` (it counts as one level of nesting). Any other single file is `archive.not_zip`.
Rules run in `triage.rules.RULES` order; the operator's severities are applied last.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath
from typing import Any

from triage.archive import ExtractedFile, extract_zip, has_zip_signature, is_zip_file
from triage.elements import load_vocabulary
from triage.evaluation_tool import tool_folders
from triage.findings import SEVERITIES, Finding, apply_severities, finding
from triage.formats import sniff
from triage.report import DocumentInfo, Report, Source
from triage.rules import RULES, employees_stated
from triage.settings import ArchiveLimits, RuleSettings
from triage.submission import Submission, Tree, scan_tree


def triage_path(path: Path, limits: ArchiveLimits, rules: RuleSettings, workdir: Path,
                source: Source | None = None) -> Report:
    """Triage a zip file or a folder. Raises FileNotFoundError when `path` does not exist and
    triage.elements.UnknownVocabulary when the configured vocabulary does not exist."""
    path = Path(path)
    vocabulary = load_vocabulary(rules.vocabulary)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        source = source or Source(kind="folder", name=path.name)
        tree, findings = _folder_tree(path, limits, workdir)
    elif has_zip_signature(path):  # extract_zip tells a truncated or corrupt zip from a good one
        source = source or Source(kind="zip", name=path.name)
        dest = workdir / "files"
        dest.mkdir(parents=True, exist_ok=True)
        result = extract_zip(path, dest, limits)
        findings = list(result.findings)
        if result.fatal:
            return _report(source, findings, rules, {"files": 0, "bytes": 0, "evaluation_tool": None,
                                                     "elements": {}, "vocabulary": vocabulary.name}, [])
        tree = scan_tree(dest)
        _known_hashes(tree, result.files)
    else:
        source = source or Source(kind="zip", name=path.name)
        ftype = sniff(path)
        message = (f"{path.name!r} is {ftype.label}, not a zip file. Please send your submission folder as a "
                   "zip file (in Windows: right-click the folder, then Send to, Compressed (zipped) folder).")
        return _report(source, [finding("archive.not_zip", message, path.name)], rules,
                       {"files": 0, "bytes": 0, "evaluation_tool": None, "elements": {},
                        "vocabulary": vocabulary.name}, [])
    submission = Submission(tree, vocabulary)
    for rule in RULES:
        findings.extend(rule.check(submission, rules))
    documents = [DocumentInfo(path=d.path, size=d.size, sha256=d.sha256, mime=d.ftype.mime,
                              element=_element_str(submission.element_of(d.path)))
                 for d in submission.documents]
    return _report(source, findings, rules, summarize(submission), documents)


def _known_hashes(tree: Tree, files: list[ExtractedFile]) -> None:
    """Give documents the SHA-256 extraction computed (Document.sha256 is cached), unless they differ."""
    hashes = {f.path: (f.size, f.sha256) for f in files if f.sha256}
    for document in tree.documents:
        size, digest = hashes.get(document.path, (None, ""))
        if digest and size == document.size:
            document.__dict__["sha256"] = digest  # what functools.cached_property would store


def _element_str(number: int | None) -> str | None:
    return None if number is None else str(number)


def _report(source: Source, findings: list[Finding], rules: RuleSettings, summary: dict[str, Any],
            documents: list[DocumentInfo]) -> Report:
    """The report with the operator's severities applied and findings in a stable order."""
    ordered = sorted(apply_severities(findings, rules.severities), key=_finding_order)
    return Report(source=source, findings=ordered, summary=summary, documents=documents)


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
        if limits.max_nesting < 1 and is_zip_file(document.abspath):
            findings.append(finding("archive.bomb", f"'{document.path}' is a zip inside the submission, and zips "
                                    "inside the submission are not allowed by this inbox's limits. Please "
                                    "unzip it into its folder.", document.path))
            continue
        zips += 1
        dest = workdir / "zips" / str(zips)
        dest.mkdir(parents=True, exist_ok=True)
        logical = document.path[: -len(".zip")]
        # extract_zip also judges a `.zip` that is not one (archive.not_zip) or is damaged (archive.corrupt)
        result = extract_zip(document.abspath, dest, inner_limits)
        findings.extend(_prefixed(f, logical, document.path) for f in result.findings)
        if result.fatal:  # nothing extracted: the file stays a document of the submission
            tree.documents.append(document)
            continue
        tree.folders.append(logical)
        tree.add(scan_tree(dest, prefix=logical))
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
        "vocabulary": submission.vocabulary.name,
    }
