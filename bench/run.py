"""`make bench`: the service, as in production, against a bare-Falcon ceiling
and floor, under gunicorn and under granian.

Each runs under the service's own configuration of its server (2 workers
unless BENCH_WORKERS says otherwise) on loopback; the service with auth on
and a bench key, limits far above the load, the cache on (off for
get_one_cold), on PostgreSQL and Redis. The floor (bench/floor.py) is the
ceiling plus only the round trips the contract requires, with no logic
around them: what no implementation of this design can beat. Each round
starts each server's targets in turn (BENCH_SERVERS, default both), and wrk
(2 threads, 32 connections) runs each scenario against each target, for
BENCH_ROUNDS rounds of BENCH_DURATION. Prints, per server and scenario:
req/s, p50, p99, non-2xx, CPU of the app, PostgreSQL, Redis and wrk, the
ratio to the same server's ceiling and the service's to its floor, against
issue 24's goals; granian's req/s over gunicorn's; each non-2xx answer of a
write scenario; then each worker's resident memory and Redis's memory per
rate-limited client. Plain text and TSV are written to bench/last-run.txt
and bench/last-run.tsv.

    make bench                      # BENCH_DURATION=5s BENCH_ROUNDS=2
    BENCH_DURATION=3s make bench    # quicker
    BENCH_SCENARIOS=get_one,create BENCH_SERVERS=gunicorn make bench
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import uuid
from collections import Counter
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
# BENCH_SERVERS=gunicorn runs one; each server has its own ceiling and floor.
SERVERS = [
    s for s in os.environ.get("BENCH_SERVERS", "gunicorn,granian").split(",") if s
]
# The service's req/s over the floor's, under the same server (issue 24).
GOALS = {
    "get_one": 0.85,
    "list_page": 0.85,
    "list_filtered": 0.85,
    "join": 0.85,
    "create": 0.80,
    "patch": 0.80,
}
CACHED_READS = ("get_one", "list_page", "list_filtered")


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    non_2xx: int = 0
    cpu: dict[str, list[float]] = field(default_factory=dict)
    # Write scenarios: each answer that was not 2xx ("409 {problem...}"), counted.
    answers: Counter[str] = field(default_factory=Counter)


def serve(app: str, env: dict[str, str], name: str) -> ContextManager[tuple[int, int]]:
    """The service's config of the server name, these workers, the bench's secret."""
    own = {"WEB_CONCURRENCY": WORKERS, "SECRET_KEY": SECRET, "LOG_LEVEL": "warning"}
    return server.serve(app, {**env, **own}, name)


def run_wrk(
    port: int,
    scenario: str,
    token: str,
    result: Result,
    pids: dict[str, Callable[[], list[int]]],
) -> None:
    _, path, script = SCENARIOS[scenario]
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_RUN_ID": uuid.uuid4().hex[:8],
           "BENCH_SCENARIOS_DIR": str(ROOT / "bench" / "scenarios")}  # fmt: skip
    # A batch is a thousand creates: eight at a time load both cores (four
    # left them short; more only queue).
    connections = "-c8" if scenario == "create_batch" else "-c32"
    cpu = Cpu(pids)
    completed = subprocess.run(
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
    )
    for line in completed.stderr.splitlines():
        if line.startswith("status\t"):
            _, count, answer = line.split("\t", 2)
            result.answers[answer] += int(count)
    out = completed.stdout
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


def servers_compared(results: dict[tuple[str, str, str], Result]) -> list[str]:
    """The service's req/s under granian over gunicorn's, per scenario."""
    if not {"gunicorn", "granian"} <= set(SERVERS):
        return []
    lines = [
        "",
        "the service under granian / under gunicorn (goal: 2.00 on cached reads):",
    ]
    for scenario in SCENARIOS:
        fast = results[("granian", scenario, "service")]
        slow = results[("gunicorn", scenario, "service")]
        times = statistics.median(fast.rps) / statistics.median(slow.rps)
        goal = (
            f"  {'met' if times >= 2 else 'missed'}" if scenario in CACHED_READS else ""
        )
        lines.append(f"  {scenario}: {times:.2f}{goal}")
    return lines


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
    results = {
        (name, s, t): Result()
        for name in SERVERS
        for s in SCENARIOS
        for t in _targets(s)
    }
    rss: dict[str, float] = {}
    for round_no in range(ROUNDS):
        # Each round runs every server in turn, so drift on a shared machine
        # falls on both alike; a server's targets run only while it is up.
        for name in SERVERS:
            print(f"round {round_no + 1} of {ROUNDS} ({DURATION} a run), {name}",
                  flush=True)  # fmt: skip
            with ExitStack() as stack:
                ports = serve_targets(stack, name, service, sizes)
                for scenario in SCENARIOS:
                    for target in _targets(scenario):
                        own = "cold" if scenario == "get_one_cold" else "service"
                        port, pid = ports[own if target == "service" else target]
                        pids = {
                            "app": lambda pid=pid: tree(pid),
                            "postgres": lambda: pids_named("postgres"),
                            "redis": lambda: pids_named("redis-server"),
                        }
                        result = results[(name, scenario, target)]
                        run_wrk(port, scenario, token, result, pids)
                if round_no == ROUNDS - 1:
                    for target in ("service", "ceiling"):
                        for number, worker in enumerate(tree(ports[target][1])[1:], 1):
                            rss[f"{name}: {target} worker {number}"] = resident_mb(
                                worker
                            )
    report(results, rss, redis_memory_per_client())


def serve_targets(
    stack: ExitStack, name: str, service: dict[str, str], sizes: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """The service (cache on and off), the ceiling and the floor under the
    server name; each one's (port, master pid)."""
    sized = {**service, "BENCH_BODY_SIZES": json.dumps(sizes)}
    apps = {
        "service": ("bootstrap:get_app()", service),
        "cold": ("bootstrap:get_app()", {**service, "RESPONSE_CACHE": "0"}),
        "ceiling": ("bench.ceiling:app", sized),
        "floor": ("bench.floor:app", sized),
    }
    return {
        target: stack.enter_context(serve(app, env, name))
        for target, (app, env) in apps.items()
    }


def report(
    results: dict[tuple[str, str, str], Result],
    rss: dict[str, float],
    per_client: dict[int, int],
) -> None:
    head = (
        "server", "scenario", "target", "req/s", "p50 ms", "p99 ms", "non-2xx",
        "cpu app", "cpu pg", "cpu redis", "cpu wrk", "/ceiling", "/floor", "goal",
        "p99/ceiling",
    )  # fmt: skip
    rows = [head]
    for (name, scenario, target), r in results.items():
        rps, p99 = statistics.median(r.rps), statistics.median(r.p99)
        ceiling = results.get((name, scenario, "ceiling"))
        ratio = rps / statistics.median(ceiling.rps) if ceiling else float("nan")
        floor = results.get((name, scenario, "floor"))
        service = target == "service"
        to_floor = rps / statistics.median(floor.rps) if floor and service else None
        goal = GOALS.get(scenario)
        met = ""
        if goal is not None and to_floor is not None:
            met = f"{goal:.2f} {'met' if to_floor >= goal else 'missed'}"
        tail = ""
        if service and ceiling is not None and scenario in CACHED_READS:
            times = p99 / statistics.median(ceiling.p99)
            tail = f"{times:.1f} {'met' if times <= 2 else 'missed'}"
        cpu = [
            f"{statistics.median(r.cpu.get(n, [0])):.0%}"
            for n in ("app", "postgres", "redis", "wrk")
        ]
        rows.append(
            (
                name, scenario, target, f"{rps:.0f}",
                f"{statistics.median(r.p50):.2f}", f"{p99:.2f}", str(r.non_2xx),
                *cpu, f"{ratio:.2f}", "" if to_floor is None else f"{to_floor:.2f}",
                met, tail,
            )
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    ]
    lines += servers_compared(results)
    for (name, scenario, target), r in results.items():
        for answer, count in r.answers.most_common():
            lines.append(f"{name} {scenario} {target}: {count} x {answer}")
    for name in SERVERS:
        batch = results.get((name, "create_batch", "service"))
        single = results.get((name, "create", "service"))
        if batch is not None and single is not None:
            records = statistics.median(batch.rps) * BATCH_SIZE
            singles = statistics.median(single.rps)
            lines += ["", f"{name}, create_batch: {records:,.0f} records/s in "
                      f"batches of {BATCH_SIZE:,}, {records / singles:.1f} times "
                      f"single creates' {singles:,.0f}/s (goal: 20 times)"]  # fmt: skip
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
