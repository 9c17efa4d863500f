"""intake.message and intake.disposition: parsing and classifying one raw email, built by tests/mailfactory.py."""

from __future__ import annotations

import hashlib
from datetime import timezone
from pathlib import Path

import pytest
from tnefparse.tnef import TNEF

from intake.cases.tracking import find_tracking_numbers
from intake.disposition import classify, detect_automatic, mentions_secor
from intake.message import (
    Attachment,
    ParsedMessage,
    decode_header_text,
    parse_message,
)
from tests import mailfactory as mf
from triage.paths import safe_name

CAP = 5_000_000


def parse(raw: bytes, workdir: Path, cap: int = CAP) -> ParsedMessage:
    return parse_message(raw, workdir, cap)


def disk_bytes(workdir: Path) -> int:
    """Every byte written under workdir."""
    return sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file())


# --- every builder: classified right --------------------------------------------------------

BUILDERS = {
    "zip": (lambda: mf.submission_with_zip(), "submission"),
    "zip_rfc2231_name": (lambda: mf.submission_with_zip(filename="Évaluation SECOR été.zip"), "submission"),
    "zip_encoded_word_name": (lambda: mf.submission_with_zip(filename="Côté SECOR.zip", filename_style="encoded_word"),
                              "submission"),
    "forwarded": (lambda: mf.forwarded_submission(), "submission"),
    "winmail": (lambda: mf.winmail_submission(), "submission"),
    "ooo_exchange": (lambda: mf.out_of_office("exchange"), "automatic"),
    "ooo_gmail": (lambda: mf.out_of_office("gmail"), "automatic"),
    "ooo_outlook_suppress": (lambda: mf.out_of_office("outlook_suppress"), "automatic"),
    "ooo_x_autoreply": (lambda: mf.out_of_office("x_autoreply"), "automatic"),
    "ooo_subject_only": (lambda: mf.out_of_office("subject_only"), "automatic"),
    "bounce": (lambda: mf.bounce_dsn(), "automatic"),
    "read_receipt": (lambda: mf.read_receipt(), "automatic"),
    "list": (lambda: mf.list_mail(), "automatic"),
    "list_with_zip": (lambda: mf.list_mail(with_zip=True), "automatic"),
    "auto_submitted": (lambda: mf.auto_submitted(), "automatic"),
    "question": (lambda: mf.question_without_submission(), "no_submission"),
    "unrelated": (lambda: mf.unrelated_message(), "other"),
    "reply": (lambda: mf.reply_to_case(), "follow_up"),
    "reply_with_zip": (lambda: mf.reply_to_case(with_zip=True), "follow_up"),
    "reply_by_references_only": (lambda: mf.reply_to_case(in_subject=False), "follow_up"),
    "oversized": (lambda: mf.oversized(50_000), "submission"),
}
BUILDERS["link_html"] = (lambda: mf.submission_with_link(html=True), "submission")
BUILDERS["link_text"] = (lambda: mf.submission_with_link(html=False), "submission")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_builder_is_classified_right(name: str, tmp_path: Path) -> None:
    build, expected = BUILDERS[name]
    msg = parse(build(), tmp_path)
    assert classify(msg) == expected, (detect_automatic(msg), msg.tracking_numbers, msg.attachments, msg.defects)
    assert msg.sender and "@" in msg.sender
    assert msg.date is not None and msg.date.tzinfo is not None
    assert msg.message_id and msg.message_id.startswith("<") and msg.message_id.endswith(">")


def test_plain_submission_fields(tmp_path: Path) -> None:
    msg = parse(mf.submission_with_zip(sender="Jane Doe <Jane.Doe@ACME-Roofing.CA>"), tmp_path)
    assert msg.sender == "Jane.Doe@acme-roofing.ca"  # local part kept, domain lower-cased
    assert msg.sender_name == "Jane Doe"
    assert msg.subject == mf.SUBJECT
    assert msg.message_id == "<CAF3x8pQm1n2@mail.acme-roofing.ca>"
    assert msg.date.astimezone(timezone.utc).isoformat() == "2026-11-24T16:15:42+00:00"
    assert "Please find attached our SECOR certification audit" in msg.text
    assert "\r" not in msg.text
    assert "<p>" in msg.html
    assert mentions_secor(msg) and detect_automatic(msg) is None and msg.tracking_numbers == []
    assert msg.defects == []


def test_reply_to_is_where_replies_go(tmp_path: Path) -> None:
    raw = mf.submission_with_zip(extra_headers={"Reply-To": "Acme Office <Office@Acme-Roofing.ca>"})
    msg = parse(raw, tmp_path)
    assert msg.sender == "Office@acme-roofing.ca"
    assert msg.sender_name == "Acme Office"


def test_no_sender_address_is_left_for_a_person(tmp_path: Path) -> None:
    msg = parse(mf.edit_headers(mf.submission_with_zip(), remove=("From",)), tmp_path)
    assert msg.sender is None
    assert msg.attachments  # still parsed
    assert classify(msg) == "other"


# --- attachments: bytes round-trip -------------------------------------------------------------

def _only_attachment(msg: ParsedMessage, workdir: Path) -> Attachment:
    assert len(msg.attachments) == 1, msg.attachments
    att = msg.attachments[0]
    assert att.path.parent == workdir and att.path.is_file()
    assert att.size == att.path.stat().st_size
    return att


@pytest.mark.parametrize("kind", ["plain", "forwarded", "forwarded_base64", "winmail", "forwarded_winmail"])
def test_attachment_bytes_round_trip(kind: str, tmp_path: Path) -> None:
    data = mf.sample_zip()
    raw = {
        "plain": lambda: mf.submission_with_zip(data),
        "forwarded": lambda: mf.forwarded_submission(mf.submission_with_zip(data)),
        "forwarded_base64": lambda: mf.forwarded_submission(mf.submission_with_zip(data), encoding="base64"),
        "winmail": lambda: mf.winmail_submission(data),
        "forwarded_winmail": lambda: mf.forwarded_submission(mf.winmail_submission(data)),
    }[kind]()
    att = _only_attachment(parse(raw, tmp_path), tmp_path)
    assert hashlib.sha256(att.path.read_bytes()).hexdigest() == mf.sha256(data)
    assert att.filename == "Acme SECOR 2026.zip"
    assert att.is_zip and not att.truncated


def test_winmail_dat_is_real_tnef() -> None:
    """The hand-built winmail.dat reads back through tnefparse, checksums and all."""
    data = mf.tiny_zip()
    tnef = TNEF(mf.tnef_bytes([("Acme SECOR 2026.zip", data), ("Notes.txt", b"not an archive")]), do_checksum=True)
    assert [a.long_filename() for a in tnef.attachments] == ["Acme SECOR 2026.zip", "Notes.txt"]
    assert tnef.attachments[0].data == data
    assert all(obj.good_checksum for obj in tnef.objects)
    assert "SECOR" in tnef.body


def test_winmail_non_archives_are_not_kept(tmp_path: Path) -> None:
    raw = mf.winmail_submission(b"%PDF-1.4\n%%EOF\n", filename="Notes.pdf")
    msg = parse(raw, tmp_path)
    assert msg.attachments == []
    assert disk_bytes(tmp_path) == 0
    assert classify(msg) == "no_submission"


def test_unreadable_winmail_is_a_defect(tmp_path: Path) -> None:
    raw = mf.submission_with_zip(b"corrupted in transit" * 4, filename="winmail.dat",
                                 content_type="application/ms-tnef")
    msg = parse(raw, tmp_path)
    assert msg.attachments == []
    assert any("winmail.dat" in d for d in msg.defects), msg.defects


@pytest.mark.parametrize("style", ["auto", "encoded_word"])
def test_non_ascii_file_names_are_decoded(style: str, tmp_path: Path) -> None:
    name = "Évaluation SECOR été 2026.zip"
    att = _only_attachment(parse(mf.submission_with_zip(mf.tiny_zip(), name, filename_style=style), tmp_path), tmp_path)
    assert att.filename == name
    assert att.path.name == name


@pytest.mark.parametrize("claimed, expected", [
    ("../../etc/cron.d/evil.zip", "evil.zip"),
    ("C:\\Users\\jane\\Desktop\\SECOR.zip", "SECOR.zip"),
    ("bell\x07and\x1bescape.zip", "bell and escape.zip"),
    ('say "hi".zip', "say _hi_.zip"),
    ("...", "attachment.zip"),
])
def test_attachment_names_are_sanitised(claimed: str, expected: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    att = _only_attachment(parse(mf.submission_with_zip(mf.tiny_zip(), claimed), work), work)
    assert att.filename == expected
    assert att.path == work / expected
    assert list(tmp_path.rglob("*.zip")) == [work / expected]


def test_long_names_are_capped_keeping_the_extension() -> None:
    name = safe_name("A" * 500 + ".zip", "attachment")
    assert len(name) <= 120 and name.endswith(".zip")


def test_same_name_twice_gets_unique_paths(tmp_path: Path) -> None:
    one, two = mf.tiny_zip({"a.txt": b"1"}), mf.tiny_zip({"b.txt": b"2"})
    raw = mf.submission_with_zip(one, "SECOR.zip", more=[(two, "SECOR.zip", "application/zip")])
    (tmp_path / "SECOR.zip").write_bytes(b"left by an earlier message")
    msg = parse(raw, tmp_path)
    paths = [a.path for a in msg.attachments]
    assert [p.name for p in paths] == ["SECOR (2).zip", "SECOR (3).zip"]
    assert [p.read_bytes() for p in paths] == [one, two]
    assert (tmp_path / "SECOR.zip").read_bytes() == b"left by an earlier message"


def test_zip_recognised_by_content_whatever_its_name(tmp_path: Path) -> None:
    raw = mf.submission_with_zip(mf.tiny_zip(), "documents.dat", content_type="application/octet-stream")
    att = _only_attachment(parse(raw, tmp_path), tmp_path)
    assert att.is_zip and att.filename == "documents.dat"


def test_claimed_zip_that_is_not_one_still_counts(tmp_path: Path) -> None:
    rar = b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64
    msg = parse(mf.submission_with_zip(rar, "SECOR 2026.zip", content_type="application/zip"), tmp_path)
    att = _only_attachment(msg, tmp_path)
    assert att.is_zip  # claims to be one: triage finds out it is not (archive.not_zip)
    assert classify(msg) == "submission"


def test_other_archive_is_a_submission_attempt_not_a_zip(tmp_path: Path) -> None:
    rar = b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64
    msg = parse(mf.submission_with_zip(rar, "SECOR 2026.rar", content_type="application/x-rar-compressed"), tmp_path)
    att = _only_attachment(msg, tmp_path)
    assert not att.is_zip
    assert classify(msg) == "submission"


def test_loose_documents_are_not_a_submission(tmp_path: Path) -> None:
    pdf = b"%PDF-1.4\n%%EOF\n"
    raw = mf.submission_with_zip(pdf, "Evaluation tool.pdf", content_type="application/pdf",
                                 more=[(b"\x89PNG\r\n\x1a\n", "logo.png", "image/png")])
    msg = parse(raw, tmp_path)
    assert msg.attachments == [] and disk_bytes(tmp_path) == 0
    assert classify(msg) == "no_submission"


# --- the attachment cap -------------------------------------------------------------------

def test_cap_truncates_and_records_a_defect(tmp_path: Path) -> None:
    cap = 100_000
    msg = parse(mf.oversized(300_000), tmp_path, cap)
    att = _only_attachment(msg, tmp_path)
    assert att.truncated and att.size == cap
    assert disk_bytes(tmp_path) == cap
    assert any("limit" in d for d in msg.defects)
    assert classify(msg) == "submission"  # triage answers archive.too_large, not "no submission"


def test_cap_is_shared_by_all_attachments(tmp_path: Path) -> None:
    first = mf.tiny_zip({"a.bin": bytes(range(256)) * 200})
    second = mf.tiny_zip({"b.bin": bytes(range(255, -1, -1)) * 200})
    cap = len(first) + 10
    raw = mf.submission_with_zip(first, "one.zip", more=[(second, "two.zip", "application/zip")])
    msg = parse(raw, tmp_path, cap)
    one, two = msg.attachments
    assert one.path.read_bytes() == first and not one.truncated
    assert two.truncated and two.size == 10
    assert disk_bytes(tmp_path) == cap


def test_cap_applies_to_winmail_dat(tmp_path: Path) -> None:
    data = mf.sample_zip()
    msg = parse(mf.winmail_submission(data), tmp_path, len(data) // 2)
    assert msg.attachments == []  # the winmail.dat itself is over the limit: not read
    assert disk_bytes(tmp_path) == 0
    assert any("limit" in d for d in msg.defects)


def test_parse_from_a_file_path(tmp_path: Path) -> None:
    eml = tmp_path / "message.eml"
    eml.write_bytes(mf.submission_with_zip(mf.tiny_zip()))
    msg = parse_message(eml, tmp_path / "work", CAP)
    assert msg.attachments[0].path.read_bytes() == mf.tiny_zip()


# --- broken mail never raises -------------------------------------------------------------

@pytest.mark.parametrize("variant", mf.BROKEN_VARIANTS)
def test_broken_mime_never_raises(variant: str, tmp_path: Path) -> None:
    msg = parse(mf.broken_mime(variant), tmp_path)
    assert isinstance(msg.subject, str)
    assert mentions_secor(msg), (msg.subject, msg.text[:200])
    assert classify(msg) in ("submission", "no_submission", "other")
    if variant not in ("huge_header",):
        assert msg.defects, "a broken message leaves a trace in defects"


def test_broken_variants_keep_what_can_be_kept(tmp_path: Path) -> None:
    lying = parse(mf.broken_mime("lying_multipart"), tmp_path / "a")
    assert "Our SECOR audit is attached." in lying.text
    bad64 = parse(mf.broken_mime("bad_base64"), tmp_path / "b")
    assert bad64.attachments[0].path.read_bytes() == mf.tiny_zip()  # junk characters skipped, bytes intact
    cut = parse(mf.broken_mime("unterminated"), tmp_path / "c")
    assert cut.attachments and cut.attachments[0].size < len(mf.tiny_zip())
    deep = parse(mf.broken_mime("too_deep"), tmp_path / "d")
    assert any("too deep" in d for d in deep.defects)
    assert deep.sender == "jane.doe@acme-roofing.ca" and deep.subject == "SECOR deep"
    capped = parse(mf.broken_mime("deep_nesting"), tmp_path / "e")
    assert any("nesting deeper" in d for d in capped.defects)
    huge = parse(mf.broken_mime("huge_header"), tmp_path / "f")
    assert huge.sender == "jane.doe@acme-roofing.ca" and "SECOR audit" in huge.text


def test_garbage_headers_decode_sensibly(tmp_path: Path) -> None:
    msg = parse(mf.broken_mime("garbage_headers"), tmp_path)
    assert msg.subject.startswith("SECOR audit été été")
    assert msg.sender == "jane.doe@acme-roofing.ca"
    assert msg.message_id == "<broken-garbage@acme-roofing.ca>"
    assert msg.date is None
    assert "Our SECOR audit will follow." in msg.text


@pytest.mark.parametrize("variant", mf.CHARSET_VARIANTS)
def test_bad_charsets_give_readable_text(variant: str, tmp_path: Path) -> None:
    msg = parse(mf.bad_charset(variant), tmp_path)
    assert "Évaluation SECOR été 2026" in msg.text
    assert "\ufffd" not in msg.text


def test_8bit_headers_are_decoded(tmp_path: Path) -> None:
    msg = parse(mf.bad_charset("8bit_headers"), tmp_path)
    assert msg.subject == "SECOR évaluation été"
    assert msg.sender_name == "Renée Côté"


def test_undecodable_bytes_become_replacement_characters(tmp_path: Path) -> None:
    raw = mf.edit_headers(mf.bad_charset("utf8_with_latin1"), remove=()) + b"\x81\x8d\x8f\x90\x9d\r\n"
    msg = parse(raw, tmp_path)
    assert "Évaluation" in msg.text  # still cp1252, with replacement for its five holes
    assert msg.defects


def test_decode_header_text_handles_words_and_garbage() -> None:
    assert decode_header_text("=?utf-8?q?Jos=C3=A9?= =?iso-8859-1?b?UOlyZXo=?=") == "JoséPérez"
    assert decode_header_text("=?utf-8?b?###?= plain") == "=?utf-8?b?###?= plain"
    assert decode_header_text("a\r\n\tfolded\x00line") == "a folded line"


# --- automatic mail ---------------------------------------------------------------------------

HUMAN = mf.question_without_submission


@pytest.mark.parametrize("raw, reason", [
    (lambda: mf.auto_submitted("auto-generated"), "auto-submitted: auto-generated"),
    (lambda: mf.auto_submitted("auto-replied; owner-email=x@y.z"), "auto-submitted: auto-replied"),
    (lambda: mf.auto_submitted("", precedence="bulk"), "precedence: bulk"),
    (lambda: mf.auto_submitted("", precedence="junk"), "precedence: junk"),
    (lambda: mf.edit_headers(mf.list_mail(), remove=("Precedence",)), "list mail (List-Id)"),
    (lambda: mf.edit_headers(mf.list_mail(), remove=("Precedence", "List-Id")), "list mail (List-Unsubscribe)"),
    (lambda: mf.edit_headers(HUMAN(), add={"List-Post": "<mailto:news@lists.example>"}), "list mail (List-Post)"),
    (lambda: mf.out_of_office("x_autoreply"), "auto-reply (X-Autoreply)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-Autorespond": "yes"}), "auto-reply (X-Autorespond)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-Auto-Response-Suppress": "All"}), "auto-reply (X-Auto-Response-Suppress)"),
    (lambda: mf.out_of_office("outlook_suppress"), "auto-reply (X-Auto-Response-Suppress)"),
    (lambda: mf.edit_headers(mf.bounce_dsn(), remove=("Auto-Submitted",)), "delivery status notification"),
    (lambda: mf.read_receipt(), "read receipt (disposition notification)"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Return-Path",), add={"Return-Path": "<>"}), "null sender"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "MAILER-DAEMON@mx.example.org"}), "mailer-daemon"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "postmaster@acme-roofing.ca"}), "postmaster"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
                                                            "Reply-To": "jane.doe@acme-roofing.ca"}), "mailer-daemon"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "SECOR Portal <no-reply@portal.example>"}),
     "no-reply sender"),
    (lambda: mf.out_of_office("subject_only"), "out-of-office"),
    (lambda: mf.out_of_office("subject_only", subject="Réponse automatique : Soumission SECOR"), "out-of-office"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Subject",), add={"Subject": "Undeliverable: SECOR audit"}),
     "delivery status notification"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Subject",), add={"Subject": "Delivery Status Notification (Failure)"}),
     "delivery status notification"),
    # issue 10: robots of the real-world corpus that carried none of the marks above
    (lambda: mf.edit_headers(HUMAN(), add={"Mailing-List": "contact nyaan-help@lists.example; run by ezmlm"}),
     "list mail (Mailing-List)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-MLServer": "fml [fml 4.0.3 release]"}), "list mail (X-MLServer)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-Mailman-Version": "2.0.4"}), "list mail (X-Mailman-Version)"),
    (lambda: mf.edit_headers(HUMAN(), add={"List-Subscribe": "<mailto:x-ctl@lists.example>"}),
     "list mail (List-Subscribe)"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "ppp-request@lists.example"}),
     "list robot (ppp-request)"),
    (lambda: mf.edit_headers(HUMAN(), add={"Sender": "ppp-admin@lists.example"}), "list robot (ppp-admin)"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Return-Path",), add={"Return-Path": "<safety-bounces@lists.example>"}),
     "list robot (safety-bounces)"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "post_master@vtext.example"}), "postmaster"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "MAILER-DAEMON <>"}), "null sender"),
    (lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "Mail Delivery Subsystem <MAILER-DAEMON>"}),
     "mailer-daemon"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Subject",), add={"Subject": "Loop Alert: Duplicated Message-ID"}),
     "loop alert"),
    (lambda: mf.edit_headers(HUMAN(), remove=("Subject",), add={"Subject": "complaint about message from 192.0.2.1"}),
     "abuse report"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-Bluebottle-Request": "<1234>"}),
     "challenge-response (X-Bluebottle-Request)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-PHP-Script": "admin.example/dispatch.php for 192.0.2.7"}),
     "sent by a script (X-PHP-Script)"),
    (lambda: mf.edit_headers(HUMAN(), add={"X-Apple-Action": "vacation"}), "auto-reply (X-Apple-Action)"),
    (lambda: mf.forwarded_submission(mf.edit_headers(HUMAN(), add={"X-HmXmrOriginalRecipient": "cor@youracsa.ca"}),
                                     sender="staff@hotmail.com", subject="SECOR evaluation 2026"),
     "abuse report (Microsoft)"),
])
def test_automatic_kinds_are_detected(raw, reason: str, tmp_path: Path) -> None:
    msg = parse(raw(), tmp_path)
    assert detect_automatic(msg) == reason
    assert classify(msg) == "automatic"


@pytest.mark.parametrize("raw", [
    lambda: mf.question_without_submission(),
    lambda: mf.submission_with_zip(extra_headers={"Auto-Submitted": "no", "X-Auto-Response-Suppress": "DR, RN"}),
    lambda: mf.edit_headers(HUMAN(), remove=("Subject",), add={"Subject": "Our office move and the SECOR audit"}),
    lambda: mf.forwarded_submission(mf.bounce_dsn()),  # a person forwarding a bounce asks a person
    # a person at the webmail of a shared host: PHP sends it, the webmail says so
    lambda: mf.edit_headers(HUMAN(), add={"X-PHP-Originating-Script": "1000:rcube.php",
                                          "User-Agent": "Roundcube Webmail/1.6.5"}),
    # an address that merely looks like a role is still a person: only Mailman's Sender counts
    lambda: mf.edit_headers(HUMAN(), remove=("From",), add={"From": "Office Admin <office-admin@acme-roofing.ca>"}),
])
def test_human_messages_are_not_automatic(raw, tmp_path: Path) -> None:
    assert detect_automatic(parse(raw(), tmp_path)) is None


# --- tracking numbers --------------------------------------------------------------------------

def test_tracking_number_from_subject_only(tmp_path: Path) -> None:
    msg = parse(mf.reply_to_case("SECOR-2026-000042", in_references=False), tmp_path)
    assert msg.tracking_numbers == ["SECOR-2026-000042"]
    assert msg.in_reply_to == [] and msg.references == []


def test_tracking_number_from_our_message_id_in_references(tmp_path: Path) -> None:
    msg = parse(mf.reply_to_case("SECOR-2026-000107", in_subject=False), tmp_path)
    assert msg.tracking_numbers == ["SECOR-2026-000107"]
    assert msg.in_reply_to == ["<SECOR-2026-000107.5d41402abc4b2a76@secor-intake>"]
    assert msg.references == ["<CAF3x8pQm1n2@mail.acme-roofing.ca>", "<SECOR-2026-000107.5d41402abc4b2a76@secor-intake>"]


def test_tracking_number_from_references_alone(tmp_path: Path) -> None:
    raw = mf.edit_headers(mf.reply_to_case("SECOR-2025-000003", in_subject=False), remove=("In-Reply-To",))
    msg = parse(raw, tmp_path)
    assert msg.in_reply_to == []
    assert msg.tracking_numbers == ["SECOR-2025-000003"]


def test_tracking_number_from_body_and_in_order(tmp_path: Path) -> None:
    text = "Hi, about case secor-2026-000009 and also SECOR-2026-000010.\n"
    raw = mf.submission_with_zip(subject="Re: [SECOR-2026-000011] returned", text=text)
    msg = parse(raw, tmp_path)
    assert msg.tracking_numbers == ["SECOR-2026-000011", "SECOR-2026-000009", "SECOR-2026-000010"]
    assert classify(msg) == "follow_up"
    assert msg.attachments  # a follow-up with a zip is a new version of the case


def test_tracking_pattern_boundaries() -> None:
    assert find_tracking_numbers("SECOR-2026-000042") == ["SECOR-2026-000042"]
    assert find_tracking_numbers("XSECOR-2026-000042 SECOR-2026-0000421 SECOR-26-000042") == []


# --- classify on its own ------------------------------------------------------------------------

def test_classify_order() -> None:
    def msg(**kw) -> ParsedMessage:
        return ParsedMessage(sender="a@b.ca", **kw)

    zip_att = Attachment("a.zip", "application/zip", Path("/nonexistent/a.zip"), 1, True)
    assert classify(msg(headers=[("Precedence", "bulk")], attachments=[zip_att])) == "automatic"
    assert classify(msg(tracking_numbers=["SECOR-2026-000001"], links=["https://x"])) == "follow_up"
    assert classify(msg(links=["https://www.dropbox.com/s/abc/x.zip"])) == "submission"
    assert classify(msg(attachments=[zip_att])) == "submission"
    assert classify(msg(subject="Our SECOR audit")) == "no_submission"
    assert classify(msg()) == "other"


def test_share_links_are_found(tmp_path: Path) -> None:
    for html in (True, False):
        msg = parse(mf.submission_with_link(html=html), tmp_path)
        assert msg.links and msg.links[0].startswith("https://www.dropbox.com/scl/fi/k2x9w8ab3cd/")
        assert msg.attachments == []


def test_winmail_with_lying_property_count_does_not_hang(tmp_path: Path) -> None:
    """tnefparse loops over a MAPI list's claimed count; a count of 2**32-1 must be refused, not run."""
    data = mf.tiny_zip()
    tnef = bytearray(mf.tnef_bytes([("Acme SECOR 2026.zip", data)]))
    props = tnef.index(b"\x03\x90\x06\x00")  # attMAPIProps: id 0x9003, type 0x0006
    tnef[props + 8:props + 12] = b"\xff\xff\xff\xff"  # the property count, right after the length
    raw = mf.submission_with_zip(bytes(tnef), "winmail.dat", content_type="application/ms-tnef")
    msg = parse(raw, tmp_path)
    assert any("property list skipped" in d for d in msg.defects), msg.defects
    assert msg.attachments[0].path.read_bytes() == data  # the attachment itself is still found


def test_mutated_mail_never_raises(tmp_path: Path) -> None:
    """A few hundred seeded random corruptions of real messages: parse and classify always answer."""
    import random

    rng = random.Random(20261124)
    seeds = [mf.submission_with_zip(mf.tiny_zip()), mf.winmail_submission(mf.tiny_zip()), mf.bounce_dsn(),
             mf.forwarded_submission(mf.submission_with_zip(mf.tiny_zip())), mf.bad_charset("8bit_headers")]
    junk = [b"=?", b"?=", b"\xff", b"\x00", b"\r\n", b"--", b'"', b";", b"*=", b"boundary=", b"charset=", b"<", b">"]
    for i in range(300):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 10)):
            pos = rng.randrange(len(raw))
            roll = rng.random()
            if roll < 0.4:
                raw[pos:pos] = rng.choice(junk)
            elif roll < 0.7:
                del raw[pos:pos + rng.randint(1, 20)]
            else:
                raw[pos] = rng.randrange(256)
        msg = parse(bytes(raw), tmp_path / str(i), 100_000)
        assert classify(msg) in ("automatic", "follow_up", "submission", "no_submission", "other")
    assert disk_bytes(tmp_path) <= 300 * 100_000
