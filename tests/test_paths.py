"""triage.paths gives what pathlib gives, for the names submissions hold."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from triage.paths import name_of, stem, suffix

NAMES = ["Report.pdf", "a.b.PDF", ".bashrc", "name.", "..", "noext", "._Report.pdf", "x.", ".a.b",
         "Element 1 - Policy/Safety Policy 2026.docx", "Wrapper/Element 2/scan0001.pdf", "élément.pdf",
         "a..pdf", "trailing dots..", "Copy of Report (1).pdf"]


@pytest.mark.parametrize("path", NAMES)
def test_pieces_match_pathlib(path: str) -> None:
    name = PurePosixPath(path).name
    assert name_of(path) == name
    assert stem(name) == PurePosixPath(name).stem
    assert suffix(name) == PurePosixPath(name).suffix


def test_numbered_names_keep_the_extension_and_count_from_two():
    from itertools import islice

    from triage.paths import numbered

    assert list(islice(numbered("SECOR.zip"), 3)) == ["SECOR.zip", "SECOR (2).zip", "SECOR (3).zip"]
    assert list(islice(numbered("Photos"), 2)) == ["Photos", "Photos (2)"]
    assert list(islice(numbered(".hidden"), 2)) == [".hidden", ".hidden (2)"]
