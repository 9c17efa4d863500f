"""`secor-intake web` and `secor-intake user ...` (../shared/contract.md, "The QA workbench (web)").

Starlette, uvicorn and argon2 are imported when these commands run, not when the CLI starts.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator

from intake.config import Config

if TYPE_CHECKING:
    from intake.service import Services

EXIT_OK = 0
EXIT_CANNOT_RUN = 2


def add_parsers(commands: argparse._SubParsersAction) -> dict[str, Callable[[Config, argparse.Namespace], int]]:
    """Register `web` and `user` on the CLI's sub-parsers; returns name -> handler."""
    web = commands.add_parser("web", help="serve the QA workbench until SIGTERM/SIGINT")
    web.add_argument("--host", help="address to listen on (default: [web] host)")
    web.add_argument("--port", type=int, help="port to listen on (default: [web] port)")
    user = commands.add_parser("user", help="workbench accounts: add, list, disable, passwd")
    actions = user.add_subparsers(dest="user_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account; the password is read from stdin or --password-file")
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "admin"), default="analyst")
    add.add_argument("--password-file")
    listing = actions.add_parser("list", help="list the accounts")
    listing.add_argument("--json", action="store_true")
    disable = actions.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("name")
    passwd = actions.add_parser("passwd", help="set a new password (stdin or --password-file); ends its sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-file")
    return {"web": cmd_web, "user": cmd_user}


def _read_password(args: argparse.Namespace) -> str:
    """--password-file's first line; at a terminal a prompt that does not echo (asked twice); else stdin's line."""
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("The same password again: ") != password:
            raise OSError("the two passwords differ; nothing was changed")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user(config: Config, args: argparse.Namespace) -> int:
    from intake.commands import with_services

    return with_services(config, lambda services: _user(services, args))


def _user(services: Services, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from intake import users
    from intake.commands import print_json, safe_url
    from intake.db import User

    database = safe_url(services.config.database_url)  # which deployment: a test and a live one look alike
    try:
        with services.sessions.begin() as session:
            if args.user_action == "add":
                user = users.add_user(session, args.name, args.role, _read_password(args))
                print(f"user {user.username} ({user.role}) added to {database}", file=sys.stderr)
            elif args.user_action == "passwd":
                users.set_password(session, args.name, _read_password(args))
                print(f"password of {args.name} changed in {database}; its sessions ended", file=sys.stderr)
            elif args.user_action == "disable":
                users.disable_user(session, args.name)
                print(f"user {args.name} disabled; its sessions ended", file=sys.stderr)
            else:
                rows = [{"username": u.username, "role": u.role, "disabled": u.disabled,
                         "created_at": u.created_at.isoformat()}
                        for u in session.scalars(select(User).order_by(User.username))]
                if args.json:
                    print_json(rows)
                for row in rows if not args.json else []:
                    print(f"{row['username']:<24} {row['role']:<8} {'disabled' if row['disabled'] else 'active'}")
    except users.UserError as exc:
        print(f"secor-intake: user {args.user_action}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except OSError as exc:
        print(f"secor-intake: user {args.user_action}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but SIGTERM/SIGINT end it cleanly (exit 0) instead of being re-raised."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            for server in self.servers:  # the bound address (port 0 gets a real one): say where to go
                for sock in server.sockets:
                    host, port = sock.getsockname()[:2]
                    shown = f"[{host}]" if ":" in host else host
                    print(f"secor-intake web: serving the workbench at http://{shown}:{port}/", file=sys.stderr,
                          flush=True)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def cmd_web(config: Config, args: argparse.Namespace) -> int:
    from intake.commands import with_services

    def serve(services: Services) -> int:
        import uvicorn

        from intake.entry import freeze_startup_objects
        from intake.web.app import create_app

        host = args.host or config.web.host
        port = args.port if args.port is not None else config.web.port
        from intake import metrics

        served = metrics.serve(config.metrics.host, config.web.metrics_port, services.sessions)
        app = create_app(config, services)
        freeze_startup_objects()
        server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                  proxy_headers=False, server_header=False))
        try:
            server.run()
        finally:
            if served is not None:
                served.shutdown()
        return EXIT_OK if server.started else EXIT_CANNOT_RUN

    return with_services(config, serve)
