"""What a parsed email is: automatic, a follow-up, a submission, a question without one, or other.

Policy only: `intake.message` reads the email; this module decides from what it read.
"""

from __future__ import annotations

import email.utils
import re

from intake.authresults import AuthResults
from intake.message import ParsedMessage

AUTOMATIC = "automatic"
FOLLOW_UP = "follow_up"
SUBMISSION = "submission"
NO_SUBMISSION = "no_submission"
OTHER = "other"

# Subjects of automatic mail in the languages our submitters write (English, French).
AUTO_SUBJECTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(out of (the )?office|auto(matic)?[ -]?reply|autoreply|away from (the )?office|"
                r"on vacation|r[ée]ponse automatique|absent du bureau|absence du bureau)\b|^auto:", re.I),
     "out-of-office"),
    (re.compile(r"\b(undeliverable|undelivered mail|delivery status notification|delivery failure|"
                r"delivery has failed|mail delivery failed|returned mail|failure notice|"
                r"non remis|non distribuable)\b", re.I),
     "delivery status notification"),
    (re.compile(r"\b(loop alert|mail loop|loop detected|looping message)\b", re.I), "loop alert"),
    # Hotmail's and others' complaint reports that are not ARF (no multipart/report)
    (re.compile(r"\b(complaint about message from|abuse report|spam report|spam complaint)\b", re.I),
     "abuse report"),
)
# Header fields that only list software writes: RFC 2369/2919 (List-*), ezmlm (Mailing-List),
# Mailman, fml and other list servers. Any one of them is enough.
LIST_HEADER_RE = re.compile(r"list-|x-list-|mailing-list$|x-mailing-list$|x-mailman-|x-beenthere$|x-ezmlm-|"
                            r"x-ml-|x-mlserver$|x-sequence$", re.I)
# Challenge-response robots (Bluebottle, Boxbe, SpamArrest, TMDA, Mailblocks) mark their challenges.
CHALLENGE_HEADER_RE = re.compile(r"x-bluebottle-|x-boxbe-|x-spamarrest-|x-tmda|x-mailblocks|x-challenge", re.I)
# Mail sent by a web script (PHP's mail.add_x_header): notifications, unless the script is a webmail
# that says so (Roundcube on a shared host sends a person's mail through PHP too).
SCRIPT_HEADERS = ("X-PHP-Script", "X-PHP-Originating-Script")
WEBMAIL_RE = re.compile(r"roundcube|squirrelmail|horde|rainloop|snappymail|afterlogic|webmail|rcube", re.I)
MAILER_DAEMONS = {"mailer-daemon", "mailer_daemon", "mailerdaemon", "maildaemon"}
POSTMASTERS = {"postmaster", "post_master", "post-master"}
# List robots' addresses (RFC 2142, Majordomo/Mailman/ezmlm/fml conventions), in From, Sender or
# Return-Path. "-admin" only in Sender, as Mailman 2 writes it: a person may be office-admin@.
LIST_ROBOT_RE = re.compile(r".+-(request|owner|bounces?)$|^owner-.+|^(majordomo|listserv|mailman|ezmlm|fml)$", re.I)
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
    names = [key for key, _ in msg.headers]
    for header in names:
        if LIST_HEADER_RE.match(header):
            return f"list mail ({header})"
    if value("Delivered-To").startswith("mailing list "):  # ezmlm
        return "list mail (Delivered-To)"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Apple-Action"):
        if msg.header(header) is not None:
            return f"auto-reply ({header})"
    suppress = {v.strip() for v in value("X-Auto-Response-Suppress").split(",")}
    if suppress & {"all", "oof"}:
        return "auto-reply (X-Auto-Response-Suppress)"
    for header in names:
        if CHALLENGE_HEADER_RE.match(header):
            return f"challenge-response ({header})"
    if "multipart/report" in msg.content_types or "message/delivery-status" in msg.content_types:
        if "disposition-notification" in msg.report_types or "message/disposition-notification" in msg.content_types:
            return "read receipt (disposition notification)"
        if "feedback-report" in msg.report_types:
            return "abuse report (ARF)"
        return "delivery status notification"
    if "x-hmxmroriginalrecipient" in msg.enclosed_fields:  # Microsoft's complaint report (JMRP), not ARF
        return "abuse report (Microsoft)"
    for header in ("Return-Path", "From"):
        if any(re.fullmatch(r"\s*<?\s*>?\s*", v) or (header == "From" and re.search(r"<\s*>", v))
               for v in _values(msg, header)):
            return "null sender"
    sender = _local_parts(msg, "From") | ({_local_part(msg.sender)} if msg.sender else set())
    if sender & MAILER_DAEMONS:
        return "mailer-daemon"
    if sender & POSTMASTERS:
        return "postmaster"
    if sender & NO_REPLY_LOCALPARTS:
        return "no-reply sender"
    robots = sender | _local_parts(msg, "Sender") | _local_parts(msg, "Return-Path")
    robot = next((local for local in sorted(robots) if LIST_ROBOT_RE.search(local)), None)
    if robot is None:
        robot = next((local for local in sorted(_local_parts(msg, "Sender")) if local.endswith("-admin")), None)
    if robot is not None:
        return f"list robot ({robot})"
    webmail = any(WEBMAIL_RE.search(msg.header(h) or "") for h in ("User-Agent", "X-Mailer", *SCRIPT_HEADERS))
    for header in SCRIPT_HEADERS:
        if msg.header(header) is not None and not webmail:
            return f"sent by a script ({header})"
    for pattern, reason in AUTO_SUBJECTS:
        if pattern.search(msg.subject):
            return reason
    return None


def _values(msg: ParsedMessage, name: str) -> list[str]:
    return [value for key, value in msg.headers if key.lower() == name.lower()]


def _local_part(address: str) -> str:
    """The part before the last '@', lower case; the whole address when it has none (`<MAILER-DAEMON>`)."""
    local, at, _ = address.strip().rpartition("@")
    return (local if at else address.strip()).lower()


def _local_parts(msg: ParsedMessage, name: str) -> set[str]:
    return {_local_part(address) for _, address in _addresses(msg, name) if address.strip()}


def _addresses(msg: ParsedMessage, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs of every `name` header field."""
    try:
        return email.utils.getaddresses(_values(msg, name))
    except Exception:
        return []


def classify(msg: ParsedMessage, case_known: bool = True) -> str:
    """automatic | follow_up | submission | no_submission | other.

    A follow-up carrying a zip or link is a new version of its case; the caller checks
    `attachments`/`links`. A message with no usable reply address is left for a person.
    `case_known`: whether a tracking number it names is one of our cases (the caller looks it up); a
    reply to a number we never issued is judged by its content.
    """
    if detect_automatic(msg):
        return AUTOMATIC
    if msg.sender is None:
        return OTHER
    if msg.tracking_numbers and case_known:
        return FOLLOW_UP
    if msg.attachments or msg.links:
        return SUBMISSION
    if mentions_secor(msg):
        return NO_SUBMISSION
    return OTHER


def sender_unverified(msg: ParsedMessage, auth: AuthResults | None, case_submitter: str | None) -> str | None:
    """Why the sender is `message.sender_unverified` (a message for the submitter), or None.

    Our mail server's DMARC fail is enough. A reply that joins an existing case from an address other
    than the case's submitter must pass DMARC: anyone who knows a tracking number could otherwise
    add a version to someone else's case.
    """
    dmarc = auth.dmarc if auth is not None else None
    domain = (msg.sender or "").rpartition("@")[2] or "your domain"
    if dmarc == "fail":
        return (f"We could not verify that this email really came from {domain}: the domain's DMARC check failed. "
                "A person will check it before the submission is accepted.")
    if case_submitter and msg.sender and msg.sender.lower() != case_submitter.lower() and dmarc != "pass":
        return ("This email added to a case that another address opened, and we could not verify its sender. "
                "A person will check it before it counts.")
    return None


# Mail services anyone can get an address at: a verified address there says nothing about an employer.
SHARED_MAIL_DOMAINS = frozenset("""
    gmail.com googlemail.com outlook.com hotmail.com hotmail.ca live.com live.ca msn.com yahoo.com yahoo.ca
    ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.com gmx.net mail.com
    zoho.com yandex.com fastmail.com hey.com shaw.ca telus.net rogers.com sympatico.ca bell.net videotron.ca
    cogeco.ca eastlink.ca sasktel.net mts.net xplornet.com
""".split())


def may_speak_for(sender: str | None, auth: AuthResults | None, submitter: str,
                  correspondents: list[str] | None) -> bool:
    """Whether an email from `sender` may add to (or write on) a case opened by `submitter`: the same
    address; an address QA added to the case; or the submitter's own domain (not a mail service
    anyone can join) when our own mail server says that it passed DMARC (issue 24). Anyone else
    merely quotes the tracking number."""
    if not sender:
        return False
    address = sender.strip().lower()
    if address == submitter.strip().lower() or address in (correspondents or []):
        return True
    domain = address.rpartition("@")[2]
    return (bool(domain) and domain not in SHARED_MAIL_DOMAINS and domain == submitter.strip().lower().rpartition("@")[2]
            and auth is not None and auth.dmarc == "pass")


def claimed_case_message(tracking_number: str) -> str:
    """The `message.claimed_case` finding: names the quoted number only, never that case's people or files."""
    return (f"Your email quoted the tracking number {tracking_number}, which belongs to a case opened from another "
            "email address, so we filed it as a new case. If you work on that submission, ask the person who sent "
            "it to write to us, or to ask us to add your address to it.")
