"""The daemon's commands: run, poll, submissions, show, db upgrade, health, demo.

SQLAlchemy and the models are imported inside the commands that use them: `secor-intake triage`
registers its parser beside these and should not pay ~0.15 s for a database it never opens.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any, Callable

from intake.config import Config

if TYPE_CHECKING:
    from intake.db import Message, Submission, Version

log = logging.getLogger("secor_intake")

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_CANNOT_RUN = 2

MESSAGE_STATUSES = ("failed", "abandoned")


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    """Register the commands on the CLI's sub-parsers; returns name -> handler."""
    commands.add_parser("run", help="the daemon: poll, send replies and keep house until SIGTERM/SIGINT")
    commands.add_parser("poll", help="one full cycle now: take new mail, process it, send pending replies")
    listing = commands.add_parser("submissions", help="list tracked submissions, newest first")
    listing.add_argument("--status", choices=("accepted", "needs_review", "returned") + MESSAGE_STATUSES,
                         help="a verdict, or failed | abandoned for emails that could not be processed")
    listing.add_argument("--json", action="store_true")
    show = commands.add_parser("show", help="one submission: its report, files, findings and replies")
    show.add_argument("tracking_number", metavar="TRACKING_NUMBER")
    show.add_argument("--json", action="store_true")
    database = commands.add_parser("db", help="database maintenance")
    database.add_argument("action", choices=["upgrade"], help="upgrade: create or migrate the schema")
    health = commands.add_parser("health", help="print the health record; exit 1 when something needs a person")
    health.add_argument("--json", action="store_true")
    commands.add_parser("demo", help="seed the embedded demo inbox, run one cycle and show the outcomes")
    return {"run": cmd_run, "poll": cmd_poll, "submissions": cmd_submissions, "show": cmd_show,
            "db": cmd_db, "health": cmd_health, "demo": cmd_demo}


def _with_services(config: Config, work: Callable[[Any], int], upgrade: bool | None = None) -> int:
    """Run `work(services)` on opened services, closing them after; an unreachable database is exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from intake.service import open_services

    try:
        services = open_services(config, upgrade=upgrade)
    except SQLAlchemyError as exc:
        return _fail(f"database unreachable: {_first_line(exc)}")
    try:
        return work(services)
    finally:
        services.close()


def _fail(message: str) -> int:
    print(f"secor-intake: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    def report(services: Any) -> int:
        print(f"database schema is up to date ({_safe_url(config.database_url)})", file=sys.stderr)
        return EXIT_OK

    return _with_services(config, report, upgrade=True)


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    from intake.mailbox.base import MailboxError
    from sqlalchemy.exc import SQLAlchemyError

    from intake.outbound import SendError
    from intake.service import poll_cycle

    def cycle(services: Any) -> int:
        try:
            poll_cycle(services)
        except MailboxError as exc:
            return _fail(f"mailbox: {exc}")
        except SendError as exc:
            return _fail(f"outbound: {exc}")
        except SQLAlchemyError as exc:
            return _fail(f"database: {_first_line(exc)}")
        return EXIT_OK

    return _with_services(config, cycle)


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from intake.daemon import Daemon

    return _with_services(config, lambda services: Daemon(services).run())


def cmd_health(config: Config, args: argparse.Namespace) -> int:
    from intake.health import Health, problems

    data = Health(config.resolve_path(config.health.path)).read()
    found = problems(data, config.schedule.poll_seconds)
    if args.json:
        json.dump(data | {"problems": found}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
        print("status: " + ("ok" if not found else "PROBLEM: " + "; ".join(found)))
    return EXIT_PROBLEM if found else EXIT_OK


def _latest(submission: Submission) -> Version | None:
    return submission.versions[-1] if submission.versions else None


def submission_summary(submission: Submission) -> dict[str, Any]:
    """The `submissions --json` object of one case."""
    first = submission.versions[0] if submission.versions else None
    latest = _latest(submission)
    return {
        "tracking_number": submission.tracking_number,
        "verdict": submission.verdict,
        "status": submission.verdict,
        "submitter": submission.submitter,
        "received_at": submission.received_at.isoformat(),
        "subject": submission.subject,
        "message_id": first.message.message_id if first is not None and first.message is not None else None,
        "source": latest.report["source"] if latest is not None and latest.report else None,
        "versions": len(submission.versions),
    }


def message_summary(row: Message) -> dict[str, Any]:
    """A message that could not be processed, in the same shape (tracking number null)."""
    return {
        "tracking_number": None,
        "verdict": None,
        "status": row.state,
        "submitter": row.sender,
        "received_at": row.received_at.isoformat(),
        "subject": row.subject,
        "message_id": row.message_id,
        "source": None,
        "attempts": row.attempts,
        "last_error": row.last_error,
    }


def cmd_submissions(config: Config, args: argparse.Namespace) -> int:
    return _with_services(config, lambda services: _list_submissions(services, args))


def _list_submissions(services: Any, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from intake.db import Message, Submission

    with services.sessions() as session:
        items: list[tuple[Any, dict[str, Any]]] = []
        if args.status not in MESSAGE_STATUSES:
            query = select(Submission)
            if args.status:
                query = query.where(Submission.verdict == args.status)
            items += [(s.received_at, submission_summary(s)) for s in session.scalars(query)]
        if args.status is None or args.status in MESSAGE_STATUSES:
            states = [args.status] if args.status else list(MESSAGE_STATUSES)
            items += [(m.received_at, message_summary(m))
                      for m in session.scalars(select(Message).where(Message.state.in_(states)))]
    rows = [item for _, item in sorted(items, key=lambda pair: pair[0], reverse=True)]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not rows:
        print("no submissions")
    for row in rows:
        print(f"{row['tracking_number'] or '(' + row['status'] + ')':<20} {row['status'] or '':<13} "
              f"{row['received_at'][:16]:<17} {row['submitter'] or '':<32} {row['subject'] or ''}")
    return EXIT_OK


def show_document(submission: Submission) -> dict[str, Any]:
    """`show --json`: the latest report in the contract's shape, plus every version and reply."""
    latest = _latest(submission)
    document = dict(latest.report) if latest is not None and latest.report else {
        "tracking_number": submission.tracking_number, "verdict": submission.verdict, "source": None,
        "summary": {}, "findings": []}
    document.update(submitter=submission.submitter, subject=submission.subject,
                    received_at=submission.received_at.isoformat())
    document["versions"] = [{
        "number": v.number, "verdict": v.verdict, "received_at": v.created_at.isoformat(),
        "message_id": v.message.message_id if v.message is not None else None,
        "storage_path": v.storage_path, "source": v.report["source"] if v.report else None,
        "files": [{"path": d.path, "size": d.size, "sha256": d.sha256, "mime": d.mime, "element": d.element}
                  for d in v.documents],
        "findings": [{"code": f.code, "severity": f.severity, "path": f.path, "message": f.message}
                     for f in v.findings],
    } for v in submission.versions]
    from intake.company import company_record

    document["company"] = company_record(submission)
    document["replies"] = [{
        "recipient": r.recipient, "subject": r.subject, "status": r.status, "message_id": r.message_id,
        "attempts": r.attempts, "sent_at": r.sent_at.isoformat() if r.sent_at else None,
        "suppressed_reason": r.suppressed_reason, "last_error": r.last_error,
    } for r in submission.replies]
    return document


def cmd_show(config: Config, args: argparse.Namespace) -> int:
    return _with_services(config, lambda services: _show(services, args))


def _show(services: Any, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from intake.db import Submission
    from triage.render import render_text
    from triage.report import Report

    with services.sessions() as session:
        submission = session.scalar(select(Submission).where(Submission.tracking_number == args.tracking_number))
        if submission is None:
            return _fail(f"show: no submission {args.tracking_number}")
        document = show_document(submission)
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{document['tracking_number']}  from {document['submitter']}  received {document['received_at']}")
    print(f"subject: {document['subject']}")
    for version in document["versions"]:
        print(f"\n--- version {version['number']}: {version['verdict']} (files in {version['storage_path']})")
    if document.get("source"):
        print()
        sys.stdout.write(render_text(Report.from_dict(document)))
    for reply in document["replies"]:
        print(f"reply to {reply['recipient']}: {reply['status']}"
              + (f" at {reply['sent_at']}" if reply["sent_at"] else "")
              + (f" ({reply['suppressed_reason']})" if reply["suppressed_reason"] else ""))
    return EXIT_OK


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    from intake.demo import run_demo

    return run_demo(config)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
