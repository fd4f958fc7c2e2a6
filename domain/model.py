"""Entities, drafts (the writable fields) and the rules they obey."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from domain.errors import FieldError, PreconditionFailed, ValidationFailed

NAME_MAX = 200
EMAIL_MAX = 254
TEXT_MAX = 100
MAX_ID = 2**63 - 1  # ids are 64-bit in every store

T = TypeVar("T")
# Either kind of record, its draft and its filter, for code written once for both.
R = TypeVar("R", "Employee", "Manager")
D = TypeVar("D", "EmployeeDraft", "ManagerDraft")
F = TypeVar("F", "EmployeeFilter", "ManagerFilter")


@dataclass(frozen=True, slots=True)
class EmployeeDraft:
    name: str
    email: str
    title: str | None = None
    department: str | None = None
    manager_id: int | None = None


@dataclass(frozen=True, slots=True)
class ManagerDraft:
    name: str
    email: str
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Employee:
    id: int
    name: str
    email: str
    title: str | None
    department: str | None
    manager_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Manager:
    id: int
    name: str
    email: str
    department: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EmployeeFilter:
    manager_id: int | None = None
    department: str | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class ManagerFilter:
    department: str | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Precondition:
    """What an If-Match header allows: any existing version, or listed ones."""

    versions: frozenset[int] = frozenset()
    any_version: bool = False

    def allows(self, version: int) -> bool:
        return self.any_version or version in self.versions

    def check(self, version: int) -> None:
        if not self.allows(version):
            raise PreconditionFailed()


def check_precondition(precondition: Precondition | None, version: int) -> None:
    if precondition is not None:
        precondition.check(version)


def fold(text: str) -> str:
    """Search key: Unicode case folding, so 'STRASSE' finds 'Straße'."""
    return text.casefold()


# Unicode's Cc (U+0000-U+001F, U+007F-U+009F) and Cs (lone surrogates): they
# cannot be stored faithfully (PostgreSQL refuses NUL). A class, not a loop
# over unicodedata.category: a batch checks thousands of fields.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACE_OR_CONTROL = re.compile("[\\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _name_errors(name: str) -> list[FieldError]:
    if not 1 <= len(name) <= NAME_MAX:
        return [FieldError("name", f"must be 1-{NAME_MAX} characters after trimming")]
    if has_control_characters(name):
        return [FieldError("name", "must not contain control characters")]
    return []


def _has_space_or_control(text: str) -> bool:
    # \s is exactly str.isspace(); the same control characters as elsewhere.
    return _SPACE_OR_CONTROL.search(text) is not None


def email_problem(email: str) -> str | None:
    """Why an email is unacceptable, or None when it is fine."""
    if len(email) > EMAIL_MAX:
        return f"must be at most {EMAIL_MAX} characters"
    local, at, domain = email.partition("@")
    labels = domain.split(".")
    if (
        not at
        or "@" in domain
        or not local
        or len(labels) < 2
        or not all(labels)
        or _has_space_or_control(email)
    ):
        return "not a valid email address"
    return None


def _text_errors(field: str, value: str | None) -> list[FieldError]:
    if value is None:
        return []
    if len(value) > TEXT_MAX:
        return [FieldError(field, f"must be at most {TEXT_MAX} characters")]
    if has_control_characters(value):
        return [FieldError(field, "must not contain control characters")]
    return []


def _email_errors(email: str) -> list[FieldError]:
    problem = email_problem(email)
    return [FieldError("email", problem)] if problem else []


def _manager_id_errors(manager_id: int | None) -> list[FieldError]:
    if manager_id is not None and not 1 <= manager_id <= MAX_ID:
        return [FieldError("manager_id", "must be a positive integer")]
    return []


# The rule of each writable field, applied to its normalised value.
_FIELD_RULES: dict[str, Callable[[Any], list[FieldError]]] = {
    "name": _name_errors,
    "email": _email_errors,
    "title": lambda value: _text_errors("title", value),
    "department": lambda value: _text_errors("department", value),
    "manager_id": _manager_id_errors,
}


def field_errors(values: Mapping[str, Any]) -> list[FieldError]:
    """Every rule broken by the given (already normalised) field values."""
    return [e for name, value in values.items() for e in _FIELD_RULES[name](value)]


def normalized_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Names trimmed and emails lower-cased; other fields as given."""
    result = dict(values)
    if isinstance(result.get("name"), str):
        result["name"] = result["name"].strip()
    if isinstance(result.get("email"), str):
        result["email"] = result["email"].lower()
    return result


def _fields(draft: EmployeeDraft | ManagerDraft) -> dict[str, Any]:
    """A draft's fields by name (all scalars: no deep copy, as asdict makes)."""
    return {name: getattr(draft, name) for name in draft.__dataclass_fields__}


def _normalize(draft: D) -> D:
    values = normalized_fields(_fields(draft))
    errors = field_errors(values)
    if errors:
        raise ValidationFailed(errors)
    return dataclasses.replace(draft, **values)


def normalize_employee(draft: EmployeeDraft) -> EmployeeDraft:
    """Trim the name, lower-case the email, and enforce the field rules."""
    return _normalize(draft)


def normalize_manager(draft: ManagerDraft) -> ManagerDraft:
    """Trim the name, lower-case the email, and enforce the field rules."""
    return _normalize(draft)


def employee_draft(employee: Employee) -> EmployeeDraft:
    return EmployeeDraft(
        employee.name,
        employee.email,
        employee.title,
        employee.department,
        employee.manager_id,
    )


def manager_draft(manager: Manager) -> ManagerDraft:
    return ManagerDraft(manager.name, manager.email, manager.department)


def new_employee(draft: EmployeeDraft, now: datetime) -> Employee:
    """An employee not yet stored: id 0 until the repository assigns one."""
    return Employee(0, **_fields(draft), version=1, created_at=now, updated_at=now)


def new_manager(draft: ManagerDraft, now: datetime) -> Manager:
    return Manager(0, **_fields(draft), version=1, created_at=now, updated_at=now)


def revise(record: R, draft: EmployeeDraft | ManagerDraft, now: datetime) -> R:
    """The record with the draft's values, one version later."""
    return dataclasses.replace(
        record, **_fields(draft), version=record.version + 1, updated_at=now
    )
