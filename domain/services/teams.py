"""Teams: an employee joins and leaves a manager's team."""

from __future__ import annotations

import dataclasses

from domain import model
from domain.errors import (
    AlreadyInAnotherTeam,
    EmployeeNotFound,
    ManagerNotFound,
    NotInTeam,
)
from domain.model import (
    Employee,
    EmployeeFilter,
    Page,
    Precondition,
    check_precondition,
)
from domain.ports import Clock, Lock, UnitOfWork, UnitOfWorkFactory


class TeamService:
    """Joining and leaving a manager's team, and listing it."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def members(self, manager_id: int, after_id: int, limit: int) -> Page[Employee]:
        """One page of the manager's team; ManagerNotFound if it is absent."""
        with self._uow(write=False) as uow:
            if uow.managers.get(manager_id) is None:
                raise ManagerNotFound(manager_id)
            where = EmployeeFilter(manager_id=manager_id)
            rows = uow.employees.list(where, after_id, limit + 1)
        return Page(list(rows[:limit]), has_more=len(rows) > limit)

    def already_member(
        self, manager_id: int, employee_id: int, precondition: Precondition | None
    ) -> Employee | None:
        """The employee, if it is in the manager's team already: a join would
        change nothing. One read without locks: what it saw held at that
        instant (the manager existed, since a team member points at it), so
        a repeated join is answered without a transaction. None otherwise."""
        with self._uow(write=False) as uow:
            employee = uow.employees.get(employee_id)
        if employee is None or employee.manager_id != manager_id:
            return None
        check_precondition(precondition, employee.version)
        return employee

    def join(
        self, manager_id: int, employee_id: int, precondition: Precondition | None
    ) -> Employee:
        """Make the employee report to the manager; idempotent."""
        with self._uow() as uow:
            employee = self._require_pair(uow, manager_id, employee_id)
            check_precondition(precondition, employee.version)
            if employee.manager_id == manager_id:
                return employee
            if employee.manager_id is not None:
                raise AlreadyInAnotherTeam(employee_id, employee.manager_id)
            updated = self._with_manager(employee, manager_id)
            uow.employees.update(updated, expected_version=employee.version)
            uow.commit()
        return updated

    def leave(
        self, manager_id: int, employee_id: int, precondition: Precondition | None
    ) -> Employee:
        """Detach the employee from the manager's team."""
        with self._uow() as uow:
            employee = self._require_pair(uow, manager_id, employee_id)
            if employee.manager_id != manager_id:
                raise NotInTeam(manager_id, employee_id)
            check_precondition(precondition, employee.version)
            updated = self._with_manager(employee, None)
            uow.employees.update(updated, expected_version=employee.version)
            uow.commit()
        return updated

    def _require_pair(
        self, uow: UnitOfWork, manager_id: int, employee_id: int
    ) -> Employee:
        employee = uow.employees.get(employee_id, lock=Lock.UPDATE)
        if employee is None:
            raise EmployeeNotFound(employee_id)
        if uow.managers.get(manager_id, lock=Lock.SHARE) is None:
            raise ManagerNotFound(manager_id)
        return employee

    def _with_manager(self, employee: Employee, manager_id: int | None) -> Employee:
        draft = dataclasses.replace(
            model.employee_draft(employee), manager_id=manager_id
        )
        return model.revise(employee, draft, self._clock.now())
