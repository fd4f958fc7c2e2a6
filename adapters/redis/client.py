"""The Redis client every Redis adapter shares, and what counts as an outage.

Every call has short timeouts and goes through a circuit breaker, so once the
breaker is open a Redis outage costs reads and rate-limit checks nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.breaker import CircuitBreaker
from adapters.observer import BackendObserver
from settings import RedisSettings


class DeploymentError(redis.RedisError):
    """An error reply that says the deployment is misconfigured or failing
    over (MOVED, CROSSSLOT, READONLY, OOM, NOAUTH, a script that will not
    load...), not that this one call was wrong: it counts as an outage."""

    def __init__(
        self, kind: str, message: str, *, lasting: bool = True, hint: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        # False for a state the cluster leaves by itself (TRYAGAIN during a
        # resharding, CLUSTERDOWN during a failover): it counts, not at once.
        self.lasting = lasting
        self.hint = hint  # for readiness: what is wrong, without addresses


# Error replies that mean the deployment, not the call, is at fault.
DEPLOYMENT_REPLIES = frozenset(
    {
        "MOVED", "ASK", "CROSSSLOT", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN",
        "READONLY", "OOM", "NOAUTH", "WRONGPASS", "NOPERM", "NOSCRIPT",
    }
)  # fmt: skip
# Of those, the ones that pass by themselves within moments.
PASSING_REPLIES = frozenset({"TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"})
HINTS = {
    "OOM": "Redis refuses writes: it is at maxmemory",
    "READONLY": "Redis refuses writes: this node is a replica",
    "NOAUTH": "Redis wants a password (REDIS_URL or REDIS_PASSWORD)",
    "WRONGPASS": "Redis refuses the password",
    "NOPERM": "the Redis user lacks a permission the service needs",
    "NOSCRIPT": "Redis did not keep a script the service loaded",
}
# Of those, the ones only a Redis Cluster node gives.
CLUSTER_REPLIES = frozenset({"MOVED", "ASK", "CROSSSLOT", "CLUSTERDOWN", "TRYAGAIN"})

# What means "Redis is not answering as deployed" (and trips the breaker). Any
# other command error is a bug of that call: it bypasses the cache for that
# call without switching Redis off for everyone.
REDIS_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError, DeploymentError)


def reply_code(reply: Any) -> str | None:
    """The error code of an error reply (MOVED, OOM...); None for a value."""
    if isinstance(reply, redis.ResponseError):
        code = reply.status_code or str(reply).split(" ", 1)[0]
        return code.upper()
    return None


def deployment_error(reply: Any, where: str) -> DeploymentError | None:
    """The reply as a DeploymentError when its code is one of those."""
    code = reply_code(reply)
    if code not in DEPLOYMENT_REPLIES:
        return None
    return DeploymentError(
        code.lower(),
        f"{code} {reply} (from {where})",
        lasting=code not in PASSING_REPLIES,
        hint=HINTS.get(code, ""),
    )


FAILURE_KINDS = (
    "timeout",
    "connection",
    "auth",
    *sorted(c.lower() for c in DEPLOYMENT_REPLIES),
)


def opens_at_once(exc: BaseException) -> bool:
    """A failure that will not pass between two calls (a full Redis still
    serves reads, which would otherwise keep the breaker closed)."""
    return isinstance(exc, DeploymentError) and exc.lasting


def failure_reason(exc: BaseException) -> str:
    """For readiness: the kind, and what it means, without addresses."""
    kind = failure_kind(exc)
    hint = exc.hint if isinstance(exc, DeploymentError) else ""
    return f"{kind}: {hint}" if hint else kind


def failure_kind(exc: BaseException) -> str:
    """The `kind` label of backend_errors_total for a failed Redis call."""
    if isinstance(exc, DeploymentError):
        return exc.kind
    if isinstance(exc, redis.TimeoutError):
        return "timeout"
    if isinstance(exc, redis.AuthenticationError):
        return "auth"
    return "connection"


def connect_redis(settings: RedisSettings) -> redis.Redis:
    """A client with its own pool; no retries, so a timeout costs one timeout."""
    return redis.Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.timeout_seconds,
        socket_timeout=settings.timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        max_connections=settings.max_connections,
        health_check_interval=30,
    )


def client_like(seed: redis.Redis, host: str, port: int) -> redis.Redis:
    """A client of another node, with the seed's settings (password, TLS,
    timeouts, pool size): a cluster's nodes share them."""
    pool = seed.connection_pool
    kwargs = {**pool.connection_kwargs, "host": host, "port": port}
    return redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            max_connections=pool.max_connections,
            **kwargs,
        )
    )


def address_of(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def redis_breaker(
    settings: RedisSettings,
    observer: BackendObserver | None = None,
    probe: Callable[[], object] | None = None,
) -> CircuitBreaker:
    """A deployment error opens it at once: it does not pass between calls.
    probe: what must pass before it closes again (a write, see deployment.py)."""
    if observer is not None:
        observer.failures_expected("redis", FAILURE_KINDS)
    return CircuitBreaker(
        "Redis",
        REDIS_FAILURES,
        settings.breaker_cooldown_seconds,
        observer=observer,
        kind_of=failure_kind,
        at_once=opens_at_once,
        reason_of=failure_reason,
        probe=probe,
        where=_server(settings),
    )


def _server(settings: RedisSettings) -> str:
    """The server REDIS_URL names, without its password."""
    parts = urlsplit(settings.url)
    if parts.scheme == "unix":
        return parts.path
    where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    return f"{where} (a cluster node)" if settings.cluster else where


def new_token() -> str:
    """A random value no other writer will pick."""
    return os.urandom(8).hex()
