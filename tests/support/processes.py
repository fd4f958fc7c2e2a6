"""`employee-api` as an operator runs it: a process of its own, from the
repository's root, with the test's environment on top of this one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import IO

from tests.support.paths import ROOT

# The console script's own entry point, in this Python: no installed script
# needed (bootstrap.main is what `employee-api` runs).
EMPLOYEE_API = (sys.executable, "-m", "bootstrap")


def employee_api(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `employee-api ARGS` to the end; its output as text."""
    return subprocess.run(
        [*EMPLOYEE_API, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def start_employee_api(
    *args: str, env: Mapping[str, str] | None = None, output: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start `employee-api ARGS`, its output to output; the caller waits."""
    return subprocess.Popen(
        [*EMPLOYEE_API, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=output,
        stderr=output,
    )
