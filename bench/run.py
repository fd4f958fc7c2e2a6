"""`make bench`: the service, as in production, against a bare-Falcon ceiling.

All run under the service's own gunicorn configuration (2 workers unless
BENCH_WORKERS says otherwise) on loopback; the service with auth on and a
bench key, limits far above the load, the cache on (off for get_one_cold),
on PostgreSQL and Redis. The floor (bench/floor.py) is the ceiling plus only
the round trips the contract requires, with no logic around them: what no
implementation of this design can beat. wrk (2 threads, 32 connections) runs
each scenario against each target in turn, for BENCH_ROUNDS rounds of
BENCH_DURATION. Prints, per scenario: req/s, p50, p99, non-2xx, CPU of the
app, PostgreSQL, Redis and wrk, the ratio to the ceiling and the service's to
the floor; then each worker's resident memory and Redis's memory per
rate-limited client. Plain text and TSV are
written to bench/last-run.txt and bench/last-run.tsv.

    make bench                      # BENCH_DURATION=5s BENCH_ROUNDS=2
    BENCH_DURATION=3s make bench    # under 3 minutes
    BENCH_SCENARIOS=get_one,create make bench
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from contextlib import ExitStack
from dataclasses import dataclass, field

from bench import server
from bench.server import ROOT
from bench.system import Cpu, install_wrk, pids_named, resident_mb, tree
from bench.world import BENCH_REDIS, SECRET, prepare_database, redis_memory_per_client

DURATION = os.environ.get("BENCH_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
SCENARIOS = {  # name: (method, path, wrk script)
    "get_one": ("GET", "/v1/employees/2", "get.lua"),
    "get_one_cold": ("GET", "/v1/employees/2", "get.lua"),
    "list_page": ("GET", "/v1/employees?limit=50", "get.lua"),
    "list_filtered": ("GET", "/v1/employees?department=D3&limit=50", "get.lua"),
    "create": ("POST", "/v1/employees", "create.lua"),
    "create_batch": ("POST", "/v1/employees/batch", "create_batch.lua"),
    "patch": ("PATCH", "/v1/employees/3", "patch.lua"),
    "join": ("PUT", "/v1/managers/1/employees/1", "join.lua"),
}
BATCH_SIZE = 1000  # as in scenarios/create_batch.lua
# BENCH_SCENARIOS=get_one,create runs only those.
_ONLY = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s]
SCENARIOS = {k: v for k, v in SCENARIOS.items() if not _ONLY or k in _ONLY}
TARGETS = {
    "get_one": 0.60,
    "list_page": 0.50,
    "create": 0.25,
    "patch": 0.25,
    "join": 0.40,
}


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    non_2xx: int = 0
    cpu: dict[str, list[float]] = field(default_factory=dict)


def serve(app: str, env: dict[str, str]) -> ContextManager[tuple[int, int]]:
    """The service's gunicorn config, these workers, the bench's secret."""
    own = {"WEB_CONCURRENCY": WORKERS, "SECRET_KEY": SECRET, "LOG_LEVEL": "warning"}
    return server.serve(app, {**env, **own})


def run_wrk(
    port: int,
    scenario: str,
    token: str,
    result: Result,
    pids: dict[str, Callable[[], list[int]]],
) -> None:
    _, path, script = SCENARIOS[scenario]
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_RUN_ID": uuid.uuid4().hex[:8]}
    # A batch is a thousand creates: eight at a time load both cores (four
    # left them short; more only queue).
    connections = "-c8" if scenario == "create_batch" else "-c32"
    cpu = Cpu(pids)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            connections,
            f"-d{DURATION}",
            "--latency",
            "-s",
            str(ROOT / "bench" / "scenarios" / script),
            f"http://127.0.0.1:{port}{path}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk gave no latencies for {scenario}:\n{out}")
    for name, share in cpu.shares().items():
        result.cpu.setdefault(name, []).append(share)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    if not (rps and p50 and p99):
        raise RuntimeError(f"wrk's output for {scenario} could not be read:\n{out}")
    result.rps.append(float(rps[1]))
    result.p50.append(_ms(p50[1]))
    result.p99.append(_ms(p99[1]))
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result.non_2xx += int(non[1]) if non else 0


def _targets(scenario: str) -> tuple[str, ...]:
    # The floor reads through the cache; a cold read has no floor of its own.
    if scenario == "get_one_cold":
        return ("service", "ceiling")
    if scenario == "create_batch":  # no bare app does a thousand inserts
        return ("service",)
    return ("service", "floor", "ceiling")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"wrk printed a latency this cannot read: {text!r}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match[2]]
    return float(match[1]) * scale


def main() -> None:
    install_wrk()
    subprocess.run(["bash", str(ROOT / ".ci" / "services")], check=True)
    database, token, sizes = prepare_database()
    service = {
        "DATABASE_URL": database,
        "REDIS_URL": BENCH_REDIS,
        "RATE_LIMIT_EMPLOYEES": "100000000/minute",
        "RATE_LIMIT_MANAGERS": "100000000/minute",
        "CACHE_TTL_SECONDS": "300",
    }
    results = {(s, t): Result() for s in SCENARIOS for t in _targets(s)}
    rss: dict[str, float] = {}
    with ExitStack() as stack:
        warm, warm_pid = stack.enter_context(serve("bootstrap:get_app()", service))
        cold, cold_pid = stack.enter_context(
            serve("bootstrap:get_app()", {**service, "RESPONSE_CACHE": "0"})
        )
        sized = {**service, "BENCH_BODY_SIZES": json.dumps(sizes)}
        ports = {
            "ceiling": stack.enter_context(serve("bench.ceiling:app", sized)),
            "floor": stack.enter_context(serve("bench.floor:app", sized)),
        }
        for round_no in range(ROUNDS):
            print(f"round {round_no + 1} of {ROUNDS} ({DURATION} a run)", flush=True)
            for scenario in SCENARIOS:
                own = (
                    (cold, cold_pid) if scenario == "get_one_cold" else (warm, warm_pid)
                )
                for target in _targets(scenario):
                    port, pid = own if target == "service" else ports[target]
                    pids = {
                        "app": lambda pid=pid: tree(pid),
                        "postgres": lambda: pids_named("postgres"),
                        "redis": lambda: pids_named("redis-server"),
                    }
                    run_wrk(port, scenario, token, results[(scenario, target)], pids)
        for name, pid in (("service", warm_pid), ("ceiling", ports["ceiling"][1])):
            for number, worker in enumerate(tree(pid)[1:], 1):
                rss[f"{name} worker {number}"] = resident_mb(worker)
    report(results, rss, redis_memory_per_client())


def report(
    results: dict[tuple[str, str], Result],
    rss: dict[str, float],
    per_client: dict[int, int],
) -> None:
    head = (
        "scenario",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "cpu app",
        "cpu pg",
        "cpu redis",
        "cpu wrk",
        "/ceiling",
        "/floor",
        "goal",
    )
    rows = [head]
    for (scenario, target), r in results.items():
        rps = statistics.median(r.rps)
        ceiling = results.get((scenario, "ceiling"))
        ratio = rps / statistics.median(ceiling.rps) if ceiling else float("nan")
        floor = results.get((scenario, "floor"))
        to_floor = (
            f"{rps / statistics.median(floor.rps):.2f}"
            if floor is not None and target == "service"
            else ""
        )
        cpu = [
            f"{statistics.median(r.cpu.get(n, [0])):.0%}"
            for n in ("app", "postgres", "redis", "wrk")
        ]
        goal = TARGETS.get(scenario)
        met = (
            ""
            if target != "service" or goal is None
            else (f"{goal:.2f} {'met' if ratio >= goal else 'missed'}")
        )
        rows.append(
            (
                scenario,
                target,
                f"{rps:.0f}",
                f"{statistics.median(r.p50):.2f}",
                f"{statistics.median(r.p99):.2f}",
                str(r.non_2xx),
                *cpu,
                f"{ratio:.2f}",
                to_floor,
                met,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    ]
    batch, single = (
        results.get(("create_batch", "service")),
        results.get(("create", "service")),
    )
    if batch is not None and single is not None:
        records = statistics.median(batch.rps) * BATCH_SIZE
        times = records / statistics.median(single.rps)
        singles = statistics.median(single.rps)
        lines += ["", f"create_batch: {records:,.0f} records/s in batches of "
                  f"{BATCH_SIZE:,}, {times:.1f} times single creates' "
                  f"{singles:,.0f}/s (goal: 20 times)"]  # fmt: skip
    lines += ["", "resident memory after the runs:"]
    lines += [f"  {name}: {mb:.1f} MB" for name, mb in rss.items()]
    lines += ["", "Redis memory per client after one full quota (MEMORY USAGE):"]
    lines += [
        f"  quota {quota}/minute: {size} bytes" for quota, size in per_client.items()
    ]
    text = "\n".join(lines)
    print(text)
    (ROOT / "bench" / "last-run.txt").write_text(text + "\n")
    (ROOT / "bench" / "last-run.tsv").write_text(
        "\n".join("\t".join(r) for r in rows) + "\n"
    )


if __name__ == "__main__":
    main()
