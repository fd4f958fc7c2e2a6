"""Batch creation on the wire: the body `{"items": [...]}`, read once for
both the rate limiter (which counts its items) and the resource."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import falcon
from msgspec import Struct

from domain.errors import FieldError
from entrypoints.http.body import JSON_ONLY, read_object
from entrypoints.http.problems import Problem, invalid
from entrypoints.http.schemas import convert

MAX_ITEMS = 1000
ITEMS_RULE = f"must be an array of 1 to {MAX_ITEMS} objects"
B = TypeVar("B", bound=Struct)


@dataclass(slots=True)
class _Read:
    doc: dict[str, Any] | None = None
    problem: Problem | None = None


def is_batch(req: falcon.Request) -> bool:
    return (req.uri_template or "").endswith("/batch") and req.method == "POST"


def batch_size(req: falcon.Request, max_bytes: int) -> int:
    """How many items the batch holds; 1 for a body that is no batch (the
    resource answers why)."""
    items = (_read(req, max_bytes).doc or {}).get("items")
    return len(items) if isinstance(items, list) and items else 1


def batch_document(req: falcon.Request, max_bytes: int) -> dict[str, Any]:
    """The body as a dict, or the problem reading it met (413, 415, 400, 422)."""
    read = _read(req, max_bytes)
    if read.problem is not None:
        raise read.problem
    assert read.doc is not None
    return read.doc


def _read(req: falcon.Request, max_bytes: int) -> _Read:
    read: _Read | None = getattr(req.context, "batch_body", None)
    if read is None:
        read = req.context.batch_body = _Read()
        try:
            read.doc = read_object(req, max_bytes, JSON_ONLY)
        except Problem as problem:
            read.problem = problem
    return read


def batch_items(
    doc: dict[str, Any], schema: type[B]
) -> tuple[dict[int, B], list[FieldError]]:
    """Each item converted to the schema, by its place; and what is wrong
    with the batch's shape or with any item, as items or items[i].field.
    The shape's own errors raise at once: no item is looked at then."""
    unknown = [FieldError(key, "unknown field") for key in doc if key != "items"]
    items = doc.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise invalid("Request body failed validation.", [
            FieldError("items", ITEMS_RULE), *unknown])  # fmt: skip
    converted: dict[int, B] = {}
    errors: list[FieldError] = list(unknown)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(f"items[{i}]", "must be an object"))
            continue
        try:
            converted[i] = convert(item, schema)
        except Problem as problem:
            found: list[FieldError] = getattr(problem, "field_errors", [])
            errors += [FieldError(f"items[{i}].{e.field}", e.message) for e in found]
    return converted, errors


def ordered(errors: list[FieldError]) -> list[FieldError]:
    """The batch's own fields first, then item by item, in order."""

    def place(error: FieldError) -> int:
        found = re.match(r"items\[(\d+)\]", error.field)
        return int(found[1]) if found else -1

    return sorted(errors, key=place)


def too_many_for_quota(size: int, limit: int) -> Problem:
    return invalid(
        "Request body failed validation.",
        [FieldError("items", f"{size} items exceed the whole quota of {limit}")],
    )
