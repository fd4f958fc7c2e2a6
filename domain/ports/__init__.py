"""Ports: what the domain needs from the outside world, as Protocols.

One module per port; everything is re-exported here.
"""

from domain.ports.cache import Cache, CacheUnavailable, Stamp
from domain.ports.changes import ChangeLog
from domain.ports.clock import Clock
from domain.ports.idempotency import (
    Claim,
    ClaimState,
    IdempotencyStore,
    IdempotencyUnavailable,
    StoredResponse,
)
from domain.ports.limited_read import CacheLookup, LimitedRead
from domain.ports.rate_limiter import RateDecision, RateLimiter, RateLimiterUnavailable
from domain.ports.revocations import RevocationNotices
from domain.ports.storage import (
    ApiKeyRepository,
    EmployeeRepository,
    HealthCheck,
    Lock,
    ManagerRepository,
    Repository,
    Storage,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = [
    "ApiKeyRepository",
    "Cache",
    "CacheLookup",
    "CacheUnavailable",
    "ChangeLog",
    "Claim",
    "ClaimState",
    "Clock",
    "EmployeeRepository",
    "HealthCheck",
    "IdempotencyStore",
    "IdempotencyUnavailable",
    "LimitedRead",
    "Lock",
    "ManagerRepository",
    "RateDecision",
    "RateLimiter",
    "RateLimiterUnavailable",
    "Repository",
    "RevocationNotices",
    "Stamp",
    "Storage",
    "StoredResponse",
    "UnitOfWork",
    "UnitOfWorkFactory",
]
