"""The two kinds of record: what differs between employees and managers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain import model
from domain.errors import (
    EmployeeNotFound,
    FieldError,
    ManagerHasEmployees,
    ManagerNotFound,
    ValidationFailed,
)
from domain.model import (
    Employee,
    EmployeeDraft,
    EmployeeFilter,
    Manager,
    ManagerDraft,
    ManagerFilter,
)
from domain.ports import (
    EmployeeRepository,
    Lock,
    ManagerRepository,
    UnitOfWork,
)
from domain.services.records import RecordService


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

    def _missing_references(
        self, uow: UnitOfWork, drafts: Sequence[EmployeeDraft]
    ) -> list[FieldError]:
        wanted = {d.manager_id for d in drafts if d.manager_id is not None}
        # Share locks keep them from being deleted before we commit.
        found = uow.managers.existing(wanted, lock=Lock.SHARE) if wanted else set()
        return [
            FieldError(f"items[{i}].manager_id", "no manager with this id")
            for i, d in enumerate(drafts)
            if d.manager_id is not None and d.manager_id not in found
        ]


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
