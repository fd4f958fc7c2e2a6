"""The image, built once from the repository's Dockerfile, and the compose
stack in front of it. `make container-test` gets an engine and the base images
first (.ci/engine, .ci/standins); these tests run only with --stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack.support import IMAGE, ROOT, Stack, docker

# The limits the stack runs with: small enough to reach in a test.
LIMITS = {"RATE_LIMIT_MANAGERS": "20/minute", "RATE_LIMIT_EMPLOYEES": "10/minute"}


def build_arguments() -> list[str]:
    """What this machine needs to reach PyPI from inside the build: its extra
    CA certificates (a TLS-inspecting proxy's), and a package index if set."""
    extra = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    argv = []
    if extra:
        pem = "".join(path.read_text() for path in extra)
        argv += ["--build-arg", f"EXTRA_CA_CERT={pem}"]
    if os.environ.get("PIP_INDEX_URL"):
        argv += ["--build-arg", f"PIP_INDEX_URL={os.environ['PIP_INDEX_URL']}"]
    return argv


@pytest.fixture(scope="session")
def image() -> str:
    docker(
        "build",
        "--network=host",
        "-t",
        IMAGE,
        *build_arguments(),
        str(ROOT),
        timeout=900,
    )
    return IMAGE


@pytest.fixture(scope="session")
def stack(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two replicas behind nginx on an empty database; removed with its data
    at the end, passed or not."""
    running = Stack.prepare(tmp_path_factory.mktemp("stack"), LIMITS)
    running.down(volumes=True)  # what an interrupted earlier run left
    try:
        running.up()
        running.wait_healthy("api", 2)
        yield running
    finally:
        running.down(volumes=True)
