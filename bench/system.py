"""Processes, their CPU and memory, read from /proc; wrk from Debian's packages."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def install_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk (Debian's package)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


def tree(pid: int) -> list[int]:
    """pid and its children (gunicorn's master and workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return [pid, *sorted(children)]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Cpu:
    """CPU used by each group of processes, and by this process's children
    (wrk), from now until shares() is called, as a share of one core. Each
    group is listed again at the end: a process that started meanwhile (a
    PostgreSQL backend for a new connection) counts all its CPU."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._start = {
            name: {pid: _cpu_seconds(pid) for pid in listed()}
            for name, listed in groups.items()
        }
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._children = usage.ru_utime + usage.ru_stime
        self._wall = time.monotonic()

    def shares(self) -> dict[str, float]:
        wall = time.monotonic() - self._wall
        used = {
            name: sum(_cpu_seconds(p) - self._start[name].get(p, 0.0) for p in listed())
            for name, listed in self._groups.items()
        }
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["wrk"] = usage.ru_utime + usage.ru_stime - self._children
        return {name: seconds / wall for name, seconds in used.items()}
