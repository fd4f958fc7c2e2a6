"""The benchmark's data: a fresh PostgreSQL database, seeded, with a bench key."""

from __future__ import annotations

import os
from typing import Any

import redis
from falcon import testing

import bootstrap
from adapters.redis.client import connect_redis, redis_breaker
from adapters.redis.fast_path import fast_path_for
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.sql.database import open_database
from domain.api_keys import Quota, Scope
from settings import AuthSettings, RedisSettings, Settings

SECRET = "bench-secret-key-bench-secret-key-0123"
ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
MANAGERS, EMPLOYEES, DEPARTMENTS = 50, 10_000, 10

_SEED = f"""
INSERT INTO manager (name, email, department, search_name, search_email, version,
                     created_at, updated_at)
SELECT 'Manager ' || n, 'm' || n || '@example.com', 'D' || mod(n, {DEPARTMENTS}),
       'manager ' || n, 'm' || n || '@example.com', 1, now(), now()
FROM generate_series(1, {MANAGERS}) AS n;
INSERT INTO employee (name, email, title, department, manager_id, search_name,
                      search_email, version, created_at, updated_at)
SELECT 'Employee ' || n, 'e' || n || '@example.com', 'Engineer',
       'D' || mod(n, {DEPARTMENTS}), CASE WHEN n = 1 THEN 1 END,
       'employee ' || n, 'e' || n || '@example.com', 1, now(), now()
FROM generate_series(1, {EMPLOYEES}) AS n;
"""


def prepare_database() -> tuple[str, str, dict[str, int]]:
    """The database URL, a read-write token, and each scenario's body size."""
    admin = open_database(ADMIN)
    admin.execute_sql('DROP DATABASE IF EXISTS "bench" WITH (FORCE)')
    admin.execute_sql('CREATE DATABASE "bench"')
    admin.close_all()
    url = ADMIN.rsplit("/", 1)[0] + "/bench"
    settings = Settings(database_url=url, auth=AuthSettings(secret_key=SECRET))
    bootstrap.migrate(settings)
    db = open_database(url)
    for statement in filter(str.strip, _SEED.split(";")):
        db.execute_sql(statement)
    db.close_all()
    redis.Redis.from_url(BENCH_REDIS).flushdb()
    storage = bootstrap.open_storage(settings)
    _, token = bootstrap.key_service(settings, storage).create("bench", set(Scope), {})
    sizes = _body_sizes(settings, storage, token)
    storage.close()
    return url, token, sizes


def _body_sizes(settings: Settings, storage: Any, token: str) -> dict[str, int]:
    client = testing.TestClient(bootstrap.bootstrap(settings=settings, storage=storage))
    auth = {"Authorization": f"Bearer {token}"}
    new = {"name": "Size", "email": "size@example.com", "department": "D1"}
    answers = {
        "get_one": client.simulate_get("/v1/employees/2", headers=auth),
        "list_page": client.simulate_get("/v1/employees?limit=50", headers=auth),
        "create": client.simulate_post("/v1/employees", json=new, headers=auth),
        "patch": client.simulate_patch(
            "/v1/employees/3", json={"title": "t"}, headers=auth
        ),
        "join": client.simulate_put("/v1/managers/1/employees/1", headers=auth),
    }
    return {name: len(answer.content) for name, answer in answers.items()}


def redis_memory_per_client(
    quotas: tuple[int, ...] = (10, 1_000, 100_000),
) -> dict[int, int]:
    """MEMORY USAGE of one client's limiter key once it has spent a full quota."""
    settings = RedisSettings(BENCH_REDIS, timeout_seconds=5)
    client = connect_redis(settings)
    lane = fast_path_for(client)
    limiter = RedisRateLimiter(lane, redis_breaker(settings), prefix="bench:rl:")
    sizes = {}
    for quota in quotas:
        key = f"client-{quota}"
        for _ in range(quota):
            limiter.hit(key, Quota(quota, 60))
        sizes[quota] = int(client.memory_usage(f"bench:rl:{key}") or 0)
    client.close()
    return sizes
