"""A submission as the rules see it: its documents and folders, and the analyses several rules share.

A `Submission` is built from a tree of documents: the files of a zip (read without extracting it, or
extracted) or of a folder given to `triage`. Paths are logical posix paths inside the submission
(`Element 3/training.pdf`), also when a document's bytes lie elsewhere (the files of a zip found inside
a folder appear under the zip's path minus `.zip`). OS junk (`__MACOSX/`, `.DS_Store`, `Thumbs.db`,
`desktop.ini`, AppleDouble `._*` files) is not part of a submission. Links are never followed: they are listed in `links`.

Shared analyses (element matching, the evaluation tool, its text) are computed once, on first use.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from triage import paths
from triage.archive import ExtractedFile
from triage.documentation import Dated, date_documents
from triage.elements import ElementMatch, Vocabulary, match_folder
from triage.evaluation_tool import EvaluationTool, find_evaluation_tool, is_tool_folder_name
from triage.formats import FileType, sniff_file
from triage.text import extract_text
from triage.tool_facts import ToolFacts, read_tool_facts

TEXT_MAX_CHARS = 100_000


class Document:
    """One file of the submission: its logical path, size and where its bytes are (a file on disk,
    or a file of a zip read without extracting it). Type and hash are computed on first use unless
    the reading that found the file already knew them."""

    def __init__(self, path: str, size: int, *, abspath: Path | None = None, member: ExtractedFile | None = None,
                 ftype: FileType | None = None, sha256: str | None = None) -> None:
        if (abspath is None) == (member is None):
            raise ValueError("a document is either on disk or in a zip")
        self.path = path  # logical posix path inside the submission
        self.size = size
        self.abspath = abspath
        self.member = member
        folder, _, self.name = path.rpartition("/")
        self.folder = folder  # the logical folder holding the document, "" at the root
        self._ftype = ftype
        self._sha256 = sha256

    def __repr__(self) -> str:
        return f"Document({self.path!r}, {self.size})"

    def open(self) -> BinaryIO:
        """The content as a seekable binary file."""
        if self.abspath is not None:
            return open(self.abspath, "rb")
        assert self.member is not None  # the constructor requires one of the two
        return self.member.open()

    @property
    def ftype(self) -> FileType:
        """The type sniffed from content; a file we cannot read counts as empty."""
        if self._ftype is None:
            try:
                with self.open() as fh:
                    self._ftype = sniff_file(fh, self.name, self.size)
            except OSError:
                self._ftype = FileType("application/octet-stream", "empty", "unreadable file")
        return self._ftype

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content ("" when the file cannot be read)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            try:
                with self.open() as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                self._sha256 = digest.hexdigest()
            except OSError:
                self._sha256 = ""
        return self._sha256


@dataclass
class Tree:
    """What a walk of a folder found: documents, folders (logical paths) and links not followed."""

    documents: list[Document] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def add(self, other: Tree) -> None:
        self.documents += other.documents
        self.folders += other.folders
        self.links += other.links


def scan_tree(root: Path, prefix: str = "") -> Tree:
    """Every regular file and folder under `root`, junk skipped, links listed but not followed."""
    tree = Tree()
    base = PurePosixPath(prefix) if prefix else None

    def logical(rel: str) -> str:
        return str(base / rel) if base else rel

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        kept = []
        for d in sorted(dirnames):
            if paths.is_junk(d):
                continue
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if os.path.islink(os.path.join(dirpath, d)):
                tree.links.append(logical(rel))
                continue
            kept.append(d)
            tree.folders.append(logical(rel))
        dirnames[:] = kept
        for f in sorted(filenames):
            if paths.is_junk(f):
                continue
            full = Path(dirpath) / f
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if full.is_symlink() or not full.is_file():  # links, sockets, devices: never read
                tree.links.append(logical(rel))
                continue
            tree.documents.append(Document(logical(rel), full.stat().st_size, abspath=full))
    return tree


class Submission:
    """The documents and folders of one submission, with the analyses the rules share."""

    def __init__(self, tree: Tree, vocabulary: Vocabulary):
        self.documents = sorted(tree.documents, key=lambda d: d.path)
        self.folders = sorted(set(tree.folders))
        self.links = sorted(tree.links)
        self.vocabulary = vocabulary
        self._texts: dict[str, str] = {}

    @classmethod
    def from_folder(cls, root: Path, vocabulary: Vocabulary) -> Submission:
        return cls(scan_tree(root), vocabulary)

    # -- layout -------------------------------------------------------------------------------

    @cached_property
    def wrapper(self) -> str | None:
        """The one folder that wraps everything (`Acme SECOR 2026/`), if any; only one is tolerated."""
        top_folders = [f for f in self.folders if "/" not in f]
        if len(top_folders) != 1 or any(d.folder == "" for d in self.documents):
            return None
        only = top_folders[0]
        if match_folder(only, self.vocabulary).element is not None or is_tool_folder_name(only):
            return None
        return only

    @property
    def top(self) -> str:
        """The logical folder that holds the element folders: the wrapper, or "" for the root."""
        return self.wrapper or ""

    def relative(self, path: str) -> str:
        """A path relative to the top (the wrapper taken off)."""
        top = self.top
        return path[len(top) + 1:] if top and path.startswith(top + "/") else path

    @cached_property
    def top_folders(self) -> list[str]:
        """Folders directly under the top, as logical paths."""
        if not self.top:
            return [f for f in self.folders if "/" not in f]
        prefix = self.top + "/"
        return [f for f in self.folders if f.startswith(prefix) and "/" not in f[len(prefix):]]

    @cached_property
    def top_documents(self) -> list[Document]:
        """Documents directly under the top (loose files)."""
        return [d for d in self.documents if d.folder == self.top]

    def top_folder_of(self, path: str) -> str | None:
        """The top folder a logical path lies in, or None when it lies directly under the top."""
        rel = self.relative(path)
        if self.top and rel == path:
            return None
        first, sep, _ = rel.partition("/")
        if not sep:
            return None
        return f"{self.top}/{first}" if self.top else first

    # -- elements -----------------------------------------------------------------------------

    @cached_property
    def element_matches(self) -> dict[str, ElementMatch]:
        """Each top folder's match against the vocabulary, by logical folder path."""
        return {f: match_folder(paths.name_of(f), self.vocabulary) for f in self.top_folders}

    @cached_property
    def element_folders(self) -> dict[int, list[str]]:
        """Element number -> the top folders that matched it (in path order)."""
        out: dict[int, list[str]] = {}
        for folder, match in self.element_matches.items():
            if match.element is not None:
                out.setdefault(match.element.number, []).append(folder)
        return out

    def element_of(self, path: str) -> int | None:
        """The element number a document or folder is filed under, or None."""
        top = self.top_folder_of(path)
        if top is None:
            return None
        match = self.element_matches.get(top)
        return match.element.number if match and match.element else None

    @cached_property
    def documents_by_folder(self) -> dict[str, list[Document]]:
        """Documents directly in each folder ("" for the root)."""
        out: dict[str, list[Document]] = {}
        for d in self.documents:
            out.setdefault(d.folder, []).append(d)
        return out

    def documents_under(self, folder: str) -> list[Document]:
        """Documents in a folder and all its subfolders."""
        prefix = folder + "/"
        return [d for d in self.documents if d.path.startswith(prefix)]

    # -- evaluation tool ----------------------------------------------------------------------

    @cached_property
    def evaluation_tool(self) -> EvaluationTool:
        return find_evaluation_tool(self)

    def text_of(self, document: Document) -> str:
        """The document's text (read once; "" when it has none or cannot be read)."""
        if document.path not in self._texts:
            try:
                with document.open() as content:
                    text = extract_text(content, document.ftype, max_chars=TEXT_MAX_CHARS)
            except Exception:  # a damaged file has no text; format rules report it
                text = ""
            self._texts[document.path] = text or ""
        return self._texts[document.path]

    @cached_property
    def tool_facts(self) -> ToolFacts:
        """What the evaluation tool states (employer, WCB account, purpose, dates...), read from it alone."""
        return read_tool_facts(self.evaluation_tool.parts)

    @cached_property
    def documentation(self) -> list[Dated]:
        """The supporting documents that carry a date (in the name, else on the first page or in metadata)."""
        return date_documents(self)

    @property
    def texts_read(self) -> int:
        """How many documents' text has been read so far (content reading is bounded)."""
        return len(self._texts)

    @cached_property
    def evaluation_text(self) -> str:
        """The text of the evaluation tool, all its pieces together."""
        return "\n".join(self.text_of(d) for d in self.evaluation_tool.parts)
