"""The compose stack as the container tests drive it: the repository's own
docker-compose.yml and nginx.conf, copied with a test .env into a scratch
project directory, run by docker-compose against the engine `.ci/engine` gave."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.http_clients import Reply, request_once
from tests.support.paths import ROOT
from tests.support.polling import poll

DOCKER = "/usr/bin/docker"  # Debian's client, matching Debian's engine
IMAGE = "employee-api:local"
PROJECT = "employee-api-stack-test"
PORT = 18_080
# Fixed addresses in the stack's subnet: nginx (the one trusted proxy) and
# two clients that reach nginx from inside the network with their own address.
SUBNET = "172.30.57.0/24"
NGINX = "172.30.57.10"
CLIENT_A = "172.30.57.50"
CLIENT_B = "172.30.57.51"
SECRETS = {
    "SECRET_KEY": "stack-test-secret-key-0123456789abcdef",
    "POSTGRES_PASSWORD": "stack-test-postgres",
    "REDIS_PASSWORD": "stack-test-redis",
}


def run(*argv: str, timeout: float = 300, check: bool = True) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def docker(*argv: str, timeout: float = 300, check: bool = True) -> str:
    return run(DOCKER, *argv, timeout=timeout, check=check)


@dataclass
class Stack:
    directory: Path

    @classmethod
    def prepare(cls, directory: Path, settings: Mapping[str, str]) -> Stack:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "docker-compose.yml", directory)
        (directory / "deploy").mkdir(exist_ok=True)
        shutil.copy(ROOT / "deploy" / "nginx.conf", directory / "deploy")
        env = {
            **SECRETS,
            "PUBLISH": f"127.0.0.1:{PORT}",
            "STACK_SUBNET": SUBNET,
            "NGINX_ADDRESS": NGINX,
            **settings,
        }
        (directory / ".env").write_text(
            "".join(f"{name}={value}\n" for name, value in env.items())
        )
        return cls(directory)

    def compose(self, *argv: str, timeout: float = 300, check: bool = True) -> str:
        return run(
            "docker-compose",
            "--project-directory",
            str(self.directory),
            "-f",
            str(self.directory / "docker-compose.yml"),
            "-p",
            PROJECT,
            *argv,
            timeout=timeout,
            check=check,
        )

    def up(self) -> None:
        self.compose("up", "-d", "--no-build", timeout=600)

    def down(self, volumes: bool = False) -> None:
        self.compose("down", "--timeout", "30", *(["-v"] if volumes else []))

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", service)

    def container(self, service: str, index: int = 1) -> str:
        return f"{PROJECT}_{service}_{index}"

    def address(self, service: str, index: int = 1) -> str:
        return docker(
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            self.container(service, index),
        ).strip()

    def wait_healthy(self, service: str, replicas: int) -> None:
        for index in range(1, replicas + 1):
            name = self.container(service, index)
            wait_until(lambda n=name: health(n) == "healthy", f"{name} healthy")

    def new_key(self, name: str, *quotas: str, scopes: str = "read,write") -> str:
        argv = ["keys", "create", "--name", name, "--scopes", scopes]
        for quota in quotas:
            argv += ["--quota", quota]
        out = self.compose("exec", "-T", "api", "employee-api", *argv)
        return out.strip().splitlines()[-1]

    def nginx_log(self) -> list[dict[str, Any]]:
        """nginx's access log (JSON lines), oldest first."""
        lines = self.logs("nginx").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def in_network(self, address: str, script: str, *args: str) -> Any:
        """Runs a Python script in a throwaway container at `address` on the
        stack's network (the app image has Python); returns its JSON output."""
        return json.loads(docker("run", "--rm", *self._at(address, script, *args)))

    def start_in_network(self, address: str, script: str, *args: str) -> str:
        """As in_network, in the background; returns the container's id."""
        return docker("run", "--detach", *self._at(address, script, *args)).strip()

    def _at(self, address: str, script: str, *args: str) -> list[str]:
        network = f"{PROJECT}_default"
        placed = ["--network", network, "--ip", address, "--entrypoint", "python"]
        return [*placed, IMAGE, "-c", script, *args]


def request(
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One request through nginx's published port, on a fresh connection."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return request_once(PORT, method, path, body=body, headers=sent, timeout=timeout)


def wait_until(predicate: Callable[[], bool], what: str, within: float = 60) -> None:
    """Polls a condition the engine reports only by being asked."""
    poll(predicate, within=within, what=what, every=0.25)


def logs_of(container: str) -> str:
    """A container's standard output and error, interleaved."""
    return subprocess.run(
        [DOCKER, "logs", container],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def health(container: str) -> str:
    return docker("inspect", "-f", "{{.State.Health.Status}}", container).strip()
