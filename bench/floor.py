"""The floor: the ceiling plus only the round trips the contract requires,
under the same gunicorn configuration. What no implementation of this design
can do without, so the service's distance from the ceiling splits into what
is the design's and what is the service's own.

Per request, with none of the service's logic around them:
- a read: the rate limiter's script and the cache's MGET, pipelined on one
  Redis connection (the limit must hold across instances: Redis decides every
  request; the cache is shared, so it is read there too);
- create: the limiter's script, one INSERT ... RETURNING (autocommit), the
  invalidation's SET;
- patch: the limiter's script, one UPDATE ... RETURNING (autocommit), the
  invalidation's SET;
- join (already a member): the limiter's script, one SELECT.

The limiter's script is the service's own (RedisRateLimiter.command), sent on
the service's Redis fast path (adapters/redis/fast_path.py); SQL goes through
psycopg2, one connection a thread.
Environment: DATABASE_URL, REDIS_URL and BENCH_BODY_SIZES, as for the ceiling.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import falcon
import msgspec
import psycopg2
import redis

from adapters.breaker import CircuitBreaker
from adapters.redis.fast_path import fast_path_for
from adapters.redis.rate_limiter import RedisRateLimiter
from bench.ceiling import _body
from domain.api_keys import Quota
from entrypoints.server.rsgi_bridge import served_by
from settings import Settings

_client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
_fast_path = fast_path_for(_client)
_limiter = RedisRateLimiter(_fast_path, CircuitBreaker("Redis", (redis.RedisError,), 1))
_quota = Quota(100_000_000, 60)
_READ = ("MGET", "floor:{dep}", "floor:{dep}:entry")
_INVALIDATE = ("SET", "floor:{dep}", "token", "EX", "300")
_local = threading.local()


def _limit() -> None:
    _fast_path.call(*_limiter.command("floor", _quota), again=True)


def _limited_read() -> None:
    _fast_path.pipeline([_limiter.command("floor", _quota), _READ], again=True)


def _sql(statement: str, args: tuple[Any, ...]) -> Any:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = psycopg2.connect(os.environ["DATABASE_URL"])
        connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement, args)
        return cursor.fetchone()


def _json(resp: falcon.Response, body: bytes, status: int = 200) -> None:
    resp.status = status
    resp.data = body
    resp.content_type = falcon.MEDIA_JSON


class Collection:
    def __init__(self) -> None:
        self._page, self._created = _body("list_page"), _body("create")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _limited_read()
        _json(resp, self._page)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        _limit()
        new = msgspec.json.decode(req.bounded_stream.read())
        _sql(
            "INSERT INTO employee (name, email, department, search_name,"
            " search_email, version, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, 1, now(), now()) RETURNING id",
            (new["name"], new["email"], new["department"], new["name"], new["email"]),
        )
        _fast_path.call(*_INVALIDATE)
        _json(resp, self._created, 201)


class Item:
    def __init__(self) -> None:
        self._one, self._patched = _body("get_one"), _body("patch")
        self._joined = _body("join")

    def on_get(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        _limited_read()
        _json(resp, self._one)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        _limit()
        change = msgspec.json.decode(req.bounded_stream.read())
        _sql(
            "UPDATE employee SET title = %s, version = version + 1,"
            " updated_at = now() WHERE id = %s RETURNING id",
            (change["title"], ids["employee_id"]),
        )
        _fast_path.call(*_INVALIDATE)
        _json(resp, self._patched)

    def on_put(self, req: falcon.Request, resp: falcon.Response, **ids: Any) -> None:
        _limit()
        _sql("SELECT manager_id FROM employee WHERE id = %s", (ids["employee_id"],))
        _json(resp, self._joined)


class Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _json(resp, b"{}")


app = falcon.App()
app.add_route("/v1/employees", Collection())
app.add_route("/v1/employees/{employee_id:int}", Item())
app.add_route("/v1/managers/{manager_id:int}/employees/{employee_id:int}", Item())
app.add_route("/health/live", Live())


def served() -> Any:
    """The app as granian takes it (bench/server.py)."""
    return served_by(Settings.from_env(), app)
