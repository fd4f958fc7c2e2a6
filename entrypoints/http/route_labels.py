"""Routes as the contract writes them: the label of a request's route, for
logs, metrics and the OpenAPI document."""

from __future__ import annotations

import functools
import re

import falcon

UNMATCHED = "(unmatched)"  # the route of a request that matched none
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")


def route_of(req: falcon.Request) -> str:
    """The template of the route that matched, as the contract writes it
    (/v1/employees/{employee_id}, no converter), or UNMATCHED."""
    return route_label(req.uri_template) if req.uri_template else UNMATCHED


@functools.lru_cache(maxsize=64)
def route_label(template: str) -> str:
    """/v1/employees/{employee_id:id} as /v1/employees/{employee_id}."""
    return _CONVERTER.sub(r"{\1}", template)
