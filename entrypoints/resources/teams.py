"""A manager's team: list it, join it, leave it."""

from __future__ import annotations

import falcon

from domain.services import TeamService
from entrypoints.conditional import if_match
from entrypoints.pages import page_body, parse_page_request
from entrypoints.resources.records import send_record
from entrypoints.schemas import EmployeePage, employee_out


class TeamResource:
    def __init__(self, teams: TeamService) -> None:
        self._teams = teams

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, manager_id: int
    ) -> None:
        page_request = parse_page_request(req, {})
        page = self._teams.members(
            manager_id, page_request.after_id, page_request.limit
        )
        resp.media = page_body(page, req, resp, employee_out, EmployeePage)

    def on_put_member(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        manager_id: int,
        employee_id: int,
    ) -> None:
        joined = self._teams.join(manager_id, employee_id, if_match(req, employee_id))
        send_record(resp, employee_out(joined))

    def on_delete_member(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        manager_id: int,
        employee_id: int,
    ) -> None:
        self._teams.leave(manager_id, employee_id, if_match(req, employee_id))
        resp.status = 204
