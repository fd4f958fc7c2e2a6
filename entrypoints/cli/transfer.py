"""`employee-api import FILE` and `employee-api export`: bulk loads and dumps
through a running service's API, with progress, resumable.

Import sends the file in batches (POST /v1/<kind>/batch), each with an
Idempotency-Key made from the batch's position and content: run the same
import again after an interruption and the batches already created are
answered from the service's records (replayed), not created twice. A batch
the service refuses stops the import with the file's line numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from entrypoints.cli.record_files import (
    FIELDS,
    FORMATS,
    BadFile,
    RecordWriter,
    Row,
    format_of,
    read_rows,
)
from entrypoints.cli.service_client import (
    KEY_VARIABLE,
    ServiceClient,
    ServiceError,
    problem_errors,
)

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_BATCH = 1000
PAGE = 500


def add_transfer_commands(commands: Any, run: Any) -> None:
    """`import` and `export` under commands; run: what main calls for them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})"
    )
    common.add_argument("--kind", choices=tuple(FIELDS), default="employees")
    common.add_argument(
        "--format", choices=FORMATS, help="csv or jsonl (default: from the file name)"
    )
    common.add_argument(
        "--key-variable",
        default=KEY_VARIABLE,
        help=f"the environment variable holding the API key (default {KEY_VARIABLE})",
    )
    load = commands.add_parser(
        "import",
        parents=[common],
        help="create records from a CSV or JSON Lines file; rerun to resume",
    )
    load.add_argument("file", type=Path)
    load.add_argument(
        "--batch-size",
        type=int,
        default=MAX_BATCH,
        help=f"records a request, 1 to {MAX_BATCH} (lowered to the key's quota)",
    )
    load.set_defaults(run=run, transfer=run_import)
    dump = commands.add_parser(
        "export",
        parents=[common],
        help="write every record to a CSV or JSON Lines file that import reads back",
    )
    dump.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the file (default: standard output, as JSON Lines unless --format csv)",
    )
    dump.set_defaults(run=run, transfer=run_export)  # fmt: skip


def _say(text: str) -> None:
    tqdm.write(f"employee-api: {text}", file=sys.stderr)


def run_import(args: argparse.Namespace) -> int:
    if not 1 <= args.batch_size <= MAX_BATCH:
        raise BadFile(f"--batch-size must be 1 to {MAX_BATCH}")
    file_format = format_of(args.file, args.format)
    client = ServiceClient(args.url, args.key_variable, say=_say)
    try:
        size = min(args.batch_size, _quota(client, args.kind))
        with args.file.open(newline="", encoding="utf-8") as source:
            total = sum(1 for _ in read_rows(source, file_format, args.kind))
            source.seek(0)
            rows = read_rows(source, file_format, args.kind)
            return _send_batches(client, args, _batches(rows, size), total)
    finally:
        client.close()


def _quota(client: ServiceClient, kind: str) -> int:
    """How many requests the key may make at once: a batch costs one each."""
    answer = client.send("GET", f"/v1/{kind}", params={"limit": 1})
    limit = answer.headers.get("RateLimit-Limit", "")
    return int(limit) if limit.isdigit() else MAX_BATCH


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while batch := list(islice(rows, size)):
        yield batch


def _send_batches(
    client: ServiceClient,
    args: argparse.Namespace,
    batches: Iterator[list[Row]],
    total: int,
) -> int:
    created = replayed = 0
    with tqdm(total=total, unit=" records", disable=None, file=sys.stderr,
              desc=f"importing {args.file.name}") as bar:  # fmt: skip
        for number, batch in enumerate(batches):
            items = [row.record for row in batch]
            answer = client.send(
                "POST", f"/v1/{args.kind}/batch", json={"items": items},
                headers={"Idempotency-Key": _key(args.kind, number, items)},
            )  # fmt: skip
            if answer.status_code != 201:
                return _refused(answer, batch, created + replayed)
            if answer.headers.get("Idempotent-Replayed") == "true":
                replayed += len(batch)
            else:
                created += len(batch)
            bar.update(len(batch))
    again = f" ({replayed:,} created by an earlier run)" if replayed else ""
    print(f"imported {created + replayed:,} {args.kind} from {args.file}{again}")
    return 0


def _key(kind: str, position: int, items: Sequence[dict[str, Any]]) -> str:
    """The batch's Idempotency-Key: the same batch of the same file at the
    same place gets the same key in every run (within the service's 24 h)."""
    content = json.dumps(items, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(b"%s\n%d\n%s" % (kind.encode(), position, content))
    return f"import-{digest.hexdigest()}"


def _refused(answer: Any, batch: list[Row], done: int) -> int:
    first, last = batch[0].line, batch[-1].line
    lines = [f"employee-api: the service refused the batch of lines {first}-{last} "
             f"({answer.status_code}); nothing of it was created, {done:,} records "
             "before it were:"]  # fmt: skip
    errors = problem_errors(answer)
    for field, message in errors:
        where, _, name = field.partition("].")
        if where.startswith("items[") and where[6:].isdigit():
            row = batch[int(where[6:])]
            lines.append(f"  line {row.line}: {name or 'the record'}: {message}")
        else:
            lines.append(f"  {field}: {message}")
    if not errors:
        lines.append(f"  {answer.text[:300]}")
    lines.append(f"Fix the file and run the same command again: the {done:,} "
                 "records already created are not created twice.")  # fmt: skip
    print("\n".join(lines), file=sys.stderr)
    return 1


def run_export(args: argparse.Namespace) -> int:
    file_format = args.format or (
        format_of(args.output, None) if args.output else "jsonl"
    )
    client = ServiceClient(args.url, args.key_variable, say=_say)
    target = (
        args.output.open("w", newline="", encoding="utf-8")
        if args.output
        else sys.stdout
    )
    written = 0
    try:
        writer = RecordWriter(target, file_format, args.kind)
        params: dict[str, Any] = {"limit": PAGE}
        with tqdm(unit=" records", disable=None, file=sys.stderr,
                  desc=f"exporting {args.kind}") as bar:  # fmt: skip
            while True:
                answer = client.send("GET", f"/v1/{args.kind}", params=params)
                if answer.status_code != 200:
                    why = f"{answer.status_code} {answer.text[:300]}"
                    raise ServiceError(f"listing {args.kind} failed: {why}")
                page = answer.json()
                for record in page["items"]:
                    writer.write(record)
                written += len(page["items"])
                bar.update(len(page["items"]))
                if page["next_cursor"] is None:
                    break
                params["cursor"] = page["next_cursor"]
    finally:
        client.close()
        if args.output:
            target.close()
    where = args.output or "standard output"
    print(f"exported {written:,} {args.kind} to {where}", file=sys.stderr)
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """import or export; 1 with the reason on a refusal or an unreadable file."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request
    try:
        code: int = args.transfer(args)
    except (BadFile, ServiceError, OSError) as exc:
        print(f"employee-api: {exc}", file=sys.stderr)
        if args.transfer is run_import and not isinstance(exc, BadFile):
            print("Run the same command again to resume: batches already created "
                  "are not created twice.", file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        print("employee-api: interrupted; run the same command again to resume.",
              file=sys.stderr)  # fmt: skip
        return 130
    return code
