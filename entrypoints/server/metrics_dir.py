"""The directory where prometheus-client's multiprocess mode keeps each
worker's metrics, so that /metrics sums every worker of the server."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def prepare_metrics_dir(configured: str | None) -> Path | None:
    """A fresh, empty metrics directory for this start, named in the
    environment the workers inherit; the directory made, when it was made
    here (the caller removes it at exit). Call before any worker starts and
    before this process imports prometheus_client: it takes multiprocess mode
    from the environment at import, and workers forked later inherit it."""
    made = None
    if configured:
        # Often a mount point: empty it of metric files, never remove it.
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = made = Path(tempfile.mkdtemp(prefix="employee-api-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return made


def forget_dead_workers(directory: str) -> None:
    """A dead worker's gauges stop counting (its counters stay in the totals).
    gunicorn says when a worker dies (gunicorn_conf.child_exit); granian does
    not, so each worker it starts clears the gauges of those gone before it."""
    from prometheus_client import multiprocess

    pids = {path.stem.rpartition("_")[2] for path in Path(directory).glob("gauge_*")}
    for pid in filter(str.isdigit, pids):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), directory)
        except PermissionError:
            pass  # alive, another user's
