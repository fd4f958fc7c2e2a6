"""The change feed on the wire: its opaque cursors, query parameters and
response schemas."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

import falcon
from msgspec import Struct

from domain.errors import FieldError
from domain.feed import Change, ChangePage, FeedPosition, Resource
from domain.model import Employee, Manager
from entrypoints.http.problems import invalid
from entrypoints.http.schemas import (
    EmployeeOut,
    ManagerOut,
    Moment,
    employee_out,
    manager_out,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_LENGTH = 64
_PREFIX = b"f1:"  # lets the format change without misreading old cursors
_POSITION = re.compile(rb"(\d{1,19})\.(\d{1,19})")
_TOP = 2**63 - 1
_LIMIT = re.compile(r"[0-9]{1,4}")
_RESOURCES = {r.value for r in Resource}


def encode_cursor(position: FeedPosition) -> str:
    raw = _PREFIX + f"{position[0]}.{position[1]}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> FeedPosition | None:
    """The position a cursor stands for, or None when it is not one of ours."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PREFIX):
        return None
    found = _POSITION.fullmatch(raw[len(_PREFIX) :])
    if found is None:
        return None
    position, change_id = int(found[1]), int(found[2])
    if position > _TOP or change_id > _TOP:
        return None
    return (position, change_id)


@dataclass(frozen=True, slots=True)
class FeedRequest:
    after: FeedPosition | None
    limit: int
    resource: Resource | None


def parse_feed_request(req: falcon.Request) -> FeedRequest:
    """after, limit and resource, each checked; 422 names every invalid one."""
    errors: list[FieldError] = []
    after: FeedPosition | None = None
    limit, resource = DEFAULT_LIMIT, None
    for name, raw in req.params.items():
        if isinstance(raw, list):
            errors.append(FieldError(name, "must be given at most once"))
        elif name == "after":
            after = decode_cursor(raw)
            if after is None:
                errors.append(FieldError(name, "not a cursor this feed issued"))
        elif name == "limit":
            if _LIMIT.fullmatch(raw) and 1 <= int(raw) <= MAX_LIMIT:
                limit = int(raw)
            else:
                message = f"must be an integer from 1 to {MAX_LIMIT}"
                errors.append(FieldError(name, message))
        elif name == "resource":
            if raw not in _RESOURCES:
                errors.append(FieldError(name, "must be employee or manager"))
            else:
                resource = Resource(raw)
        else:
            errors.append(FieldError(name, "unknown query parameter"))
    if errors:
        raise invalid("Invalid query parameters.", errors)
    return FeedRequest(after, limit, resource)


Action = Literal["created", "updated", "deleted"]


class EmployeeChange(Struct, tag_field="resource", tag="employee"):
    """A change of an employee; data is the employee right after it (null
    once deleted), as GET returns it."""

    seq: str
    id: int
    action: Action
    version: int
    at: Moment
    data: EmployeeOut | None


class ManagerChange(Struct, tag_field="resource", tag="manager"):
    """A change of a manager; data is the manager right after it (null once
    deleted), as GET returns it."""

    seq: str
    id: int
    action: Action
    version: int
    at: Moment
    data: ManagerOut | None


class ChangeFeedPage(Struct):
    items: list[EmployeeChange | ManagerChange]
    next_cursor: str


class FeedHead(Struct):
    cursor: str


def change_out(change: Change) -> EmployeeChange | ManagerChange:
    seq, record = encode_cursor(change.position), change.record
    action: Action = change.action.value
    if change.resource is Resource.EMPLOYEE:
        assert record is None or isinstance(record, Employee)
        data = None if record is None else employee_out(record)
        return EmployeeChange(
            seq, change.record_id, action, change.version, change.at, data
        )
    assert record is None or isinstance(record, Manager)
    out = None if record is None else manager_out(record)
    return ManagerChange(seq, change.record_id, action, change.version, change.at, out)


def page_out(page: ChangePage) -> ChangeFeedPage:
    return ChangeFeedPage(
        [change_out(c) for c in page.changes], encode_cursor(page.next)
    )
