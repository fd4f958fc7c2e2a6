"""Soak: the mixed load (60% reads, 40% writes over every endpoint) against
two production-configured instances for SOAK_SECONDS (20 by default, 60 in
CI, 300 with `make soak`): no 5xx, no journal mismatch, and every worker's
resident memory at the end within 10% of its size after the warm-up."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import World, resident_kb, worker_pids, world
from tests.faults.test_faults import load, progress, verify
from tests.support.polling import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))


@pytest.fixture
def stack(tmp_path: Path, http_server: str) -> Iterator[World]:
    with world(tmp_path, server=http_server) as running:
        yield running


def test_soak(stack: World) -> None:
    with load(stack) as journal:
        progress(journal, 2000)  # warm-up: caches, pools, lazy imports
        warm = {
            pid: resident_kb(pid) for i in stack.instances for pid in worker_pids(i)
        }
        began, counted = time.monotonic(), len(journal.entries)
        wait_for(SECONDS)
        end = {pid: resident_kb(pid) for pid in warm}
        elapsed, answered = time.monotonic() - began, len(journal.entries) - counted
    latencies = sorted(e.seconds for e in journal.entries)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"\nsoak: {SECONDS:.0f} s after warm-up, {answered} requests,")
    print(f"  {answered / elapsed:.0f} req/s, statuses {dict(journal.summary())},")
    print(f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print("  worker  RSS after warm-up  RSS at end  change")
    for pid, kb in warm.items():
        after = end[pid]
        print(f"  {pid:>6}  {kb / 1024:>14.1f} MB  {after / 1024:>7.1f} MB", end="")
        print(f"  {after / kb - 1:+.1%}")
    assert set(journal.summary()) == {"2xx"}, journal.summary()
    verify(stack, journal)
    grown = {pid: end[pid] / kb for pid, kb in warm.items() if end[pid] > kb * 1.10}
    assert not grown, grown
