"""The company record's commands: `companies [--json]` and `company link TRACKING WCB_ACCOUNT`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING, Callable

from intake.commands import EXIT_OK, fail, print_json, with_services
from intake.config import Config

if TYPE_CHECKING:
    from intake.service import Services


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    listing = commands.add_parser("companies", help="companies (cases of one WCB account) with their cases by "
                                  "year, last purpose and next submission due")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--year", type=int, help="judge what is due as of this year (default: this year)")
    company = commands.add_parser("company", help="the company record of cases")
    actions = company.add_subparsers(dest="action", required=True, metavar="ACTION")
    link = actions.add_parser("link", help="link a case whose tool states no readable WCB account to a company")
    link.add_argument("tracking_number", metavar="TRACKING_NUMBER")
    link.add_argument("wcb_account", metavar="WCB_ACCOUNT")
    link.add_argument("--name", help="the employer's legal name as registered with WCB: names or renames the company")
    return {"companies": cmd_companies, "company": cmd_company}


def cmd_companies(config: Config, args: argparse.Namespace) -> int:
    from intake.cases.company import companies

    def work(services: Services) -> int:
        with services.sessions() as session:
            rows = companies(session, args.year or date.today().year)
        if args.json:
            print_json(rows)
            return EXIT_OK
        if not rows:
            print("no companies")
        for row in rows:
            due = row["next_due"]
            print(f"{row['wcb_account']:<10} {row['legal_name'] or '(no name)'}")
            if len(row["legal_names"]) > 1:
                print(f"  warning: its cases state {len(row['legal_names'])} different legal names: "
                      + "; ".join(f"{name} ({', '.join(cases)})" for name, cases in row["legal_names"].items()))
            for year, cases in row["cases"].items():
                print(f"  {year}: " + ", ".join(f"{c['tracking_number']} {c['purpose'] or '?'} ({c['verdict']})"
                                                for c in cases))
            print(f"  next: {due['purpose'] or 'submission'} in {due['year']} ({due['status'].replace('_', ' ')})")
        return EXIT_OK

    return with_services(config, work)


def cmd_company(config: Config, args: argparse.Namespace) -> int:
    from intake.cases.company import link

    account = "".join(ch for ch in args.wcb_account if ch.isdigit())
    if not 6 <= len(account) <= 10:
        return fail(f"company link: {args.wcb_account!r} is not a WCB account number (6 to 10 digits)")

    def work(services: Services) -> int:
        try:
            with services.sessions.begin() as session:
                placed = link(session, args.tracking_number, account, args.name)
                company = placed.company
                print(f"{args.tracking_number} ({placed.year}) linked to {company.wcb_account} "
                      f"{company.legal_name or ''}".rstrip(), file=sys.stderr)
        except LookupError:
            return fail(f"company link: no submission {args.tracking_number}")
        return EXIT_OK

    return with_services(config, work)


