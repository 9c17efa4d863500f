"""The `secor-intake` command line (see ../shared/contract.md for the commands and exit statuses)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from intake.config import Config, ConfigError, load_config

EXIT_OK = 0
EXIT_RETURNED = 1
EXIT_CANNOT_RUN = 2

log = logging.getLogger("secor_intake")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secor-intake", description="SECOR submission intake and triage daemon")
    parser.add_argument("--config", help="configuration file (default: $SECOR_INTAKE_CONFIG, else ./secor-intake.toml, else embedded defaults under ./var/)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    triage = commands.add_parser("triage", help="triage a local zip, a folder or a share link; touches no database")
    triage.add_argument("target", metavar="PATH_OR_URL")
    triage.add_argument("--json", action="store_true", help="print the report as one JSON document")
    return parser


def _cmd_triage(config: Config, args: argparse.Namespace) -> int:
    from triage.engine import triage_path
    from triage.render import render_text

    report = triage_path(args.target, config)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_RETURNED if report.verdict == "returned" else EXIT_OK


COMMANDS = {"triage": _cmd_triage}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"secor-intake: configuration: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    logging.basicConfig(level=config.log.level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](config, args)
    except KeyboardInterrupt:
        return EXIT_CANNOT_RUN
