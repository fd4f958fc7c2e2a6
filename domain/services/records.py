"""Employees and managers: create, read, replace, patch, delete and list."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Generic

from domain import model
from domain.errors import (
    EmployeeNotFound,
    FieldError,
    ManagerHasEmployees,
    ManagerNotFound,
    NotFound,
    ValidationFailed,
)
from domain.model import (
    D,
    Employee,
    EmployeeDraft,
    EmployeeFilter,
    F,
    Manager,
    ManagerDraft,
    ManagerFilter,
    Page,
    Precondition,
    R,
    check_precondition,
)
from domain.ports import (
    Clock,
    EmployeeRepository,
    Lock,
    ManagerRepository,
    Repository,
    UnitOfWork,
    UnitOfWorkFactory,
)


class RecordService(Generic[R, D, F]):
    """Create, read, replace, patch, delete and list one kind of record."""

    not_found: Callable[[int], NotFound]

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    # Hooks for the concrete services.
    def _repo(self, uow: UnitOfWork) -> Repository[R, F]:
        raise NotImplementedError

    def _normalize(self, draft: D) -> D:
        raise NotImplementedError

    def _draft_of(self, record: R) -> D:
        raise NotImplementedError

    def _new(self, draft: D, uow: UnitOfWork) -> R:
        raise NotImplementedError

    def _references(self, draft: D, current: R | None) -> bool:
        """Whether the draft points at something _check_references must find."""
        return False

    def _check_references(self, uow: UnitOfWork, draft: D, current: R | None) -> None:
        """Raise when the draft points at something that does not exist."""

    def _direct(self, values: Mapping[str, Any]) -> bool:
        """Whether changing these fields needs no reference looked up."""
        return True

    def _check_deletable(self, uow: UnitOfWork, record: R) -> None:
        """Raise when the record may not be deleted now."""

    # Use cases.
    def get(self, record_id: int) -> R:
        """The record, or NotFound."""
        with self._uow(write=False) as uow:
            return self._require(uow, record_id, Lock.NONE)

    def list(self, where: F, after_id: int, limit: int) -> Page[R]:
        """One page of records matching where, ordered by id."""
        with self._uow(write=False) as uow:
            rows = self._repo(uow).list(where, after_id, limit + 1)
        return Page(list(rows[:limit]), has_more=len(rows) > limit)

    def create(self, draft: D) -> R:
        """Store a new record with version 1."""
        draft = self._normalize(draft)
        # The store refuses a taken email (DuplicateEmail) in the insert
        # itself: no race, no round trip to look first. Then an insert with no
        # reference to check is the whole unit, and needs no transaction.
        alone = not self._references(draft, None)
        with self._uow(alone=alone) as uow:
            self._check_references(uow, draft, None)
            record = self._repo(uow).add(self._new(draft, uow))
            uow.commit()
        return record

    def replace(self, record_id: int, draft: D, precondition: Precondition | None) -> R:
        """Full replacement (PUT)."""
        return self._write(record_id, precondition, lambda _: draft)

    def patch(
        self,
        record_id: int,
        changes: Mapping[str, Any],
        precondition: Precondition | None,
    ) -> R:
        """Change only the given fields (merge patch)."""

        def merged(current: R) -> D:
            return dataclasses.replace(self._draft_of(current), **changes)

        values = model.normalized_fields(changes)
        if values and self._direct(values) and not model.field_errors(values):
            # Valid, with nothing to look up: one step in the store, no lock
            # held across this code. When it writes nothing, a plain read says
            # why: 404, 412 or no change (each true as of that read); or the
            # record moved in between, and the locked path decides.
            with self._uow(alone=True) as uow:
                now = self._clock.now()
                changed = self._repo(uow).change(record_id, values, precondition, now)
                uow.commit()
            if changed is not None:
                return changed
            current = self.get(record_id)
            check_precondition(precondition, current.version)
            if self._normalize(merged(current)) == self._draft_of(current):
                return current
        return self._write(record_id, precondition, merged)

    def delete(self, record_id: int, precondition: Precondition | None) -> None:
        """Remove the record."""
        with self._uow() as uow:
            current = self._require(uow, record_id, Lock.UPDATE)
            check_precondition(precondition, current.version)
            self._check_deletable(uow, current)
            self._repo(uow).delete(record_id)
            uow.commit()

    # Shared steps.
    def _write(
        self,
        record_id: int,
        precondition: Precondition | None,
        draft_for: Callable[[R], D],
    ) -> R:
        with self._uow() as uow:
            current = self._require(uow, record_id, Lock.UPDATE)
            check_precondition(precondition, current.version)
            draft = self._normalize(draft_for(current))
            if draft == self._draft_of(current):
                return current  # a write that changes nothing keeps its version
            self._check_references(uow, draft, current)
            updated = model.revise(current, draft, self._clock.now())
            self._repo(uow).update(updated, expected_version=current.version)
            uow.commit()
        return updated

    def _require(self, uow: UnitOfWork, record_id: int, lock: Lock) -> R:
        record = self._repo(uow).get(record_id, lock=lock)
        if record is None:
            raise self.not_found(record_id)
        return record


class EmployeeService(RecordService[Employee, EmployeeDraft, EmployeeFilter]):
    not_found = EmployeeNotFound

    def _repo(self, uow: UnitOfWork) -> EmployeeRepository:
        return uow.employees

    def _normalize(self, draft: EmployeeDraft) -> EmployeeDraft:
        return model.normalize_employee(draft)

    def _draft_of(self, record: Employee) -> EmployeeDraft:
        return model.employee_draft(record)

    def _new(self, draft: EmployeeDraft, uow: UnitOfWork) -> Employee:
        return model.new_employee(draft, self._clock.now())

    def _direct(self, values: Mapping[str, Any]) -> bool:
        return values.get("manager_id") is None

    def _references(self, draft: EmployeeDraft, current: Employee | None) -> bool:
        wanted = draft.manager_id
        return wanted is not None and (current is None or current.manager_id != wanted)

    def _check_references(
        self, uow: UnitOfWork, draft: EmployeeDraft, current: Employee | None
    ) -> None:
        wanted = draft.manager_id
        if wanted is None or not self._references(draft, current):
            return
        # A share lock keeps the manager from being deleted before we commit.
        if uow.managers.get(wanted, lock=Lock.SHARE) is None:
            raise ValidationFailed(
                [FieldError("manager_id", "no manager with this id")]
            )


class ManagerService(RecordService[Manager, ManagerDraft, ManagerFilter]):
    not_found = ManagerNotFound

    def _repo(self, uow: UnitOfWork) -> ManagerRepository:
        return uow.managers

    def _normalize(self, draft: ManagerDraft) -> ManagerDraft:
        return model.normalize_manager(draft)

    def _draft_of(self, record: Manager) -> ManagerDraft:
        return model.manager_draft(record)

    def _new(self, draft: ManagerDraft, uow: UnitOfWork) -> Manager:
        return model.new_manager(draft, self._clock.now())

    def _check_deletable(self, uow: UnitOfWork, record: Manager) -> None:
        if uow.employees.has_manager(record.id):
            raise ManagerHasEmployees(record.id)
