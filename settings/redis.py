"""Redis's settings: one node or a cluster, how long to wait, which keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from settings.values import (
    Environment,
    SettingsError,
    default_key_prefix,
    key_prefix,
    redis_url,
)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = field(repr=False)  # may carry a password
    timeout_seconds: float = 0.25
    breaker_cooldown_seconds: float = 2.0
    max_connections: int = 50
    # Every key this deployment writes starts with it, so deployments on
    # different databases can share one Redis database without meeting.
    key_prefix: str = "ema:"
    # A Redis Cluster (or a cluster-mode managed Redis): url names any node,
    # the seed of the slot map.
    cluster: bool = False


def read_redis(env: Environment, database: str) -> RedisSettings | None:
    """REDIS_URL (redis://, rediss:// or unix://), else REDIS_HOST/PORT/PASSWORD."""
    url = env.parsed("REDIS_URL", None, redis_url)
    host = env.text("REDIS_HOST", "")
    port = env.integer("REDIS_PORT", 6379, 1, 65_535)
    password = env.text("REDIS_PASSWORD", "")
    timeout_ms = env.integer("REDIS_TIMEOUT_MS", 250, 1, 60_000)
    cooldown = env.number("REDIS_BREAKER_COOLDOWN_SECONDS", 2.0, 0.01, 3600.0)
    prefix = env.parsed("REDIS_KEY_PREFIX", default_key_prefix(database), key_prefix)
    cluster = env.flag("REDIS_CLUSTER", False)
    if cluster and ("{" in prefix or "}" in prefix):
        raise SettingsError(
            f"REDIS_KEY_PREFIX={prefix!r}: must not contain braces with "
            "REDIS_CLUSTER=1; the service tags its keys itself, so that each "
            "record's keys share a slot and records spread over every shard"
        )
    if url is None and host:
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{host}:{port}/0"
    if url is None:
        return None
    if cluster and urlsplit(url).path.strip("/") not in ("", "0"):
        raise SettingsError(
            "REDIS_URL: must name database 0 with REDIS_CLUSTER=1 (a Redis "
            "Cluster has no other)"
        )
    return RedisSettings(
        url, timeout_ms / 1000, cooldown, key_prefix=prefix, cluster=cluster
    )
