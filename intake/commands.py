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
from intake.states import UNPROCESSED_STATES

if TYPE_CHECKING:
    from intake.service import Services

log = logging.getLogger("secor_intake")

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_CANNOT_RUN = 2


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    """Register the commands on the CLI's sub-parsers; returns name -> handler."""
    commands.add_parser("run", help="the daemon: poll, send replies and keep house until SIGTERM/SIGINT")
    commands.add_parser("poll", help="one full cycle now: take new mail, process it, send pending replies")
    listing = commands.add_parser("submissions", help="list tracked submissions, newest first")
    listing.add_argument("--status", choices=("accepted", "needs_review", "returned") + tuple(UNPROCESSED_STATES),
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
    housekeeping = commands.add_parser("housekeeping", help="delete stored files and raw emails past [retention] "
                                       "(decided cases only) and stale scratch space")
    housekeeping.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    housekeeping.add_argument("--json", action="store_true")
    return {"run": cmd_run, "poll": cmd_poll, "submissions": cmd_submissions, "show": cmd_show,
            "db": cmd_db, "health": cmd_health, "demo": cmd_demo, "housekeeping": cmd_housekeeping}


def cmd_housekeeping(config: Config, args: argparse.Namespace) -> int:
    def work(services: Services) -> int:
        from intake.cases import retention
        from intake.housekeeping import housekeep

        found = retention.apply(services.sessions, services.storage.root, config.retention, dry_run=args.dry_run)
        scratch = 0 if args.dry_run else housekeep(services)
        if args.json:
            json.dump({"dry_run": args.dry_run, "expired": [item.to_dict() for item in found],
                       "scratch_folders_removed": scratch}, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        verb = "would delete" if args.dry_run else "deleted"
        for item in found:
            print(f"{item.tracking_number}: {verb} {item.what} ({len(item.paths)} files, {item.bytes} bytes); "
                  f"last decision {item.decided_at.date().isoformat()}")
        print(f"{len(found)} cases past retention" + ("" if config.retention.submissions_years
                                                       or config.retention.raw_email_years
                                                       else " (retention is off: [retention] years are 0)"))
        return EXIT_OK

    return with_services(config, work)


def print_json(document: Any) -> None:
    """`--json` output: one JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def with_services(config: Config, work: Callable[[Services], int], upgrade: bool | None = None) -> int:
    """Run `work(services)` on opened services, closing them after; an unreachable database is exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from intake.service import open_services

    try:
        services = open_services(config, upgrade=upgrade)
    except SQLAlchemyError as exc:
        return fail(f"database unreachable: {_first_line(exc)}")
    try:
        return work(services)
    finally:
        services.close()


def fail(message: str) -> int:
    print(f"secor-intake: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    def report(services: Services) -> int:
        print(f"database schema is up to date ({safe_url(config.database_url)})", file=sys.stderr)
        return EXIT_OK

    return with_services(config, report, upgrade=True)


def cmd_poll(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from intake.mailbox.base import MailboxError
    from intake.oauth2 import TokenRefused, TokenUnavailable
    from intake.outbound import SendError
    from intake.service import poll_cycle

    def cycle(services: Services) -> int:
        try:
            poll_cycle(services)
        except (TokenRefused, TokenUnavailable) as exc:  # its message names the section
            return fail(str(exc))
        except MailboxError as exc:
            return fail(f"mailbox: {exc}")
        except SendError as exc:
            return fail(f"outbound: {exc}")
        except SQLAlchemyError as exc:
            return fail(f"database: {_first_line(exc)}")
        return EXIT_OK

    return with_services(config, cycle)


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from intake.daemon import Daemon

    return with_services(config, lambda services: Daemon(services).run())


def cmd_health(config: Config, args: argparse.Namespace) -> int:
    from intake.health import Health, problems

    data = Health(config.resolve_path(config.health.path)).read()
    found = problems(data, config.schedule.poll_seconds)
    if args.json:
        print_json(data | {"problems": found})
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
        print("status: " + ("ok" if not found else "PROBLEM: " + "; ".join(found)))
    return EXIT_PROBLEM if found else EXIT_OK


def cmd_submissions(config: Config, args: argparse.Namespace) -> int:
    return with_services(config, lambda services: _list_submissions(services, args))


def _list_submissions(services: Services, args: argparse.Namespace) -> int:
    from intake.cases.queries import submission_list

    with services.sessions() as session:
        rows = submission_list(session, args.status)
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("no submissions")
    for row in rows:
        print(f"{row['tracking_number'] or '(' + row['status'] + ')':<20} {row['status'] or '':<13} "
              f"{row['received_at'][:16]:<17} {row['submitter'] or '':<32} {row['subject'] or ''}")
    return EXIT_OK


def cmd_show(config: Config, args: argparse.Namespace) -> int:
    return with_services(config, lambda services: _show(services, args))


def _show(services: Services, args: argparse.Namespace) -> int:
    from intake.cases.queries import find_case, show_document
    from intake.registers.checks import fact_notes
    from triage.render import render_text
    from triage.report import Report

    with services.sessions() as session:
        submission = find_case(session, args.tracking_number)
        if submission is None:
            return fail(f"show: no submission {args.tracking_number}")
        document = show_document(session, submission, services.storage, services.config.registers)
    if args.json:
        print_json(document)
        return EXIT_OK
    print(f"{document['tracking_number']}  from {document['submitter']}  received {document['received_at']}")
    print(f"subject: {document['subject']}")
    for version in document["versions"]:
        print(f"\n--- version {version['number']}: {version['verdict']} (files in {version['storage_path']})")
    if document.get("source"):
        print()
        sys.stdout.write(render_text(Report.from_dict(document)))
    for fact, note in fact_notes(document.get("registers")).items():
        print(f"registers on {fact.replace('_', ' ')}: {note}")
    for reminder in (document.get("company") or {}).get("maintenance_reminders") or []:
        print(f"maintenance reminder {reminder['year']} to {reminder['recipient']}: {reminder['status']}")
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


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
