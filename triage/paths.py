"""Pieces of posix paths and file names by string operations, exactly as pathlib gives them.

The rules look at every name of a 5,000-file submission several times; PurePosixPath costs a few
microseconds a call, these a fraction of one.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Iterator


def name_of(path: str) -> str:
    """The last component: `PurePosixPath(path).name` for the normalised paths we build."""
    return path.rpartition("/")[2]


def stem(name: str) -> str:
    """The name without its extension: `PurePosixPath(name).stem` (`.bashrc` and `name.` keep theirs)."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def suffix(name: str) -> str:
    """The extension with its dot, or "": `PurePosixPath(name).suffix`."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


# OS litter that is never part of a submission, compared case-insensitively.
JUNK_FOLDERS = frozenset({"__macosx"})
JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})


def is_junk(name: str) -> bool:
    """A junk folder, a junk file, or an AppleDouble `._*` file."""
    folded = name.casefold()
    return folded in JUNK_FOLDERS or folded in JUNK_FILES or folded.startswith("._")


def is_junk_path(parts: list[str]) -> bool:
    """A path (its components) inside a junk folder, or naming a junk file."""
    return any(p.casefold() in JUNK_FOLDERS for p in parts) or bool(parts) and is_junk(parts[-1])


MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200  # UTF-8, leaving room for " (n)" under the usual 255-byte limit
_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                               *(f"LPT{i}" for i in range(10))})


def safe_name(name: str | None, fallback: str) -> str:
    """One safe file or folder name from a name someone else chose (an attachment, a download).

    No folders, no control, format or Windows-forbidden characters, no leading or trailing dots and
    spaces, no Windows reserved device names, at most MAX_NAME_CHARS characters and MAX_NAME_BYTES
    bytes (the extension kept); `fallback` when nothing is left.
    """
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join("_" if unicodedata.category(ch)[0] == "C" or ch in '<>:"|?*' else ch for ch in name)
    name = re.sub(r"\s+", " ", name).strip(" .") or fallback
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_NAME_CHARS].rstrip(" .")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:  # long non-Latin names: cut the stem
        stem, dot, ext = name.rpartition(".")
        name = (stem[:-1] + dot + ext) if dot and stem else name[:-1]
    return name


def numbered(name: str) -> Iterator[str]:
    """`name`, then `stem (2).ext`, `stem (3).ext`...: the names to try when `name` is taken."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    yield name
    for n in itertools.count(2):
        yield f"{stem} ({n}){dot}{ext}"
