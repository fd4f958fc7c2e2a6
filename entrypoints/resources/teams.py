"""A manager's team: list it, join it, leave it."""

from __future__ import annotations

from contextlib import AbstractContextManager

import falcon

from domain.services import TeamService
from entrypoints.auth import READ_METHODS
from entrypoints.conditional import if_match
from entrypoints.pages import parse_page_request, render_page
from entrypoints.rate_limit import cached_lookup
from entrypoints.resources.records import render_record, send
from entrypoints.response_cache import (
    CachedResponse,
    ResponseCache,
    employee_key,
    list_key,
    manager_key,
)
from entrypoints.schemas import EmployeePage, employee_out

EMPLOYEES = "employees"


class TeamResource:
    def __init__(self, teams: TeamService, cache: ResponseCache) -> None:
        self._teams = teams
        self._cache = cache

    def cache_entry(
        self, req: falcon.Request, params: dict[str, int]
    ) -> tuple[str, list[str]] | None:
        """As RecordResource.cache_entry: the team list's entry."""
        if req.method not in READ_METHODS or "employee_id" in params:
            return None
        return self._key(req), self._dependencies(params["manager_id"])

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, manager_id: int
    ) -> None:
        page_request = parse_page_request(req, {})
        key = self._key(req)

        def build() -> CachedResponse:
            page = self._teams.members(
                manager_id, page_request.after_id, page_request.limit
            )
            return render_page(page, req, employee_out, EmployeePage)

        dependencies = self._dependencies(manager_id)
        found = cached_lookup(req)
        send(req, resp, self._cache.get(key, dependencies, build, found))

    on_head = on_get

    def on_put_member(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        manager_id: int,
        employee_id: int,
    ) -> None:
        precondition = if_match(req, employee_id)
        # A repeated join writes nothing, so it has nothing to invalidate.
        joined = self._teams.already_member(manager_id, employee_id, precondition)
        if joined is None:
            with self._invalidating(employee_id):
                joined = self._teams.join(manager_id, employee_id, precondition)
        send(req, resp, render_record(joined, employee_out))

    def on_delete_member(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        manager_id: int,
        employee_id: int,
    ) -> None:
        precondition = if_match(req, employee_id)
        with self._invalidating(employee_id):
            self._teams.leave(manager_id, employee_id, precondition)
        resp.status = 204

    def _key(self, req: falcon.Request) -> str:
        return list_key(req, "team")

    def _dependencies(self, manager_id: int) -> list[str]:
        # The team changes with any employee, and vanishes with its manager.
        return [EMPLOYEES, manager_key(manager_id)]

    def _invalidating(self, employee_id: int) -> AbstractContextManager[None]:
        # Membership is a field of the employee: its record and every list of them.
        return self._cache.invalidating([employee_key(employee_id), EMPLOYEES])
