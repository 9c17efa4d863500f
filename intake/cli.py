"""The `secor-intake` command line (see ../shared/contract.md for the commands and exit statuses)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Sequence

from intake import __version__
from intake.commands import add_parsers, print_json
from intake.company_cli import add_parsers as add_company_parsers
from intake.config import CONFIG_ENV, Config, ConfigError, load_config
from intake.deploy_cli import add_parsers as add_deploy_parsers
from intake.logs import setup_logging
from intake.registers.cli import add_parsers as add_register_parsers
from intake.web.cli import add_parsers as add_web_parsers

if TYPE_CHECKING:
    from pathlib import Path

    from triage.report import Report

EXIT_OK = 0
EXIT_RETURNED = 1
EXIT_CANNOT_RUN = 2
EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE

log = logging.getLogger("secor_intake")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secor-intake", description="SECOR submission intake and triage daemon")
    parser.add_argument("--config", help="configuration file (default: $SECOR_INTAKE_CONFIG, else ./secor-intake.toml, else embedded defaults under ./var/)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    triage = commands.add_parser("triage", help="triage a local zip, a folder or a share link; touches no database")
    triage.add_argument("target", metavar="PATH_OR_URL")
    triage.add_argument("--json", action="store_true", help="print the report as one JSON document")
    COMMANDS.update(add_parsers(commands))
    COMMANDS.update(add_web_parsers(commands))
    COMMANDS.update(add_company_parsers(commands))
    COMMANDS.update(add_register_parsers(commands))
    COMMANDS.update(add_deploy_parsers(commands))
    return parser


def _cmd_triage(config: Config, args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from triage.elements import UnknownVocabulary
    from triage.engine import triage_path
    from triage.report import Source

    target: str = args.target
    if "://" in target:  # a share link: downloaded into a temporary workdir, then triaged
        return _triage_link(config, args, target)
    path = Path(target)
    if not path.exists():
        print(f"secor-intake: triage: no such file or folder: {target}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    source = Source(kind="folder" if path.is_dir() else "zip", name=path.name)
    scanning = bool(config.scan.clamd)  # the scanner reads files on disk: a zip's are then extracted
    try:
        with tempfile.TemporaryDirectory(prefix="secor-triage-") as workdir:
            report = triage_path(path, config.limits, config.triage, Path(workdir), source=source,
                                 keep_files=scanning)
            if scanning:  # a folder as it is (clamd reads the zips inside it), a zip's files as extracted
                scanned = _scan(report, path if path.is_dir() else Path(workdir) / "files", config)
                if scanned is None:
                    return EXIT_CANNOT_RUN
                report = scanned
    except UnknownVocabulary as exc:
        print(f"secor-intake: configuration: triage.vocabulary: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except OSError as exc:
        print(f"secor-intake: triage: cannot read {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    _print_report(report, args.json)
    return EXIT_RETURNED if report.verdict == "returned" else EXIT_OK


def _triage_link(config: Config, args: argparse.Namespace, url: str) -> int:
    """`triage URL`: fetch the share link with the fetchers, then triage what it became."""
    import tempfile
    from pathlib import Path

    from intake.assess import assess_links
    from triage.elements import UnknownVocabulary

    progress = _progress_printer() if sys.stderr.isatty() else None
    scanning = bool(config.scan.clamd)
    try:
        with tempfile.TemporaryDirectory(prefix="secor-triage-") as workdir:
            assessed = assess_links([url], config, Path(workdir), progress, keep_files=scanning)
            if progress:
                sys.stderr.write("\n")
            report = assessed.report
            if scanning and assessed.kept is not None:
                scanned = _scan(report, assessed.kept, config)
                if scanned is None:
                    return EXIT_CANNOT_RUN
                report = scanned
    except UnknownVocabulary as exc:
        print(f"secor-intake: configuration: triage.vocabulary: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    _print_report(report, args.json)
    if assessed.transient:
        print("secor-intake: triage: the download failed for a passing reason; try again later", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_RETURNED if report.verdict == "returned" else EXIT_OK


def _scan(report: Report, files: Path, config: Config) -> Report | None:
    """The report with `[scan]`'s findings, as the daemon adds them (nothing deleted: `files` may be
    the operator's own folder); None when a required scanner cannot be reached (said on stderr)."""
    from intake.scan import ScannerUnavailable, scan_report  # only when `[scan] clamd` is set

    try:
        return scan_report(report, files, config.scan, config.triage.severities)
    except ScannerUnavailable as exc:
        print(f"secor-intake: triage: virus scanner unavailable ([scan] required = true): {exc}", file=sys.stderr)
        return None


def _print_report(report, as_json: bool) -> None:
    from triage.render import render_text

    if as_json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(render_text(report))


def _progress_printer():
    """A progress callback writing 'received / total MB' on one stderr line (only used on a TTY)."""
    def show(received: int, total: int | None) -> None:
        of = f" / {total / 1e6:.1f}" if total else ""
        sys.stderr.write(f"\rdownloading: {received / 1e6:.1f}{of} MB")
        sys.stderr.flush()
    return show


COMMANDS = {"triage": _cmd_triage}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env: dict[str, str] = dict(os.environ)
    if args.command == "demo":
        # The demo runs on the embedded defaults, also in the image, whose $SECOR_INTAKE_CONFIG names
        # a file that only a real set-up mounts.
        env.pop(CONFIG_ENV, None)
    try:
        config = load_config(args.config, env)
    except ConfigError as exc:
        print(f"secor-intake: configuration: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    setup_logging(config.log)
    try:
        return COMMANDS[args.command](config, args)
    except KeyboardInterrupt:
        return EXIT_CANNOT_RUN
    except BrokenPipeError:
        # `secor-intake ... | head`: the reader has what it wanted. Nothing more can be written, and
        # the flush at exit must not fail either; end as a program that SIGPIPE ended does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
