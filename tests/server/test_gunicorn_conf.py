"""gunicorn's configuration hooks, run as gunicorn runs them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest


def test_a_given_metrics_directory_is_emptied_of_metrics_never_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It is often a mount point: only the metric files of a past run go."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old")
    (directory / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    monkeypatch.setenv("AUTH_DISABLED", "1")
    conf = importlib.import_module("entrypoints.server.gunicorn_conf")
    conf = importlib.reload(conf)  # reads the environment set above
    conf.on_starting(None)
    assert directory.is_dir()
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
