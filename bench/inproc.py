"""Per-request CPU of the app in one process, without HTTP: a quieter signal
than wrk on a shared machine, for deciding whether a change pays.

Calls the WSGI app directly with each scenario's request (auth, limiter and
cache on, PostgreSQL and Redis, as `make bench` runs it) and the ceiling app
and the floor with the same requests, and prints microseconds of process CPU
per request (and, for the service and the floor, of wall-clock time: their
round trips). Needs the
database `make bench` seeds (it prepares one when BENCH_PREPARE=1).

    python -m bench.inproc                  # every scenario, 3000 requests each
    BENCH_SCENARIOS=get_one python -m bench.inproc
    python -m bench.inproc --profile get_one   # cProfile, top 30 by own time

Metrics are kept in memory unless PROMETHEUS_MULTIPROC_DIR names a directory
(as gunicorn's workers keep them, in files): set it to weigh that cost too.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from bench.run import SCENARIOS
from bench.world import ADMIN, BENCH_REDIS, SECRET, prepare_database

N = int(os.environ.get("BENCH_REQUESTS", "3000"))
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _bodies(scenario: str) -> Callable[[int], bytes]:
    if scenario == "create":
        run = os.urandom(4).hex()
        return lambda n: json.dumps(
            {"name": "Bench", "email": f"i-{run}-{n}@example.com", "department": "D1"}
        ).encode()
    if scenario == "patch":  # a change every time, as bench/scenarios/patch.lua
        return lambda n: b'{"title":"t%d"}' % (n % 2)
    return lambda n: b""


def _environ(scenario: str, token: str, body: bytes) -> dict[str, Any]:
    method, target, _ = SCENARIOS[scenario]
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _call(app: WsgiApp, environ: dict[str, Any]) -> str:
    status: list[str] = []
    for _ in app(environ, lambda s, h, e=None: status.append(s)):
        pass
    return status[0]


def measure(app: WsgiApp, scenario: str, token: str, n: int = N) -> float:
    """Microseconds of process CPU per request, after a warm-up."""
    return measure_both(app, scenario, token, n)[0]


def measure_both(
    app: WsgiApp, scenario: str, token: str, n: int = N
) -> tuple[float, float]:
    """Microseconds of process CPU and of wall-clock time per request."""
    body = _bodies(scenario)
    for i in range(50):
        status = _call(app, _environ(scenario, token, body(-i - 1)))
        if not status.startswith("2"):
            raise RuntimeError(f"{scenario}: {status}")
    started, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        _call(app, _environ(scenario, token, body(i)))
    cpu = (time.process_time() - started) / n * 1e6
    return cpu, (time.perf_counter() - wall) / n * 1e6


def _apps(cache: bool = True) -> tuple[WsgiApp, str]:
    os.environ.update(
        {
            "SECRET_KEY": SECRET,
            "REDIS_URL": BENCH_REDIS,
            "RATE_LIMIT_EMPLOYEES": "100000000/minute",
            "RATE_LIMIT_MANAGERS": "100000000/minute",
            "CACHE_TTL_SECONDS": "300",
            "RESPONSE_CACHE": "1" if cache else "0",
            "LOG_LEVEL": "warning",
        }
    )
    if os.environ.get("BENCH_PREPARE") == "1":
        url, token, _ = prepare_database()
    else:
        url, token = ADMIN.rsplit("/", 1)[0] + "/bench", _token_for_bench()
    os.environ["DATABASE_URL"] = url
    import bootstrap
    from entrypoints.server.log_config import configure_logging

    configure_logging("warning", "text")
    return bootstrap.get_app(), token


def _token_for_bench() -> str:
    import bootstrap
    from domain.api_keys import Scope
    from settings import AuthSettings, Settings

    url = ADMIN.rsplit("/", 1)[0] + "/bench"
    settings = Settings(database_url=url, auth=AuthSettings(secret_key=SECRET))
    storage = bootstrap.open_storage(settings)
    keys = bootstrap.key_service(settings, storage)
    _, token = keys.create(f"inproc-{os.getpid()}", set(Scope), {})
    storage.close()
    return token


def main() -> None:
    from bench import ceiling, floor

    app, token = _apps(cache=os.environ.get("BENCH_CACHE", "1") == "1")
    if sys.argv[1:2] == ["--profile"]:
        profile = cProfile.Profile()
        profile.runcall(measure, app, sys.argv[2], token)
        out = io.StringIO()
        order = os.environ.get("BENCH_SORT", "tottime")  # or cumulative
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(30)
        print(out.getvalue())
        return
    only = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
    for scenario in [s for s in SCENARIOS if s != "get_one_cold"]:
        if only and scenario not in only:
            continue
        service, wall = measure_both(app, scenario, token)
        least = (
            ""
            if scenario == "create_batch"
            else "  floor {:5.0f} us CPU {:5.0f} us wall"
        )
        if least:
            least = least.format(*measure_both(floor.app, scenario, token))
        bare = measure(ceiling.app, scenario, token)
        print(
            f"{scenario:14} service {service:7.0f} us CPU {wall:7.0f} us wall{least}"
            f"  ceiling {bare:5.0f} us CPU",
            flush=True,
        )


if __name__ == "__main__":
    main()
