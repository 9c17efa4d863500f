"""Realistic raw emails (bytes) for every test that needs mail. Deterministic: fixed dates, ids, boundaries.

Each builder returns the bytes an MTA would deliver: CRLF line ends, MIME the way Outlook,
Gmail, Exchange and Postfix write it. Defaults describe Acme Roofing Ltd. submitting to the
COR inbox; every builder takes keyword arguments to change what a test cares about.
"""

from __future__ import annotations

import base64
import email.header
import email.utils
import hashlib
import quopri
import struct
import tempfile
import zipfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

COR_INBOX = "ACSA COR Department <COR@youracsa.ca>"
SENDER = "Jane Doe <jane.doe@acme-roofing.ca>"
DATE = "Tue, 24 Nov 2026 09:15:42 -0700"
SUBJECT = "SECOR submission 2026 - Acme Roofing Ltd."
BODY = ("Good morning,\n\nPlease find attached our SECOR certification audit for 2026.\n"
        "Let me know if anything is missing.\n\nThank you,\nJane Doe\nOffice Manager, Acme Roofing Ltd.\n"
        "403-555-0142\n")
DROPBOX_URL = "https://www.dropbox.com/scl/fi/k2x9w8ab3cd/Acme-SECOR-2026.zip?rlkey=q1w2e3r4t5&dl=0"
ZIP_DATE = (2026, 11, 20, 8, 30, 0)


# --- content ------------------------------------------------------------------------------

def tiny_zip(files: dict[str, bytes] | None = None) -> bytes:
    """A small deterministic zip (fixed timestamps)."""
    files = files or {"SECOR Evaluation Tool 2026.pdf": b"%PDF-1.4\n% tiny\n%%EOF\n",
                      "Element 1 - Management Leadership/Health and Safety Policy.pdf": b"%PDF-1.4\n%%EOF\n"}
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data)
    return out.getvalue()


@lru_cache(maxsize=1)
def sample_zip() -> bytes:
    """A clean, well-organised submission zip (intake.samples), a few tens of KB."""
    from intake.samples import build_sample_zip

    with tempfile.TemporaryDirectory(prefix="mailfactory-") as tmp:
        return build_sample_zip(Path(tmp) / "sample.zip").read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(data: bytes) -> str:
    """base64 in 76-character lines, as every mail client writes it."""
    text = base64.b64encode(data).decode("ascii")
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def _qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.replace("\r\n", "\n").encode(charset)).decode("ascii").replace("\n", "\r\n")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _quoted(value: str) -> str:
    """A MIME quoted-string: backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded(value: str) -> str:
    """A header value as a client writes it: RFC 2047 encoded words when it is not ASCII."""
    return value if value.isascii() else email.header.Header(value, "utf-8").encode()


def _encoded_address(value: str) -> str:
    name, address = email.utils.parseaddr(value)
    return value if value.isascii() else email.utils.formataddr((name, address), charset="utf-8")


def _filename_params(filename: str, style: str = "auto") -> str:
    """Content-Disposition file name. style "auto": plain when ASCII, RFC 2231 (filename*=utf-8''...)
    otherwise, as Thunderbird writes; "encoded_word": an RFC 2047 word in quotes, as Outlook and Gmail write."""
    if style == "encoded_word":
        return f'filename="=?utf-8?B?{base64.b64encode(filename.encode("utf-8")).decode("ascii")}?="'
    if filename.isascii():
        return f"filename={_quoted(filename)}"
    return f"filename*=utf-8''{quote(filename, safe='')}"


def headers(*, sender: str = SENDER, to: str = COR_INBOX, subject: str = SUBJECT, date: str = DATE,
            message_id: str = "<CAF3x8pQm1n2@mail.acme-roofing.ca>", return_path: str = "<jane.doe@acme-roofing.ca>",
            extra: dict[str, str] | None = None) -> str:
    """The header block every builder starts with (no trailing blank line), Return-Path first as MTAs add it."""
    lines = [
        f"Return-Path: {return_path}",
        "Received: from mail.acme-roofing.ca (mail.acme-roofing.ca [198.51.100.23])\r\n"
        "\tby mx.youracsa.ca (Postfix) with ESMTPS id 4Z9kQ2; " + date,
        f"From: {_encoded_address(sender)}",
        f"To: {_encoded_address(to)}",
        f"Subject: {_encoded(subject)}",
        f"Date: {date}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return "\r\n".join(lines)


def edit_headers(raw: bytes, *, remove: tuple[str, ...] = (), add: dict[str, str] | None = None) -> bytes:
    """`raw` with top-level header fields named in `remove` dropped (with their folded lines) and `add` appended."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    drop = {name.lower().encode("ascii") for name in remove}
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower() in drop
        if not skipping:
            kept.append(line)
    kept += [f"{name}: {value}".encode("utf-8") for name, value in (add or {}).items()]
    return b"\r\n".join(kept) + sep + body


def _text_part(text: str, subtype: str = "plain", charset: str = "utf-8") -> str:
    return (f'Content-Type: text/{subtype}; charset="{charset}"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{_qp(text, charset)}")


def _html_of(text: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>\n" for line in text.strip().split("\n"))
    return f"<html><head><meta charset=\"utf-8\"></head><body>\n{paragraphs}</body></html>\n"


def _alternative(text: str, boundary: str, html: str | None = None) -> str:
    """multipart/alternative with the plain text and its HTML rendering, as Outlook sends."""
    return (f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{_text_part(text)}\r\n"
            f"--{boundary}\r\n{_text_part(html or _html_of(text), 'html')}\r\n"
            f"--{boundary}--\r\n")


def _attachment_part(data: bytes, filename: str, content_type: str, style: str = "auto") -> str:
    plain = filename.isascii() and style == "auto"
    return (f"Content-Type: {content_type}; name={_quoted(filename)}\r\n" if plain else f"Content-Type: {content_type}\r\n") + (
        f"Content-Disposition: attachment; {_filename_params(filename, style)}; size={len(data)}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(data)}\r\n")


def _mixed(head: str, parts: list[str], boundary: str = "_004_YT3PR01MB6200ACMEROOF_") -> bytes:
    """A multipart/mixed message from a header block and ready-made parts."""
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return (f'{head}\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"This is a multi-part message in MIME format.\r\n\r\n{body}--{boundary}--\r\n").encode("utf-8")


def _single(head: str, text: str, charset: str = "utf-8") -> bytes:
    return (f"{head}\r\n{_text_part(text, charset=charset)}").encode("ascii")


# --- submissions --------------------------------------------------------------------------

def submission_with_zip(zip_bytes: bytes | None = None, filename: str = "Acme SECOR 2026.zip", *,
                        sender: str = SENDER, subject: str = SUBJECT,
                        message_id: str = "<CAF3x8pQm1n2@mail.acme-roofing.ca>",
                        content_type: str = "application/x-zip-compressed", text: str = BODY,
                        filename_style: str = "auto", extra_headers: dict[str, str] | None = None,
                        more: list[tuple[bytes, str, str]] | None = None) -> bytes:
    """Outlook-style: text and HTML body, the zip as a base64 attachment (see _filename_params for
    `filename_style`); `more` adds (data, filename, content type) attachments after it."""
    data = sample_zip() if zip_bytes is None else zip_bytes
    head = headers(sender=sender, subject=subject, message_id=message_id, extra=extra_headers)
    parts = [_alternative(text, "_000_YT3PR01MB6200ALT_"), _attachment_part(data, filename, content_type, filename_style)]
    parts += [_attachment_part(d, name, kind) for d, name, kind in more or []]
    return _mixed(head, parts)


def submission_with_link(url: str = DROPBOX_URL, html: bool = True, *, sender: str = SENDER,
                         subject: str = "SECOR 2026 maintenance submission - download link",
                         message_id: str = "<BN8PR12MB33444C1@namprd12.prod.outlook.com>") -> bytes:
    """A share link in the body: as an <a href> in HTML (with a plain alternative) or in plain text only."""
    text = ("Hello,\n\nOur SECOR maintenance audit is too large to attach, so here is the Dropbox link:\n"
            f"{url}\n\nRegards,\nJane Doe\nAcme Roofing Ltd.\n")
    head = headers(sender=sender, subject=subject, message_id=message_id)
    if not html:
        return _single(head, text)
    markup = ("<html><body><p>Hello,</p><p>Our SECOR maintenance audit is too large to attach, so here is "
              f'the <a href="{url.replace("&", "&amp;")}">Dropbox link</a>.</p>'
              "<p>Regards,<br>Jane Doe<br>Acme Roofing Ltd.</p></body></html>\n")
    return (f"{head}\r\n" + _alternative(text, "000000000000a1b2c3d4e5f6", markup)).encode("ascii")


def forwarded_submission(inner_raw: bytes | None = None, *, sender: str = "Pat Morgan <pat@acme-roofing.ca>",
                         subject: str = "Fwd: SECOR submission 2026 - Acme Roofing Ltd.", encoding: str = "7bit") -> bytes:
    """A person forwards a whole message as an attachment (message/rfc822), as Outlook 'Forward as Attachment'.
    encoding="base64": the forwarded message itself base64-encoded, as Exchange sometimes sends it."""
    inner = (inner_raw if inner_raw is not None else submission_with_zip()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head = headers(sender=sender, subject=subject, message_id="<fwd.77a1@mail.acme-roofing.ca>")
    boundary = "_005_FWDBOUNDARY_"
    text = "Forwarding Jane's SECOR submission, she sent it to the wrong address.\n\nPat\n"
    if encoding == "base64":
        inner = (_b64(inner) + "\r\n").encode("ascii")
    return (f'{head}\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{_text_part(text)}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n"
            + (f"Content-Transfer-Encoding: {encoding}\r\n" if encoding != "7bit" else "")
            + 'Content-Disposition: attachment; filename="SECOR submission 2026.eml"\r\n\r\n').encode("ascii") + \
        inner + f"\r\n--{boundary}--\r\n".encode("ascii")


# --- Outlook TNEF (winmail.dat) ---------------------------------------------------------------

TNEF_SIGNATURE = 0x223E9F78
LVL_MESSAGE, LVL_ATTACHMENT = 0x01, 0x02
# attribute id, attribute type (MS-OXTNEF 2.1.3.3)
ATT_TNEF_VERSION = (0x9006, 0x0008)
ATT_OEM_CODEPAGE = (0x9007, 0x0006)
ATT_MESSAGE_CLASS = (0x8008, 0x0007)
ATT_SUBJECT = (0x8004, 0x0001)
ATT_DATE_SENT = (0x8005, 0x0003)
ATT_MAPI_PROPS = (0x9003, 0x0006)
ATT_ATTACH_REND_DATA = (0x9002, 0x0006)
ATT_ATTACH_TITLE = (0x8010, 0x0001)
ATT_ATTACH_DATA = (0x800F, 0x0006)
ATT_ATTACHMENT = (0x9005, 0x0006)
PT_LONG, PT_STRING8, PT_UNICODE = 0x0003, 0x001E, 0x001F
PR_BODY = 0x1000
PR_ATTACH_EXTENSION, PR_ATTACH_METHOD, PR_ATTACH_LONG_FILENAME, PR_ATTACH_MIME_TAG = 0x3703, 0x3705, 0x3707, 0x370E


def _tnef_attribute(level: int, attribute: tuple[int, int], data: bytes) -> bytes:
    """level, id, type, length, data, 16-bit checksum of the data."""
    attr_id, attr_type = attribute
    return struct.pack("<BHHI", level, attr_id, attr_type, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _mapi_props(props: list[tuple[int, int, object]]) -> bytes:
    """A MAPI property list: count, then (type, id, value) with variable values padded to 4 bytes."""
    out = struct.pack("<I", len(props))
    for prop_type, prop_id, value in props:
        out += struct.pack("<HH", prop_type, prop_id)
        if prop_type == PT_LONG:
            out += struct.pack("<i", value)
            continue
        raw = (value + "\x00").encode("utf-16-le") if prop_type == PT_UNICODE else (
            (value + "\x00").encode("cp1252") if prop_type == PT_STRING8 else bytes(value))
        out += struct.pack("<II", 1, len(raw)) + raw + b"\x00" * (-len(raw) % 4)
    return out


def tnef_bytes(attachments: list[tuple[str, bytes]], subject: str = SUBJECT, body: str = BODY) -> bytes:
    """A winmail.dat as Outlook writes it in rich-text mode: message attributes, then each attachment."""
    out = struct.pack("<IH", TNEF_SIGNATURE, 0x4B2A)
    out += _tnef_attribute(LVL_MESSAGE, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += _tnef_attribute(LVL_MESSAGE, ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
    out += _tnef_attribute(LVL_MESSAGE, ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\x00")
    out += _tnef_attribute(LVL_MESSAGE, ATT_SUBJECT, subject.encode("cp1252", "replace") + b"\x00")
    out += _tnef_attribute(LVL_MESSAGE, ATT_DATE_SENT, struct.pack("<7H", 2026, 11, 24, 16, 15, 42, 2))
    out += _tnef_attribute(LVL_MESSAGE, ATT_MAPI_PROPS, _mapi_props([(PT_STRING8, PR_BODY, body.replace("\n", "\r\n"))]))
    for index, (filename, data) in enumerate(attachments, 1):
        stem, _, ext = filename.rpartition(".")
        short = f"{stem.replace(' ', '')[:6].upper()}~{index}.{ext[:3].upper()}"
        out += _tnef_attribute(LVL_ATTACHMENT, ATT_ATTACH_REND_DATA, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += _tnef_attribute(LVL_ATTACHMENT, ATT_ATTACH_TITLE, short.encode("ascii") + b"\x00")
        out += _tnef_attribute(LVL_ATTACHMENT, ATT_ATTACH_DATA, data)
        out += _tnef_attribute(LVL_ATTACHMENT, ATT_ATTACHMENT, _mapi_props([
            (PT_LONG, PR_ATTACH_METHOD, 1),  # ATTACH_BY_VALUE
            (PT_UNICODE, PR_ATTACH_LONG_FILENAME, filename),
            (PT_STRING8, PR_ATTACH_EXTENSION, "." + ext),
            (PT_STRING8, PR_ATTACH_MIME_TAG, "application/x-zip-compressed"),
        ]))
    return out


def winmail_submission(zip_bytes: bytes | None = None, filename: str = "Acme SECOR 2026.zip", *,
                       sender: str = SENDER, subject: str = SUBJECT) -> bytes:
    """Outlook in rich-text mode through Exchange: the zip travels inside winmail.dat (application/ms-tnef)."""
    data = sample_zip() if zip_bytes is None else zip_bytes
    head = headers(sender=sender, subject=subject, message_id="<5A1B2C3D4E5F@EXCH01.acme-roofing.local>",
                   extra={"X-MS-Has-Attach": "yes", "X-MS-TNEF-Correlator": "<5A1B2C3D4E5F@EXCH01.acme-roofing.local>"})
    winmail = tnef_bytes([(filename, data)], subject=subject)
    return _mixed(head, [
        _text_part(BODY),
        f'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n'
        f'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n{_b64(winmail)}\r\n',
    ])


# --- automatic mail ---------------------------------------------------------------------------

def out_of_office(style: str = "exchange", *, subject: str | None = None,
                  sender: str = "Pat Morgan <pat@acme-roofing.ca>") -> bytes:
    """An absence notice. style: "exchange" (Auto-Submitted + X-Auto-Response-Suppress), "gmail"
    (Auto-Submitted: auto-replied only), "outlook_suppress" (X-Auto-Response-Suppress only),
    "x_autoreply" (X-Autoreply only), "subject_only" (no header says so, only the subject)."""
    extra = {
        "exchange": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All",
                     "X-MS-Exchange-Inbox-Rules-Loop": "pat@acme-roofing.ca"},
        "gmail": {"Auto-Submitted": "auto-replied"},
        "outlook_suppress": {"X-Auto-Response-Suppress": "DR, RN, NRN, OOF, AutoReply"},
        "x_autoreply": {"X-Autoreply": "yes"},
        "subject_only": {},
    }[style]
    subject = subject or ("Automatic reply: [SECOR-2026-000042] SECOR submission received"
                          if style != "subject_only" else "Out of Office: SECOR submission received")
    text = "I am out of the office until December 1 with limited access to email.\n"
    head = headers(sender=sender, subject=subject, message_id=f"<ooo-{style}@acme-roofing.ca>",
                   extra={"In-Reply-To": "<SECOR-2026-000042.9f8e7d@secor-intake>", **extra})
    return _single(head, text)


def bounce_dsn(original: bytes | None = None, *, recipient: str = "jane.doe@acme-roofing.ca") -> bytes:
    """A Postfix delivery status notification (RFC 3464): multipart/report from MAILER-DAEMON, null sender."""
    original = original or _single(headers(sender=COR_INBOX, to=recipient,
                                           subject="[SECOR-2026-000042] SECOR submission received",
                                           message_id="<SECOR-2026-000042.9f8e7d@secor-intake>",
                                           extra={"Auto-Submitted": "auto-replied"}), "Thank you.\n")
    headers_only = original.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    boundary = "4Z9kQ2.1732465000/mx.youracsa.ca"
    head = headers(sender="MAILER-DAEMON@mx.youracsa.ca (Mail Delivery System)", to=COR_INBOX,
                   subject="Undelivered Mail Returned to Sender", message_id="<20261124161542.4Z9kQ2@mx.youracsa.ca>",
                   return_path="<>", extra={"Auto-Submitted": "auto-replied"})
    text = (f"This is the mail system at host mx.youracsa.ca.\n\nI'm sorry to have to inform you that your "
            f"message could not\nbe delivered to one or more recipients.\n\n<{recipient}>: host "
            f"mail.acme-roofing.ca said: 550 5.1.1 User unknown\n")
    return (f"{head}\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"\r\n\r\n'
            f"This is a MIME-encapsulated message.\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"{_crlf(text)}\r\n"
            f"--{boundary}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.youracsa.ca\r\nArrival-Date: {DATE}\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"{headers_only}\r\n\r\n--{boundary}--\r\n").encode("utf-8")


def read_receipt(*, sender: str = SENDER) -> bytes:
    """A message disposition notification (RFC 8098), as Thunderbird sends when a receipt is asked for."""
    boundary = "------------MDN7A3F"
    head = headers(sender=sender, subject="Return Receipt (displayed) - [SECOR-2026-000042] SECOR submission received",
                   message_id="<mdn.1@acme-roofing.ca>")
    return (f'{head}\r\nContent-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThis is a Return Receipt for the mail that you sent.\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/disposition-notification; name=\"MDNPart2.txt\"\r\n\r\n"
            f"Reporting-UA: mail.acme-roofing.ca; Thunderbird\r\nFinal-Recipient: rfc822;jane.doe@acme-roofing.ca\r\n"
            f"Original-Message-ID: <SECOR-2026-000042.9f8e7d@secor-intake>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\r\n"
            f"--{boundary}--\r\n").encode("ascii")


def list_mail(*, with_zip: bool = False) -> bytes:
    """A newsletter from a mailing list (List-Id, List-Unsubscribe, Precedence: list) that talks about SECOR."""
    head = headers(sender="Safety Newsletter <news@safety-association.example>",
                   subject="SECOR tips for small employers - November newsletter",
                   message_id="<list.2026-11@lists.safety-association.example>",
                   extra={"List-Id": "Safety News <news.lists.safety-association.example>",
                          "List-Unsubscribe": "<mailto:leave-news@lists.safety-association.example>",
                          "Precedence": "list"})
    text = "This month: how to organise your SECOR evaluation and audit submission.\n"
    if with_zip:
        return _mixed(head, [_text_part(text), _attachment_part(tiny_zip(), "templates.zip", "application/zip")])
    return _single(head, text)


def auto_submitted(value: str = "auto-generated", *, subject: str = "Your ticket #48213 has been received",
                   precedence: str | None = None) -> bytes:
    """A machine's notice (ticket system, CRM): Auto-Submitted and/or Precedence headers."""
    extra = {"Auto-Submitted": value} if value else {}
    if precedence:
        extra["Precedence"] = precedence
    head = headers(sender="Acme Helpdesk <helpdesk@acme-roofing.ca>", subject=subject,
                   message_id="<ticket-48213@helpdesk.acme-roofing.ca>", extra=extra)
    return _single(head, "We received your request about the SECOR audit and will reply within 2 business days.\n")


# --- people without a submission ----------------------------------------------------------------

def question_without_submission(*, sender: str = SENDER,
                                subject: str = "Question about our SECOR maintenance audit") -> bytes:
    """Someone asks about SECOR but attaches nothing and links nothing."""
    text = ("Hi,\n\nWe are due for our SECOR maintenance this year. Do we need to send the full "
            "evaluation again or is the action plan enough? Also, what is the deadline?\n\nThanks,\nJane\n")
    head = headers(sender=sender, subject=subject, message_id="<question.1@mail.acme-roofing.ca>")
    return (f"{head}\r\n" + _alternative(text, "_000_QUESTION_")).encode("ascii")


def unrelated_message(*, sender: str = "Sam Lee <sam@example.org>") -> bytes:
    """A person writes about something else entirely (nothing for SECOR triage)."""
    head = headers(sender=sender, subject="Lunch on Friday?", message_id="<lunch.1@example.org>")
    return _single(head, "Hi team, are we still on for lunch on Friday at noon?\n")


def reply_to_case(tracking_number: str = "SECOR-2026-000042", with_zip: bool = False, *,
                  in_subject: bool = True, in_references: bool = True, sender: str = SENDER,
                  zip_bytes: bytes | None = None) -> bytes:
    """The submitter answers our acknowledgement: tracking number in the subject tag and/or our Message-ID."""
    subject = f"RE: [{tracking_number}] SECOR submission returned" if in_subject else "RE: your email"
    extra: dict[str, str] = {}
    if in_references:
        ours = f"<{tracking_number}.5d41402abc4b2a76@secor-intake>"
        extra = {"In-Reply-To": ours, "References": f"<CAF3x8pQm1n2@mail.acme-roofing.ca>\r\n {ours}",
                 "Thread-Topic": "SECOR submission", "Thread-Index": "AdtBc2VjdXJlQWNtZQ=="}
    head = headers(sender=sender, subject=subject, message_id="<reply.2@mail.acme-roofing.ca>", extra=extra)
    text = "Hello,\n\nHere is the corrected audit with the evaluation tool in one piece.\n\nJane\n"
    if not with_zip:
        text = "Hello,\n\nThanks, we will fix the folders and send it again next week.\n\nJane\n"
        return _single(head, text)
    data = zip_bytes if zip_bytes is not None else sample_zip()
    return _mixed(head, [_text_part(text), _attachment_part(data, "Acme SECOR 2026 v2.zip", "application/zip")])


# --- broken mail -----------------------------------------------------------------------------

BROKEN_VARIANTS = ("missing_boundary", "unterminated", "bad_base64", "garbage_headers", "deep_nesting",
                   "too_deep", "huge_header", "no_headers", "lying_multipart")


def broken_mime(variant: str = "missing_boundary", zip_bytes: bytes | None = None) -> bytes:
    """A message broken the way real mail breaks. Each variant still says 'SECOR' in its readable text."""
    data = tiny_zip() if zip_bytes is None else zip_bytes
    head = headers(subject="SECOR submission (broken client)", message_id=f"<broken-{variant}@acme-roofing.ca>")
    text = "Our SECOR audit is attached.\r\n"
    if variant == "missing_boundary":  # multipart without a boundary parameter
        return (f"{head}\r\nContent-Type: multipart/mixed\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\n"
                f"{text}--xyz--\r\n").encode("ascii")
    if variant == "unterminated":  # cut off in the middle of the attachment, no closing boundary
        full = submission_with_zip(data, subject="SECOR submission (broken client)")
        return full[: len(full) - 200]
    if variant == "bad_base64":  # attachment base64 with junk characters and a stray tail
        encoded = _b64(data)
        mangled = encoded[:80] + "!!**" + encoded[80:] + "A"
        return _mixed(head, [_text_part("Our SECOR audit is attached.\n"),
                             'Content-Type: application/zip; name="audit.zip"\r\nContent-Transfer-Encoding: base64\r\n'
                             f'Content-Disposition: attachment; filename="audit.zip"\r\n\r\n{mangled}\r\n'])
    if variant == "garbage_headers":  # raw 8-bit header octets, encoded-word garbage, a broken From
        return (b"From: =?utf-8?b?!!notbase64?= <jane.doe@ACME-Roofing.CA>\r\n"
                b"To: COR@youracsa.ca\r\n"
                b"Subject: =?x-unknown?q?SECOR_audit?= \xe9t\xe9 =?utf-8?q?=C3=A9t=C3=A9?= =?iso-8859-1?b?====?=\r\n"
                b"Date: not a date at all\r\n"
                b"Message-ID: broken-garbage@acme-roofing.ca\r\n"
                b"X-Weird: \x00\x01\x02\xff\xfe\r\n"
                b"Content-Type: text/plain; charset=\"utf-8\r\n\r\n"
                b"Our SECOR audit will follow.\r\n")
    if variant in ("deep_nesting", "too_deep"):  # 40 levels: past our cap; 1200: past the parser's recursion
        levels = 40 if variant == "deep_nesting" else 1200
        body = "".join(f'Content-Type: multipart/mixed; boundary="n{i}"\r\n\r\n--n{i}\r\n' for i in range(levels))
        body += "Content-Type: text/plain\r\n\r\nnested deep inside\r\n"
        body += "".join(f"--n{i}--\r\n" for i in reversed(range(levels)))
        return (f"{head}\r\n".replace("Subject: SECOR submission (broken client)", "Subject: SECOR deep") + body).encode("ascii")
    if variant == "huge_header":  # one header line of 2 MB, then a normal message
        return (f"{head}\r\nX-Spam-Report: {'x' * 2_000_000}\r\n{_text_part(text)}").encode("ascii")
    if variant == "no_headers":  # a bare body: no header block at all
        return b"Our SECOR audit is attached, sorry no headers.\r\n"
    if variant == "lying_multipart":  # declared multipart, body is not MIME at all
        return (f'{head}\r\nContent-Type: multipart/mixed; boundary="never-used"\r\n\r\n'
                f"Our SECOR audit is attached.\r\n").encode("ascii")
    raise ValueError(f"unknown broken_mime variant {variant!r}; known: {', '.join(BROKEN_VARIANTS)}")


CHARSET_VARIANTS = ("utf8_with_latin1", "unknown_charset", "8bit_headers", "base64_latin1_as_ascii")


def bad_charset(variant: str = "utf8_with_latin1") -> bytes:
    """Text whose declared charset lies. The readable text is 'Évaluation SECOR été 2026'."""
    words = "Évaluation SECOR été 2026\n"
    head = headers(subject="SECOR audit", message_id=f"<charset-{variant}@acme-roofing.ca>")
    if variant == "utf8_with_latin1":  # says utf-8, bytes are latin-1 (8bit)
        return (f'{head}\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
                ).encode("ascii") + words.encode("latin-1").replace(b"\n", b"\r\n")
    if variant == "unknown_charset":  # a charset nobody knows, bytes are UTF-8
        return (f'{head}\r\nContent-Type: text/plain; charset="x-unknown"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
                ).encode("ascii") + words.encode("utf-8").replace(b"\n", b"\r\n")
    if variant == "8bit_headers":  # raw latin-1 octets in Subject and From, no encoded words
        head8 = head.replace("Subject: SECOR audit", "Subject: SECOR \xe9valuation \xe9t\xe9").replace(
            "From: Jane Doe", "From: Ren\xe9e C\xf4t\xe9")
        return (head8 + '\r\nContent-Type: text/plain; charset="iso-8859-1"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
                + words.replace("\n", "\r\n")).encode("latin-1")
    if variant == "base64_latin1_as_ascii":  # says us-ascii, base64 of latin-1 bytes
        return (f'{head}\r\nContent-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                f"{_b64(words.encode('latin-1'))}\r\n").encode("ascii")
    raise ValueError(f"unknown bad_charset variant {variant!r}; known: {', '.join(CHARSET_VARIANTS)}")


def oversized(n_bytes: int, filename: str = "Acme SECOR 2026 full.zip") -> bytes:
    """A submission whose zip attachment is about `n_bytes` long (stored, deterministic content)."""
    payload = (hashlib.sha256(b"secor").digest() * (n_bytes // 32 + 1))[: max(n_bytes - 200, 0)]
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("scans/all documents.pdf", date_time=ZIP_DATE), payload)
    return submission_with_zip(out.getvalue(), filename, subject="SECOR submission 2026 (large)")
