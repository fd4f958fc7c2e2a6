"""Use cases. Each runs in one unit of work and enforces the contract's rules."""

from domain.services.api_keys import ApiKeyService
from domain.services.changes import ChangeFeed
from domain.services.kinds import EmployeeService, ManagerService
from domain.services.records import RecordService
from domain.services.teams import TeamService

__all__ = [
    "ApiKeyService",
    "ChangeFeed",
    "EmployeeService",
    "ManagerService",
    "RecordService",
    "TeamService",
]
