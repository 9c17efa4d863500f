"""What a parsed email is: automatic, a follow-up, a submission, a question without one, or other.

Policy only: `intake.message` reads the email; this module decides from what it read.
"""

from __future__ import annotations

import email.utils
import re

from intake.message import ParsedMessage

AUTOMATIC = "automatic"
FOLLOW_UP = "follow_up"
SUBMISSION = "submission"
NO_SUBMISSION = "no_submission"
OTHER = "other"

# Subjects of automatic mail in the languages our submitters write (English, French).
AUTO_SUBJECTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(out of (the )?office|auto(matic)?[ -]?reply|autoreply|away from (the )?office|"
                r"on vacation|r[ée]ponse automatique|absent du bureau|absence du bureau)\b", re.I),
     "out-of-office"),
    (re.compile(r"\b(undeliverable|undelivered mail|delivery status notification|delivery failure|"
                r"delivery has failed|mail delivery failed|returned mail|failure notice|"
                r"non remis|non distribuable)\b", re.I),
     "delivery status notification"),
)
NO_REPLY_LOCALPARTS = {"noreply", "no-reply", "donotreply", "do-not-reply", "do_not_reply", "no_reply"}
SECOR_MENTION_RE = re.compile(
    r"\bS\.?E\.?C\.?O\.?R\b|certificate of recognition|\bevaluation\b|\baudit submission\b"
    r"|\bmaintenance audit\b|\baction plan\b", re.IGNORECASE)
COR_RE = re.compile(r"\bCOR\b")  # upper case only: "cor" is a word in other languages


def mentions_secor(msg: ParsedMessage) -> bool:
    """Whether the subject or body speaks of SECOR, COR, an evaluation or an audit submission."""
    texts = (msg.subject, msg.text, msg.visible_html)
    return any(SECOR_MENTION_RE.search(t or "") or COR_RE.search(t or "") for t in texts)


def detect_automatic(msg: ParsedMessage) -> str | None:
    """Why this message is automatic (RFC 3834 and common practice), or None for a person's mail."""
    def value(name: str) -> str:
        return (msg.header(name) or "").lower()

    auto_submitted = value("Auto-Submitted").split(";")[0].strip()
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted: {auto_submitted}"
    precedence = value("Precedence").strip()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"precedence: {precedence}"
    for header in ("List-Id", "List-Unsubscribe", "List-Post"):
        if msg.header(header) is not None:
            return f"list mail ({header})"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if msg.header(header) is not None:
            return f"auto-reply ({header})"
    suppress = {v.strip() for v in value("X-Auto-Response-Suppress").split(",")}
    if suppress & {"all", "oof"}:
        return "auto-reply (X-Auto-Response-Suppress)"
    if "multipart/report" in msg.content_types or "message/delivery-status" in msg.content_types:
        if "disposition-notification" in msg.report_types or "message/disposition-notification" in msg.content_types:
            return "read receipt (disposition notification)"
        return "delivery status notification"
    return_path = msg.header("Return-Path")
    if return_path is not None and re.fullmatch(r"\s*<?\s*>?\s*", return_path):
        return "null sender"
    addresses = [msg.sender or ""] + [address for _, address in _addresses(msg, "From")]
    locals_ = {address.rpartition("@")[0].lower() for address in addresses}
    for local in ("mailer-daemon", "postmaster"):
        if local in locals_:
            return local
    if locals_ & NO_REPLY_LOCALPARTS:
        return "no-reply sender"
    for pattern, reason in AUTO_SUBJECTS:
        if pattern.search(msg.subject):
            return reason
    return None


def _addresses(msg: ParsedMessage, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs of every `name` header field."""
    try:
        return email.utils.getaddresses([value for key, value in msg.headers if key.lower() == name.lower()])
    except Exception:
        return []


def classify(msg: ParsedMessage) -> str:
    """automatic | follow_up | submission | no_submission | other.

    A follow-up carrying a zip or link is a new version of its case; the caller checks
    `attachments`/`links`. A message with no usable reply address is left for a person.
    """
    if detect_automatic(msg):
        return AUTOMATIC
    if msg.sender is None:
        return OTHER
    if msg.tracking_numbers:
        return FOLLOW_UP
    if msg.attachments or msg.links:
        return SUBMISSION
    if mentions_secor(msg):
        return NO_SUBMISSION
    return OTHER
