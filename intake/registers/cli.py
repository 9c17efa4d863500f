"""`secor-intake register import members|training|certificates FILE` and `register show WCB_ACCOUNT`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from intake.commands import EXIT_CANNOT_RUN, EXIT_OK, fail, print_json, with_services
from intake.config import Config
from intake.registers import REGISTERS


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    register = commands.add_parser("register", help="the association's registers: members, training, certificates")
    actions = register.add_subparsers(dest="action", required=True, metavar="ACTION")
    importing = actions.add_parser("import", help="replace a register with a CSV export, all or nothing")
    importing.add_argument("register", choices=REGISTERS)
    importing.add_argument("file", metavar="FILE", type=Path)
    importing.add_argument("--by", help="who imports it, as the record of imports says (default: the OS user)")
    show = actions.add_parser("show", help="what each register holds for a WCB account")
    show.add_argument("wcb_account", metavar="WCB_ACCOUNT")
    show.add_argument("--json", action="store_true")
    return {"register": cmd_register}


def cmd_register(config: Config, args: argparse.Namespace) -> int:
    return _import(config, args) if args.action == "import" else _show(config, args)


def _import(config: Config, args: argparse.Namespace) -> int:
    from intake.registers.csvfile import FileLimits, RegisterFile, RegisterFileError
    from intake.registers.store import BadRows, file_label, import_register

    where = f"register import: {args.file}"
    limits = FileLimits(max_bytes=config.registers.max_file_bytes, max_rows=config.registers.max_rows)
    try:
        register_file = RegisterFile(args.register, args.file, limits)
    except RegisterFileError as exc:
        return fail(f"{where} {exc}; nothing changed")
    by = args.by or _os_user()

    def work(services: Any) -> int:
        try:
            imported = import_register(services.sessions, register_file, file_label(args.file), by)
        except RegisterFileError as exc:
            return fail(f"{where} {exc}; nothing changed")
        except BadRows as bad:
            for problem in bad.problems:
                print(f"secor-intake: {where} {problem}", file=sys.stderr)
            return fail(f"{where}: {bad}, nothing changed")
        record = imported.record
        said = f"{args.register}: {record.rows} rows imported from {record.file_name} (sha256 {record.sha256[:12]})"
        if imported.duplicate_lines:
            said += (f"; {len(imported.duplicate_lines)} rows repeating an earlier row imported once (lines "
                     + ", ".join(map(str, imported.duplicate_lines[:20]))
                     + (", ..." if len(imported.duplicate_lines) > 20 else "") + ")")
        print(said, file=sys.stderr)
        return EXIT_OK

    return with_services(config, work)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def _show(config: Config, args: argparse.Namespace) -> int:
    from intake.registers.names import account_digits
    from intake.registers.store import account_document, accounts_known

    account = account_digits(args.wcb_account)
    if account is None:
        return fail(f"register show: {args.wcb_account!r} is not a WCB account number (6 to 10 digits)")

    def work(services: Any) -> int:
        with services.sessions() as session:
            if not accounts_known(session, account):
                print(f"secor-intake: register show: no register knows WCB account {account}", file=sys.stderr)
                return EXIT_CANNOT_RUN
            document = account_document(session, account)
        if args.json:
            print_json(document)
        else:
            _print_account(document)
        return EXIT_OK

    return with_services(config, work)


def _print_account(document: dict[str, Any]) -> None:
    print(f"WCB account {document['wcb_account']}")
    for register in REGISTERS:
        part = document[register]
        imported = part["imported"]
        if imported is None:
            print(f"\n{register}: never imported")
            continue
        print(f"\n{register} (imported {imported['imported_at'][:16].replace('T', ' ')} by {imported['imported_by']}, "
              f"{imported['rows']} rows from {imported['file']}, sha256 {imported['sha256'][:12]}):")
        if not part["rows"]:
            print("  nothing for this account")
        for row in part["rows"]:
            print("  " + _row_text(register, row))


def _row_text(register: str, row: dict[str, Any]) -> str:
    if register == "members":
        return f"{row['legal_name'] or '(no name)'}: member since {row['member_since']}, " + (
            f"until {row['member_until']}" if row["member_until"] else "still a member")
    if register == "training":
        hours = f", {row['hours']:g} h" if row["hours"] is not None else ""
        return f"{row['name']}: {row['course']}, {row['completed_on']}{hours}"
    return f"{row['program']} {row['issued_on']} to {row['expires_on']}" + (
        f" ({row['legal_name']})" if row["legal_name"] else "")
