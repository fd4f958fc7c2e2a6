"""`employee-api`: serve the API, or apply migrations."""

from __future__ import annotations

import argparse
import logging
import os
import sys

import bootstrap
from settings import Settings, SettingsError


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = bootstrap.migrate(settings)
    print(
        f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}"
    )
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    # Migrations run here, once, before any worker starts: peewee-migrate
    # patches peewee globally while it runs, so never inside a worker.
    if settings.server.migrate_on_start and not args.no_migrate:
        _migrate(args, settings)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"employee-api: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.server.log_level.upper())
    return int(args.run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
