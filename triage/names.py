"""File and folder names that say nothing about what they hold.

Its own module because both the submission model and the evaluation-tool search use it: the
evaluation tool must not import `triage.submission` (which imports it).
"""

from __future__ import annotations

import re

from triage import paths

# Words that say nothing about a document: camera, scanner and application defaults, filler.
_GENERIC_WORDS = frozenset("""
    scan scans scanned scanner img image images pic pics picture pictures photo photos dsc dscn dscf dcim
    pxl vid mov gopr wa whatsapp screenshot screen shot capture fax document documents doc docs file files
    new folder untitled copy of page pg att attachment attachments unnamed noname temp tmp misc
    miscellaneous stuff other others various final draft version rev ver skm ccf mx epson canon hp brother
    xerox ricoh sharp kyocera konica minolta microsoft word excel powerpoint book sheet worksheet
    spreadsheet presentation text rich format adobe acrobat default pdf jpg jpeg png tif tiff docx xlsx
    at am pm
""".split())


def unclear_name(name: str, folder: bool = False) -> bool:
    """Whether a file or folder name says nothing about what it holds.

    Names made only of numbers, dates, single letters and default words (`scan0001.pdf`,
    `IMG_2231.jpg`, `Document1.docx`, `New folder`, `Untitled`, `file(3).pdf`, `DSC_0001`,
    `image.png`, `2023-05-01`, `Book1.xlsx`). `Copy of X` and `X (1)` are judged by X. A folder
    named only by numbers (`2026-03`, `1.2`) is clear: it sorts documents by period or question.
    """
    stem = name if folder else paths.stem(name)
    tokens = re.findall(r"[a-z]+|[0-9]+", stem.lower())
    if folder and tokens and all(t.isdigit() for t in tokens):
        return False  # `2026`, `2026-03`, `1.2`: subfolders by period or by question number are fine
    return not any(len(t) > 1 and not t.isdigit() and t not in _GENERIC_WORDS for t in tokens)
