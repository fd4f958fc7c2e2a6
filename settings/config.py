"""The settings, and the one reader of the environment that yields them.

Every variable is named here literally, once, and checked when read: a bad
value stops the process before it binds a port, with a one-line message
naming the variable, the value and what is allowed. The README's
configuration table lists the same names (a test holds them together).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.api_keys import Quota
from settings.redis import RedisSettings, read_redis
from settings.server import ServerSettings, read_server
from settings.values import (
    MAKE_A_SECRET,
    Environment,
    Network,
    SettingsError,
    database_url,
    parse_duration,
    parse_networks,
    parse_quota,
    secret_key,
    secret_keys,
)

DEFAULT_DATABASE_URL = "sqlite:///employees.sqlite3"
DEFAULT_AUTH_LOOKUPS = Quota(30, 60)
DEFAULT_QUOTAS = {
    "employees": Quota(10, 60),
    "managers": Quota(20, 60),
    "changes": Quota(60, 60),
}


@dataclass(frozen=True, slots=True)
class PoolSettings:
    max_connections: int = 10
    wait_seconds: float = 5.0  # how long a request waits for a free connection
    connect_timeout: int = 3
    statement_timeout_ms: int = 5000  # 0: none


@dataclass(frozen=True, slots=True)
class AuthSettings:
    disabled: bool = False
    secret_key: str | None = field(default=None, repr=False)
    # Keys made under these still work, and are stored anew under
    # SECRET_KEY on their first use (a rotation in progress).
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    cache_seconds: float = 10.0  # how long a verified key is trusted unchecked

    def required_secret_key(self) -> str:
        """SECRET_KEY, or SettingsError saying how to make one."""
        if self.secret_key is None:
            raise SettingsError(
                "SECRET_KEY is not set, and API keys are stored as HMACs keyed "
                f"with it; make one with: {MAKE_A_SECRET} (or set AUTH_DISABLED=1 "
                "for local work)"
            )
        return self.secret_key

    def check(self) -> None:
        """Refuse to serve with auth on and no SECRET_KEY."""
        if not self.disabled:
            self.required_secret_key()


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    quotas: Mapping[str, Quota] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    fail_closed: bool = False

    def quota_of(self, group: str) -> Quota:
        """The group's quota: as configured, else the default."""
        return self.quotas.get(group) or DEFAULT_QUOTAS[group]

    @property
    def groups(self) -> list[str]:
        return list(DEFAULT_QUOTAS)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    max_body_bytes: int = 64 * 1024
    batch_max_body_bytes: int = 2**20  # the batch routes' own
    batches_at_once: int = 1  # a process's batches in work; more wait a turn
    trusted_proxies: Sequence[Network] = ()
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    # How long an idempotency claim of a process that died holds its key.
    idempotency_claim_seconds: int = 120
    # API-key lookups (tokens not verified lately) an address may cause.
    auth_lookups: Quota = DEFAULT_AUTH_LOOKUPS
    # Honour X-Test-Crash (the fault tests' crash window; never in production).
    test_hooks: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    pool: PoolSettings = field(default_factory=PoolSettings)
    redis: RedisSettings | None = None
    cache_ttl_seconds: int = 60
    response_cache: bool = True  # off: every read goes to the database
    changes_retention_seconds: int = 7 * 86400
    http: HttpSettings = field(default_factory=HttpSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from env (the process environment by default); SettingsError
        names the first variable whose value is unusable."""
        return _read(Environment(os.environ if env is None else env))

    def without_statement_timeout(self) -> Settings:
        """For migrations, which may run (or wait for another migrator) long."""
        pool = dataclasses.replace(self.pool, statement_timeout_ms=0)
        return dataclasses.replace(self, pool=pool)


def client_token(variable: str) -> str:
    """The API key `employee-api import` and `export` send, from the variable
    named (EMPLOYEE_API_KEY unless told): a client's setting, not the
    service's, so not among variable_names(); empty when unset."""
    return os.environ.get(variable, "")


def variable_names() -> list[str]:
    """Every variable the service reads, in the order it reads them."""
    env = Environment({})
    _read(env)
    return env.names


def _read(env: Environment) -> Settings:
    database = (
        _first(
            env.parsed("DATABASE_URL", None, database_url),
            env.parsed("POSTGRES_URL", None, database_url),
        )
        or DEFAULT_DATABASE_URL
    )
    redis = read_redis(env, database)
    server = read_server(env, shared_state=redis is not None)
    if redis is not None:
        # Each serving thread keeps a Redis connection of its own for the
        # limiter and the cache (adapters/redis/fast_path.py); the rest share more.
        wanted = server.threads + 16
        connections = max(redis.max_connections, wanted)
        redis = dataclasses.replace(redis, max_connections=connections)
    return Settings(
        database_url=database,
        pool=PoolSettings(
            max_connections=env.integer("DB_POOL_SIZE", 10, 1, 1000),
            statement_timeout_ms=env.integer(
                "DB_STATEMENT_TIMEOUT_MS", 5000, 0, 3_600_000
            ),
        ),
        redis=redis,
        cache_ttl_seconds=env.integer("CACHE_TTL_SECONDS", 60, 1, 86_400),
        response_cache=env.flag("RESPONSE_CACHE", True),
        changes_retention_seconds=env.parsed(
            "CHANGES_RETENTION", 7 * 86400, parse_duration
        ),
        http=HttpSettings(
            max_body_bytes=env.integer("MAX_BODY_BYTES", 64 * 1024, 1, 64 * 2**20),
            batch_max_body_bytes=env.integer(
                "BATCH_MAX_BODY_BYTES", 2**20, 1, 64 * 2**20
            ),
            batches_at_once=env.integer("BATCHES_AT_ONCE", 1, 1, 64),
            trusted_proxies=env.parsed("TRUSTED_PROXIES", (), parse_networks),
            rate_limits=RateLimitSettings(
                quotas={
                    "employees": env.parsed(
                        "RATE_LIMIT_EMPLOYEES", DEFAULT_QUOTAS["employees"], parse_quota
                    ),
                    "managers": env.parsed(
                        "RATE_LIMIT_MANAGERS", DEFAULT_QUOTAS["managers"], parse_quota
                    ),
                    "changes": env.parsed(
                        "RATE_LIMIT_CHANGES", DEFAULT_QUOTAS["changes"], parse_quota
                    ),
                },
                fail_closed=env.flag("RATE_LIMIT_FAIL_CLOSED", False),
            ),
            auth_lookups=env.parsed("AUTH_LOOKUPS", DEFAULT_AUTH_LOOKUPS, parse_quota),
            idempotency_claim_seconds=env.integer(
                "IDEMPOTENCY_CLAIM_SECONDS", 120, 1, 86_400
            ),
            test_hooks=env.flag("TEST_HOOKS", False),
        ),
        server=server,
        auth=AuthSettings(
            disabled=env.flag("AUTH_DISABLED", False),
            secret_key=env.parsed("SECRET_KEY", None, secret_key, secret=True),
            previous_secret_keys=env.parsed(
                "SECRET_KEY_PREVIOUS", (), secret_keys, secret=True
            ),
            cache_seconds=env.number("AUTH_CACHE_SECONDS", 10.0, 0.0, 300.0),
        ),
    )


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)
