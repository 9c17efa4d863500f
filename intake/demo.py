"""`secor-intake demo`: a few realistic emails in the embedded Maildir, one cycle, the outcomes shown."""

from __future__ import annotations

import io
import secrets
import shutil
import sys
import tempfile
import uuid
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from intake.clock import utcnow
from intake.config import Config
from intake.db import Case, InboxMessage
from intake.samples import build_sample_zip, write_sample_submission

if TYPE_CHECKING:
    from intake.service import Services

TIFF_HEADER = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64  # a little-endian TIFF, as fax software writes


def _email(sender: str, subject: str, body: str, headers: dict[str, str] | None = None,
           attachment: tuple[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "COR@youracsa.ca"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain="demo.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="zip", filename=attachment[0])
    return msg.as_bytes()


def _returned_zip(workdir: Path) -> bytes:
    """A submission QA would return: no evaluation tool, a fax-era TIFF, an unclear name."""
    root = write_sample_submission(workdir / "bad", employer="Birch Electric Inc.", wrapper="Birch SECOR")
    for tool in root.glob("*.pdf"):
        tool.unlink()  # the evaluation tool sits at the top of the sample tree
    element3 = next(p for p in root.iterdir() if p.is_dir() and p.name.startswith("Element 3"))
    (element3 / "scan0001.tif").write_bytes(TIFF_HEADER)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, path.relative_to(root.parent).as_posix())
    return buffer.getvalue()


def demo_emails(workdir: Path) -> list[tuple[str, bytes]]:
    """(what it shows, raw email) for each demo message."""
    good = build_sample_zip(workdir / "good.zip", employer="Acme Roofing Ltd.").read_bytes()
    return [
        ("a complete submission", _email(
            "Dana Smith <dana@acmeroofing.example>", "SECOR evaluation 2026 - Acme Roofing Ltd.",
            "Hello,\n\nPlease find our SECOR evaluation attached.\n\nDana Smith\nAcme Roofing Ltd.\n",
            attachment=("Acme Roofing SECOR 2026.zip", good))),
        ("a submission QA would return", _email(
            "Lee Wong <lee@birchelectric.example>", "SECOR submission Birch Electric",
            "Hi, here is our SECOR audit.\n\nLee\n", attachment=("Birch SECOR.zip", _returned_zip(workdir)))),
        ("a question without a submission", _email(
            "Sam Patel <sam@cedarpaving.example>", "Question about SECOR",
            "Hello, how do we send our SECOR evaluation? Thanks, Sam\n")),
        ("an out-of-office auto-reply", _email(
            "Robin Doe <robin@example.org>", "Automatic reply: SECOR evaluation",
            "I am out of the office until Monday.\n", headers={"Auto-Submitted": "auto-replied"})),
    ]


DEMO_ANALYST = "demo"
# The demo's submitters with a case (the question gets one too); the auto-reply's sender gets none.
DEMO_SENDERS = ("dana@acmeroofing.example", "lee@birchelectric.example", "sam@cedarpaving.example")


def _demo_analyst(services: Services) -> str | None:
    """Create the demo analyst; returns its password, or None when it exists already (its password stays)."""
    from intake.users import add_user, find_user

    password = "-".join(secrets.token_hex(3) for _ in range(3))
    with services.sessions.begin() as session:
        if find_user(session, DEMO_ANALYST) is not None:
            return None
        add_user(session, DEMO_ANALYST, "analyst", password)
    return password


def _already_seeded(services: Services, senders: list[str]) -> list[str]:
    """The tracking numbers of the demo's cases from an earlier `demo` (seeding again would copy them)."""
    with services.sessions() as session:
        return list(session.scalars(select(Case.tracking_number).where(Case.submitter.in_(senders))
                                    .order_by(Case.id)))


def run_demo(config: Config) -> int:
    """Seed, poll once, report. Only on the embedded Maildir and pickup-folder outbox."""
    from intake.mailbox.maildir import MaildirSource
    from intake.service import open_services, poll_cycle

    if config.mailbox.kind != "maildir" or config.outbound.kind != "file":
        print("secor-intake: demo runs only on the embedded defaults (mailbox.kind = \"maildir\", "
              "outbound.kind = \"file\"); use `poll` with this configuration", file=sys.stderr)
        return 2
    services = open_services(config)
    workdir = Path(tempfile.mkdtemp(prefix="secor-demo-"))
    try:
        earlier = _already_seeded(services, list(DEMO_SENDERS))
        if earlier:
            print(f"The demo's emails were taken already ({', '.join(earlier)}): nothing seeded again. "
                  "`make clean` starts afresh.")
            _print_workbench(config, _demo_analyst(services))
            return 0
        with MaildirSource.from_config(config.mailbox, config.resolve_path) as source:  # seeding is Maildir's own
            emails = demo_emails(workdir)
            for _, raw in emails:
                source.append(config.mailbox.folder, raw)
        print(f"Seeded {len(emails)} emails into {config.resolve_path(config.mailbox.path)}: "
              + "; ".join(what for what, _ in emails) + ".")
        result = poll_cycle(services)
        print(f"One cycle: {result.intake.seen} emails taken, replies sent: {result.replies.sent}.\n")
        with services.sessions() as session:
            rows = session.scalars(select(InboxMessage).order_by(InboxMessage.id.desc()).limit(len(emails))).all()
            for row in reversed(rows):
                case = session.get(Case, row.submission_id) if row.submission_id else None
                outcome = f"{case.tracking_number}  {case.verdict}" if case else f"{row.outcome} ({row.last_error})"
                print(f"  {row.subject!r:<48} -> {outcome}")
        storage = services.storage.root
        outbox = config.resolve_path(config.outbound.path)
        print(f"\nTriage reports for QA:  {storage}/<tracking number>/1/report.txt")
        print(f"Replies (one .eml each): {outbox}")
        print(f"Mailbox folders:        {config.resolve_path(config.mailbox.path)}")
        print("List them with `secor-intake submissions`, read one with `secor-intake show <tracking number>`.")
        _print_workbench(config, _demo_analyst(services))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        services.close()
    return 0


def _print_workbench(config: Config, password: str | None) -> None:
    told = (f"with the password {password}" if password else
            f"with its password (`secor-intake user passwd {DEMO_ANALYST}` sets a new one)")
    print(f"\nQA workbench: run `secor-intake web`, open {config.web.public_url}/ and sign in as "
          f"{DEMO_ANALYST} {told}.")
