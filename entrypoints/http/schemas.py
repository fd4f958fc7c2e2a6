"""Request and response schemas (msgspec) and their mappers to and from the domain.

msgspec checks shape and types at the edge; the domain checks the business rules
(trimmed name length, email syntax), because it must hold them for any caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from domain import model
from domain.errors import FieldError
from domain.model import (
    EMAIL_MAX,
    MAX_ID,
    NAME_MAX,
    TEXT_MAX,
    Employee,
    EmployeeDraft,
    Manager,
    ManagerDraft,
)
from entrypoints.http.problems import invalid

# The domain's rule, for the document only (extra_json_schema is not checked
# while decoding): control characters are Unicode Cc. (Lone surrogates are
# refused too, but a pattern cannot name them portably.)
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
NO_CONTROL_PATTERN = f"^[^{_CONTROL}]*$"
_EMAIL_PART = f"[^@\\s{_CONTROL}"
Name = Annotated[
    str,
    Meta(
        description=f"Trimmed of surrounding whitespace; 1-{NAME_MAX} characters "
        "after trimming; no control characters (Unicode Cc, lone surrogates).",
        extra_json_schema={"pattern": f"^\\s*[^\\s{_CONTROL}][^{_CONTROL}]*$"},
    ),
]
Email = Annotated[
    str,
    Meta(
        max_length=EMAIL_MAX,
        description="One @, a non-empty local part, a domain with at least one dot "
        "and no empty labels, no whitespace or control characters (as in every "
        "text field: Unicode Cc and lone surrogates; format, private-use and "
        "unassigned characters are allowed). Unique case-insensitively; stored "
        "and returned lower-cased.",
        extra_json_schema={
            "pattern": f"^{_EMAIL_PART}]+@{_EMAIL_PART}.]+(\\.{_EMAIL_PART}.]+)+$"
        },
    ),
]
Text = Annotated[
    str,
    Meta(
        max_length=TEXT_MAX,
        description="No control characters (Unicode Cc, lone surrogates).",
        extra_json_schema={"pattern": NO_CONTROL_PATTERN},
    ),
]
Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Moment = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]


class EmployeeIn(Struct, forbid_unknown_fields=True):
    """Body of POST and PUT: omitted optional fields are null."""

    name: Name
    email: Email
    title: Text | None = None
    department: Text | None = None
    manager_id: Id | None = None


class EmployeePatch(Struct, forbid_unknown_fields=True):
    """JSON merge patch: only the fields sent change; null clears a field."""

    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    title: Text | UnsetType | None = UNSET
    department: Text | UnsetType | None = UNSET
    manager_id: Id | UnsetType | None = UNSET


class ManagerIn(Struct, forbid_unknown_fields=True):
    """Body of POST and PUT: omitted optional fields are null."""

    name: Name
    email: Email
    department: Text | None = None


class ManagerPatch(Struct, forbid_unknown_fields=True):
    """JSON merge patch: only the fields sent change; null clears a field."""

    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    department: Text | UnsetType | None = UNSET


class EmployeeOut(Struct):
    id: int
    name: str
    email: str
    title: str | None
    department: str | None
    manager_id: int | None
    version: int
    created_at: Moment
    updated_at: Moment


class ManagerOut(Struct):
    id: int
    name: str
    email: str
    department: str | None
    version: int
    created_at: Moment
    updated_at: Moment


class EmployeePage(Struct):
    items: list[EmployeeOut]
    next_cursor: str | None


class ManagerPage(Struct):
    items: list[ManagerOut]
    next_cursor: str | None


class EmployeeBatchIn(Struct, forbid_unknown_fields=True):
    items: Annotated[list[EmployeeIn], Meta(min_length=1, max_length=1000)]


class EmployeeBatchOut(Struct):
    items: list[EmployeeOut]


class ManagerBatchIn(Struct, forbid_unknown_fields=True):
    items: Annotated[list[ManagerIn], Meta(min_length=1, max_length=1000)]


class ManagerBatchOut(Struct):
    items: list[ManagerOut]


def employee_out(e: Employee) -> EmployeeOut:
    return EmployeeOut(
        e.id,
        e.name,
        e.email,
        e.title,
        e.department,
        e.manager_id,
        e.version,
        e.created_at,
        e.updated_at,
    )


def manager_out(m: Manager) -> ManagerOut:
    return ManagerOut(
        m.id, m.name, m.email, m.department, m.version, m.created_at, m.updated_at
    )


def employee_in_to_draft(body: EmployeeIn) -> EmployeeDraft:
    return EmployeeDraft(
        body.name, body.email, body.title, body.department, body.manager_id
    )


def manager_in_to_draft(body: ManagerIn) -> ManagerDraft:
    return ManagerDraft(body.name, body.email, body.department)


def changes(patch: Struct) -> dict[str, Any]:
    """The fields a merge patch sets (null included), by name."""
    return {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not UNSET
    }


S = TypeVar("S", bound=Struct)


def convert(doc: dict[str, Any], schema: type[S]) -> S:
    """The body as a schema object, or 422 naming every offending field."""
    doc = {key: _integral(value) for key, value in doc.items()}
    try:
        return msgspec.convert(doc, schema)
    except msgspec.ValidationError:
        errors = field_errors(doc, schema)
        # Also the domain's rules for the fields whose type was right, so one
        # response names every offending field.
        named = {e.field for e in errors}
        typed = {k: v for k, v in doc.items() if k not in named}
        errors += model.field_errors(model.normalized_fields(typed))
        raise invalid("Request body failed validation.", errors) from None


def _integral(value: Any) -> Any:
    """An integral JSON number (74932.0, 1e3) as the integer it is: JSON
    Schema's integer includes them, and no field here takes a fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def field_errors(doc: dict[str, Any], schema: type[Struct]) -> list[FieldError]:
    """Check field by field, so one response names every problem at once."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(schema)}
    found = [FieldError(key, "unknown field") for key in doc if key not in fields]
    for name, info in fields.items():
        if name not in doc:
            if info.required:
                found.append(FieldError(name, "required field is missing"))
            continue
        try:
            msgspec.convert(doc[name], info.type)
        except msgspec.ValidationError as exc:
            found.append(FieldError(name, str(exc)))
    return found
