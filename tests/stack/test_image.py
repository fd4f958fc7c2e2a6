"""What the image is: its size and layers, a numeric non-root user, no
compiler and no pip, and a health check that follows BIND."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from migrations import MIGRATIONS_DIR
from tests.stack.support import docker, health, logs_of, wait_until


def test_image_facts(image: str) -> None:
    config = json.loads(docker("image", "inspect", image))[0]
    size_mb = config["Size"] / 1e6
    history = docker("history", "--format", "{{.Size}}\t{{.CreatedBy}}", image)
    print(f"\nimage {image}: {size_mb:.0f} MB, user {config['Config']['User']}")
    print(history)
    assert config["Config"]["User"] == "10001:10001"
    assert config["Config"]["Healthcheck"]["Test"][:2] == ["CMD", "python"]
    assert config["Config"]["Cmd"] == ["employee-api", "serve"]
    assert size_mb < 400


def test_the_runtime_has_no_compiler_and_no_pip(image: str) -> None:
    script = (
        "id -u; id -g;"
        " for tool in gcc cc make pip pip3; do command -v $tool; done;"
        " python -c 'import pip' 2>&1 | tail -n 1;"
        " python -c 'import setuptools' 2>&1 | tail -n 1"
    )
    out = docker("run", "--rm", "--entrypoint", "sh", image, "-c", script, check=False)
    lines = out.splitlines()
    assert lines[:2] == ["10001", "10001"]
    assert lines[2:] == [
        "ModuleNotFoundError: No module named 'pip'",
        "ModuleNotFoundError: No module named 'setuptools'",
    ], out


MIGRATIONS = len(list(MIGRATIONS_DIR.glob("[0-9]*.py")))


@pytest.fixture
def started() -> Iterator[list[str]]:
    containers: list[str] = []
    yield containers
    for container in containers:
        docker("rm", "--force", container, check=False)


@pytest.mark.parametrize("bind", ["0.0.0.0:9000", "unix:/tmp/api.sock"])
def test_the_health_check_follows_bind(
    image: str, bind: str, started: list[str]
) -> None:
    container = docker(
        "run",
        "--detach",
        "--network",
        "none",
        "--health-interval",
        "1s",
        "-e",
        f"BIND={bind}",
        "-e",
        "AUTH_DISABLED=1",
        "-e",
        "DATABASE_URL=sqlite:////tmp/api.sqlite3",
        image,
    ).strip()
    started.append(container)
    wait_until(lambda: health(container) == "healthy", f"healthy with BIND={bind}")


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_it_serves_on_a_read_only_root_as_kubernetes_runs_it(
    image: str, started: list[str], server: str
) -> None:
    """deploy/kubernetes's pod: a read-only root filesystem, a writable /tmp
    only (an emptyDir), the image's uid, no capabilities; under either server."""
    container = docker(
        "run", "--detach", "--network", "none", "--health-interval", "1s",
        "--read-only", "--tmpfs", "/tmp:uid=10001,gid=10001,mode=1777",
        "--user", "10001:10001", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
        "-e", "AUTH_DISABLED=1", "-e", "DATABASE_URL=sqlite:////tmp/api.sqlite3",
        "-e", f"SERVER={server}", image,
    ).strip()  # fmt: skip
    started.append(container)
    wait_until(lambda: health(container) == "healthy", "healthy on a read-only root")
    logs = logs_of(container)
    assert f"applied {MIGRATIONS} migration(s)" in logs  # migrated, then served
    assert ("Starting granian" in logs) == (server == "granian")
    assert "Read-only file system" not in logs
