"""Commands for setting a deployment up: `check [--json]` and `oauth2 authorize mailbox|outbound`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from intake.config import CONFIG_ENV, DEFAULT_CONFIG_FILE, Config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    check = commands.add_parser("check", help="try every configured service for real (nothing is sent or moved)")
    check.add_argument("--json", action="store_true", help="print a list of {check, ok, detail}")
    oauth2 = commands.add_parser("oauth2", help="OAuth2 set-up: get a first refresh token without a browser "
                                 "on the server (device authorization grant)")
    oauth2.add_argument("action", choices=["authorize"])
    oauth2.add_argument("section", choices=["mailbox", "outbound"])
    return {"check": cmd_check, "oauth2": cmd_oauth2}


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    from intake.check import run_checks
    from intake.commands import print_json

    outcomes = run_checks(config, _config_source(args))
    if args.json:
        print_json([outcome.to_dict() for outcome in outcomes])
    else:
        for outcome in outcomes:
            print(f"{'ok' if outcome.ok else 'FAIL':<4}  {outcome.check}: {outcome.detail}")
    return EXIT_OK if all(outcome.ok for outcome in outcomes) else EXIT_FAILED


def _config_source(args: argparse.Namespace) -> str:
    path = args.config or os.environ.get(CONFIG_ENV) or (DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).is_file() else "")
    return path or "the embedded defaults"


def cmd_oauth2(config: Config, args: argparse.Namespace) -> int:
    """RFC 8628 device flow for the section's client; the refresh token goes to its store (0600)."""
    from intake.mailbox.base import MailboxError
    from intake.oauth2 import device_authorize, grant_of, settings_for

    values = config.mailbox if args.section == "mailbox" else config.outbound
    if values.auth != "oauth2" or grant_of(values) != "refresh_token":
        print(f"secor-intake: oauth2: {args.section} must have auth = \"oauth2\" and the refresh_token grant",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        store = device_authorize(settings_for(values, config.resolve_path), args.section, sys.stdout)
    except MailboxError as exc:
        print(f"secor-intake: oauth2: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(f"saved the refresh token in {store} (mode 0600); the daemon uses it from its next login")
    return EXIT_OK
