"""Files of records for `employee-api import` and `export`: CSV with a header
row, or JSON Lines, the field names those of the contract."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

FIELDS = {
    "employees": ("name", "email", "title", "department", "manager_id"),
    "managers": ("name", "email", "department"),
}
# What a record read from the service has besides: an export writes them, an
# import skips them (the service assigns them).
READ_ONLY = ("id", "version", "created_at", "updated_at")
FORMATS = ("csv", "jsonl")


class BadFile(Exception):
    """The file cannot be read as records: the message names the line."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # where it starts in the file, from 1
    record: dict[str, Any]


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix == "csv":
        return "csv"
    raise BadFile(
        f"{path}: say --format csv or --format jsonl (from its name: neither)"
    )


def read_rows(source: TextIO, file_format: str, kind: str) -> Iterator[Row]:
    """Each record of the file with its line number; BadFile names the line
    of anything that is not one."""
    if file_format == "jsonl":
        yield from _jsonl_rows(source, kind)
    else:
        yield from _csv_rows(source, kind)


def _jsonl_rows(source: TextIO, kind: str) -> Iterator[Row]:
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadFile(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise BadFile(f"line {number}: not a JSON object")
        yield Row(number, _writable(record))


def _csv_rows(source: TextIO, kind: str) -> Iterator[Row]:
    reader = csv.DictReader(source)
    header = reader.fieldnames or []
    unknown = [n for n in header if n not in FIELDS[kind] and n not in READ_ONLY]
    if unknown:
        allowed = ", ".join(FIELDS[kind])
        raise BadFile(
            f"line 1: unknown column(s) {', '.join(unknown)}; {kind} have {allowed}"
        )
    for values in reader:
        line = reader.line_num  # the line the row ended on: CSV rows may span lines
        if None in values:  # more cells than the header names
            raise BadFile(f"line {line}: more cells than the header has columns")
        record: dict[str, Any] = {
            k: (v if v != "" else None) for k, v in values.items()
        }
        if record.get("manager_id") is not None:
            record["manager_id"] = _number(record["manager_id"])
        yield Row(line, _writable(record))


def _number(text: str) -> int | str:
    """An id cell as the integer it is; anything else as written, for the
    service to refuse with its own message."""
    return int(text) if text.isdigit() else text


def _writable(record: dict[str, Any]) -> dict[str, Any]:
    """What an import sends: the record without the fields the service
    assigns, and without nulls (absent and null mean the same on create)."""
    return {k: v for k, v in record.items() if k not in READ_ONLY and v is not None}


class RecordWriter:
    """Writes records read from the service, in the file's format."""

    def __init__(self, target: TextIO, file_format: str, kind: str) -> None:
        self._target = target
        self._format = file_format
        self._columns: Sequence[str] = ("id", *FIELDS[kind], "version",
                                         "created_at", "updated_at")  # fmt: skip
        self._csv: Any = None
        if file_format == "csv":
            self._csv = csv.DictWriter(target, self._columns, extrasaction="ignore")
            self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in record.items()})
        else:
            row = {k: record.get(k) for k in self._columns}
            self._target.write(json.dumps(row, ensure_ascii=False) + "\n")
