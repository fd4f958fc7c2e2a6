"""`employee-api keys`: create, list and revoke API keys.

A token is printed once, by `create`, alone on standard output (so a script
can capture it); everything else goes to standard error. Nothing here ever
prints a token again, or a digest, or SECRET_KEY.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.api_keys import ApiKey, Quota, Scope
from domain.errors import DomainError, StorageUnavailable
from domain.services import ApiKeyService
from settings import DEFAULT_QUOTAS, parse_quota

KeysCommand = Callable[[argparse.Namespace, ApiKeyService], int]


def add_commands(commands: Any, run: Callable[[KeysCommand], object]) -> None:
    """The `keys` subcommands; run(command) makes what cli.main calls."""
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="make a key; its token is printed once")
    create.add_argument("--name", required=True, help="unique, e.g. the client's name")
    create.add_argument(
        "--scopes", required=True, type=_scopes, help="read, write, or read,write"
    )
    create.add_argument(
        "--quota",
        action="append",
        default=[],
        type=_quota,
        metavar="GROUP=N/PERIOD",
        help="this key's own quota for a group, e.g. employees=1000/minute",
    )
    create.set_defaults(run=run(create_key))
    listing = sub.add_parser("list", help="every key, without tokens")
    listing.set_defaults(run=run(list_keys))
    revoke = sub.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("name_or_prefix")
    revoke.set_defaults(run=run(revoke_key))


def run_keys_command(
    command: KeysCommand, args: argparse.Namespace, keys: ApiKeyService
) -> int:
    """Domain errors as one line on standard error, and a non-zero exit."""
    try:
        return command(args, keys)
    except StorageUnavailable:
        _say("the database is unavailable, or not migrated (employee-api migrate)")
    except DomainError as exc:
        errors = getattr(exc, "errors", [])
        _say(" ".join([str(exc), *(f"{e.field}: {e.message}." for e in errors)]))
    return 1


def create_key(args: argparse.Namespace, keys: ApiKeyService) -> int:
    key, token = keys.create(args.name, args.scopes, dict(args.quota))
    _say(
        f"created API key {key.name!r} (prefix {key.prefix}, scopes "
        f"{_scope_list(key)}); its token follows, shown this once:"
    )
    print(token)
    return 0


def list_keys(args: argparse.Namespace, keys: ApiKeyService) -> int:
    header = ("NAME", "PREFIX", "SCOPES", "QUOTAS", "CREATED", "LAST USED", "REVOKED")
    rows: list[tuple[str, ...]] = [header]
    rows += [_row(key) for key in keys.list()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def revoke_key(args: argparse.Namespace, keys: ApiKeyService) -> int:
    key = keys.revoke(args.name_or_prefix)
    _say(f"revoked API key {key.name!r} (prefix {key.prefix})")
    return 0


def _row(key: ApiKey) -> tuple[str, ...]:
    quotas = ",".join(
        f"{group}={q.limit}/{q.window_seconds}s"
        for group, q in sorted(key.quotas.items())
    )
    return (
        key.name,
        key.prefix,
        _scope_list(key),
        quotas or "-",
        _when(key.created_at),
        _when(key.last_used_at),
        _when(key.revoked_at),
    )


def _scope_list(key: ApiKey) -> str:
    return ",".join(sorted(key.scopes))


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%MZ")


def _scopes(text: str) -> frozenset[Scope]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    try:
        return frozenset(Scope(n) for n in names)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "scopes are read, write or read,write"
        ) from None


def _quota(text: str) -> tuple[str, Quota]:
    group, _, quota = text.partition("=")
    if group not in DEFAULT_QUOTAS:
        groups = " or ".join(DEFAULT_QUOTAS)
        raise argparse.ArgumentTypeError(
            f"GROUP is {groups}, as in employees=1000/minute"
        )
    try:
        return group, parse_quota(quota)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: the quota {exc}") from None


def _say(line: str) -> None:
    print(f"employee-api: {line}", file=sys.stderr)
