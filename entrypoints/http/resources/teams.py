"""A manager's team: list it, join it, leave it."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager

import falcon

from domain.services import TeamService
from entrypoints.http.cached_reads import CachedReads, CacheEntry
from entrypoints.http.conditional import if_match
from entrypoints.http.pagination import parse_page_request, render_page
from entrypoints.http.resources.records import render_record, send
from entrypoints.http.response_cache import (
    CachedResponse,
    ResponseCache,
    employee_key,
    manager_key,
    query_key,
)
from entrypoints.http.schemas import EmployeePage, employee_out

EMPLOYEES = "employees"


class TeamResource:
    def __init__(
        self, teams: TeamService, reads: CachedReads, cache: ResponseCache
    ) -> None:
        self._teams = teams
        self._reads = reads
        self._cache = cache

    def list_entry(self, req: falcon.Request, params: Mapping[str, int]) -> CacheEntry:
        """A page of the team. It changes with any employee, and vanishes with
        its manager. The manager comes first: a shared cache may place the
        entry by its first dependency, so pages of different teams spread."""
        key = query_key("team", req.path, sorted(req.params.items()))
        return CacheEntry(key, [manager_key(params["manager_id"]), EMPLOYEES])

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, manager_id: int
    ) -> None:
        page_request = parse_page_request(req, {})

        def build() -> CachedResponse:
            page = self._teams.members(
                manager_id, page_request.after_id, page_request.limit
            )
            return render_page(page, req, employee_out, EmployeePage)

        send(req, resp, self._reads.get(req, {"manager_id": manager_id}, build))

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

    def _invalidating(self, employee_id: int) -> AbstractContextManager[None]:
        # Membership is a field of the employee: its record and every list of them.
        return self._cache.invalidating([employee_key(employee_id), EMPLOYEES])
