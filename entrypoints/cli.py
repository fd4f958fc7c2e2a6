"""`employee-api`: serve the API, apply migrations, or manage API keys."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

import bootstrap
from entrypoints.keys_cli import KeysCommand, add_commands, run_keys_command
from entrypoints.logs import configure_logging
from settings import MEMORY_URL, Settings, SettingsError


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = bootstrap.migrate(settings)
    print(
        f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}"
    )
    return 0


_MEMORY_KEYS = (
    "DATABASE_URL='memory://' keeps API keys inside one process, where no "
    "`employee-api keys` command can reach them: use SQLite or PostgreSQL"
)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    settings.auth.check()  # before anything starts: no SECRET_KEY, no serving
    if settings.database_url == MEMORY_URL and not settings.auth.disabled:
        raise SettingsError(f"{_MEMORY_KEYS}, or set AUTH_DISABLED=1")
    # Migrations run here, once, before any worker starts: peewee-migrate
    # patches peewee globally while it runs, so never inside a worker.
    if settings.server.migrate_on_start and not args.no_migrate:
        _migrate(args, settings)
    if not settings.auth.disabled:
        _hint_when_keyless(settings)
    extra = (
        args.gunicorn_args[1:]
        if args.gunicorn_args[:1] == ["--"]
        else args.gunicorn_args
    )
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:entrypoints.gunicorn_conf",
        *extra,
        "bootstrap:get_app()",
    ]
    os.execv(sys.executable, argv)
    return 0  # not reached


def _hint_when_keyless(settings: Settings) -> None:
    """A first-time user learns how to get in, not just that they cannot."""
    storage = bootstrap.open_storage(settings)
    try:
        keys = bootstrap.key_service(settings, storage).list()
    except Exception:  # only a hint: never let it stop the start
        return
    finally:
        storage.close()
    if not any(key.revoked_at is None for key in keys):
        print(
            "employee-api: no API key exists yet, and every /v1 request needs one."
            " Make one (its token is printed once): employee-api keys create"
            " --name NAME --scopes read,write   (from a checkout: make key NAME=you)",
            file=sys.stderr,
        )


def _keys(command: KeysCommand) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        if settings.database_url == MEMORY_URL:
            raise SettingsError(_MEMORY_KEYS)
        storage = bootstrap.open_storage(settings)
        try:
            keys = bootstrap.key_service(settings, storage)
            return run_keys_command(command, args, keys)
        finally:
            storage.close()

    return run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="employee-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(run=_migrate)
    serve = commands.add_parser(
        "serve", help="migrate (unless MIGRATE_ON_START=0), then serve with gunicorn"
    )
    serve.add_argument("--no-migrate", action="store_true", help="skip migrations")
    serve.add_argument(
        "gunicorn_args", nargs=argparse.REMAINDER, help="extra gunicorn options"
    )
    serve.set_defaults(run=_serve)
    add_commands(commands, _keys)
    return parser


def _stop_on_sigterm() -> None:
    """Exit 0 on SIGTERM, even while waiting for another migrator's lock.

    As a container's PID 1 a process gets no default SIGTERM action: without a
    handler a stop would wait for the engine's SIGKILL. gunicorn, which `serve`
    becomes, installs its own."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _stop_on_sigterm()
    try:
        settings = Settings.from_env()
        configure_logging(settings.server.log_level, settings.server.log_format)
        return int(args.run(args, settings))
    except SettingsError as exc:
        print(f"employee-api: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
