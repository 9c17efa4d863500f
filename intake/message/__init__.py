"""Parse one raw email into what it says about itself (`intake.disposition` decides what it is).

`parse_message` never raises on bad input: broken MIME, lying charsets, bad base64, 8-bit or
garbage headers and absurd nesting all end up as entries in `ParsedMessage.defects`.
Zip-like attachments (also inside forwarded messages and Outlook winmail.dat) are streamed to
disk under `workdir`, never more than `max_attachment_bytes` in total.

mail-parser reads the addresses and the date (its parsers are hardened and report defects);
the standard library's `email` (policy=default) gives the MIME tree, which we walk ourselves
with a depth cap, decoding bodies and attachments with our own charset and base64 fallbacks.

The package, along its seams: `model` (what a parsed email is, the bounds), `charset` (header and
charset decoding), `headers` (Message-IDs, addresses, dates), `elider` (transfer decoding and the
base64 elider), `tnef` (winmail.dat), `mime` (the MIME walk and attachments to disk).
"""

from __future__ import annotations

from pathlib import Path

from intake.cases.tracking import find_tracking_numbers
from intake.message.charset import decode_bytes, decode_header_text, html_to_text
from intake.message.elider import Elided
from intake.message.headers import (
    all_headers,
    first_header,
    header_date,
    message_ids_in,
    normalise_message_id,
    read_with_mail_parser,
    reply_address,
)
from intake.message.mime import PartCollector, links_in_body, parse_tree
from intake.message.model import MAX_DEFECTS, MAX_HEADERS, Attachment, ParsedMessage

__all__ = ["Attachment", "ParsedMessage", "decode_bytes", "decode_header_text", "html_to_text", "parse_message"]


def parse_message(raw: Path | bytes, workdir: Path, max_attachment_bytes: int) -> ParsedMessage:
    """Read one raw email. Never raises on malformed mail; problems are listed in `defects`.

    Archive attachments are written under `workdir` (created if needed), at most
    `max_attachment_bytes` in total across the message.
    """
    # The raw message is never read whole: its long base64 runs (attachments) stay in the file and
    # are streamed from it when decoded (see Elided), so memory does not grow with the attachments.
    elided = Elided()
    data = elided.skeleton(Path(raw) if isinstance(raw, (str, Path)) else bytes(raw))
    defects: list[str] = []
    msg = parse_tree(data, defects)
    parsed = read_with_mail_parser(data, defects)
    subject = decode_header_text(first_header(msg, "Subject"), defects, "subject: ")
    sender, sender_name = reply_address(parsed, msg)
    collector = PartCollector(Path(workdir), max(int(max_attachment_bytes), 0), defects, elided)
    collector.walk(msg)
    text = "\n\n".join(collector.text)
    html = "\n\n".join(collector.html)
    visible_html = html_to_text(html) if html else ""
    in_reply_to = message_ids_in(all_headers(msg, "In-Reply-To"))
    references = message_ids_in(all_headers(msg, "References"))
    result = ParsedMessage(
        message_id=normalise_message_id(first_header(msg, "Message-ID")),
        subject=subject,
        sender=sender,
        sender_name=sender_name,
        date=header_date(parsed, msg),
        in_reply_to=in_reply_to,
        references=references,
        text=text,
        html=html,
        attachments=collector.attachments,
        links=links_in_body(text, html, defects),
        tracking_numbers=find_tracking_numbers(subject, " ".join(in_reply_to + references), text, visible_html),
        visible_html=visible_html,
        headers=[(str(key), decode_header_text(value)) for key, value in msg.raw_items()][:MAX_HEADERS],
        content_types=collector.content_types,
        report_types=collector.report_types,
        enclosed_fields=collector.enclosed_fields,
        defects=defects[:MAX_DEFECTS],
    )
    if len(defects) > MAX_DEFECTS:
        result.defects.append(f"... and {len(defects) - MAX_DEFECTS} more defects")
    return result
