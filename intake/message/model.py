"""What one parsed email says about itself, and the bounds parsing keeps to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

MAX_DEPTH = 20  # MIME nesting we descend into; real mail rarely goes past 5


MAX_HEADER_BYTES = 256 * 1024  # header block handed to mail-parser


MAX_TEXT_CHARS = 2_000_000  # decoded body text kept (text and html each)


MAX_DEFECTS = 200


MAX_HEADERS = 1000  # header fields kept for the disposition rules


MAX_ATTACHMENTS = 50  # archives kept from one message; more is not a submission anyone sends


@dataclass(frozen=True)
class Attachment:
    """One archive-like attachment, written to disk."""

    filename: str  # decoded and sanitised base name (the name on disk may carry " (2)")
    content_type: str
    path: Path
    size: int  # bytes on disk
    is_zip: bool  # zip by content, or claims to be a zip by type or extension
    truncated: bool = False  # the attachment cap was reached: `path` holds only a prefix (maybe 0 bytes)


@dataclass
class ParsedMessage:
    """What one email says about itself. Built by `parse_message`."""

    message_id: str | None = None
    subject: str = ""
    sender: str | None = None
    sender_name: str | None = None
    date: datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    tracking_numbers: list[str] = field(default_factory=list)
    visible_html: str = ""  # the HTML body's text, for keyword searches
    headers: list[tuple[str, str]] = field(default_factory=list)  # top-level fields, decoded, in order
    content_types: set[str] = field(default_factory=set)  # of the parts, forwarded messages excepted
    report_types: set[str] = field(default_factory=set)  # report-type of each multipart/report
    enclosed_fields: set[str] = field(default_factory=set)  # header names of the messages it encloses
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first decoded value of a header field, or None."""
        lname = name.lower()
        return next((value for key, value in self.headers if key.lower() == lname), None)
