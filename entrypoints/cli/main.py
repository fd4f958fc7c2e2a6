"""`employee-api`: serve the API, apply migrations, manage API keys, or
import and export records through a running service.

bootstrap.main runs it, handing down what it needs of the wiring (Wiring):
the command line knows no adapter.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import FrameType

from domain.errors import SetupRefused
from domain.services import ApiKeyService
from entrypoints.cli.api_keys import KeysCommand, add_commands, run_keys_command
from entrypoints.cli.transfer import add_transfer_commands, run_transfer
from entrypoints.server.granian_serve import check_for_granian
from entrypoints.server.log_config import configure_logging
from settings import MEMORY_URL, Settings, SettingsError
from settings.server import SERVERS


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the commands need of the composition root."""

    migrate: Callable[[Settings], list[str]]  # the names of the migrations applied
    api_keys: Callable[[Settings], AbstractContextManager[ApiKeyService]]


Command = Callable[[argparse.Namespace, Settings, Wiring], int]


def _migrate(args: argparse.Namespace, settings: Settings, wiring: Wiring) -> int:
    applied = wiring.migrate(settings)
    print(
        f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}"
    )
    return 0


_MEMORY_KEYS = (
    "DATABASE_URL='memory://' keeps API keys inside one process, where no "
    "`employee-api keys` command can reach them: use SQLite or PostgreSQL"
)


def _serve(args: argparse.Namespace, settings: Settings, wiring: Wiring) -> int:
    settings.auth.check()  # before anything starts: no SECRET_KEY, no serving
    if settings.database_url == MEMORY_URL and not settings.auth.disabled:
        raise SettingsError(f"{_MEMORY_KEYS}, or set AUTH_DISABLED=1")
    extra = (
        args.gunicorn_args[1:]
        if args.gunicorn_args[:1] == ["--"]
        else args.gunicorn_args
    )
    server = os.environ["SERVER"] = args.server or settings.server.server
    if server == "granian":  # the workers' get_app() reads SERVER
        if extra:
            raise SettingsError("extra options are gunicorn's: granian takes none")
        check_for_granian(settings.server)
    # Migrations run here, once, before any worker starts: peewee-migrate
    # patches peewee globally while it runs, so never inside a worker.
    if settings.server.migrate_on_start and not args.no_migrate:
        _migrate(args, settings, wiring)
    if not settings.auth.disabled:
        _hint_when_keyless(settings, wiring)
    logging.shutdown()  # lines still queued for the log writer go out first
    if server == "granian":
        granian = [sys.executable, "-m", "entrypoints.server.granian_serve"]
        os.execv(sys.executable, granian)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:entrypoints.server.gunicorn_conf",
        *extra,
        "bootstrap:get_app()",
    ]
    os.execv(sys.executable, argv)
    return 0  # not reached


def _hint_when_keyless(settings: Settings, wiring: Wiring) -> None:
    """A first-time user learns how to get in, not just that they cannot."""
    try:
        with wiring.api_keys(settings) as api_keys:
            keys = api_keys.list()
    except Exception:  # only a hint: never let it stop the start
        return
    if not any(key.revoked_at is None for key in keys):
        print(
            "employee-api: no API key exists yet, and every /v1 request needs one."
            " Make one (its token is printed once): employee-api keys create"
            " --name NAME --scopes read,write   (from a checkout: make key NAME=you)",
            file=sys.stderr,
        )


def _keys(command: KeysCommand) -> Command:
    def run(args: argparse.Namespace, settings: Settings, wiring: Wiring) -> int:
        if settings.database_url == MEMORY_URL:
            raise SettingsError(_MEMORY_KEYS)
        with wiring.api_keys(settings) as keys:
            return run_keys_command(command, args, keys)

    return run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="employee-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(run=_migrate)
    serve = commands.add_parser(
        "serve",
        help="migrate (unless MIGRATE_ON_START=0), then serve (gunicorn, "
        "or granian with --server granian or SERVER=granian)",
    )
    serve.add_argument("--no-migrate", action="store_true", help="skip migrations")
    serve.add_argument(
        "--server", choices=SERVERS, help="the HTTP server (default: SERVER's)"
    )
    serve.add_argument(
        "gunicorn_args", nargs=argparse.REMAINDER, help="extra gunicorn options"
    )
    serve.set_defaults(run=_serve)
    add_commands(commands, _keys)
    add_transfer_commands(commands, lambda args, settings, wiring: run_transfer(args))
    return parser


def _stop_on_sigterm() -> None:
    """Exit 0 on SIGTERM, even while waiting for another migrator's lock.

    As a container's PID 1 a process gets no default SIGTERM action: without a
    handler a stop would wait for the engine's SIGKILL. gunicorn, which `serve`
    becomes, installs its own."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None, wiring: Wiring) -> int:
    args = _parser().parse_args(argv)
    _stop_on_sigterm()
    try:
        settings = Settings.from_env()
        configure_logging(settings.server.log_level, settings.server.log_format)
        command: Command = args.run
        return command(args, settings, wiring)
    except SettingsError as exc:
        print(f"employee-api: {exc}", file=sys.stderr)
        return 2
    except SetupRefused as exc:  # it says what refused it and what to do
        print(f"employee-api: {exc}", file=sys.stderr)
        return 1
