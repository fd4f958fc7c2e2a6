"""What can be checked of the container without a Docker engine: the command
the image runs, the package it installs, and the compose file's shape."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from tests.support.paths import ROOT
from tests.support.processes import employee_api
from tests.support.services import sqlite_url


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`employee-api serve` as the image's CMD runs it; gunicorn's --check-config
    loads its configuration and the app, then exits instead of serving."""
    database = sqlite_url(tmp_path / "container.sqlite3")
    full_env = {"DATABASE_URL": database, "AUTH_DISABLED": "1", **env}
    return employee_api("serve", "--", "--check-config", env=full_env)


def applied_migrations(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT name FROM migratehistory")]


def test_serve_migrates_then_hands_over_to_gunicorn(tmp_path: Path) -> None:
    done = serve(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "applied 3 migration(s): 001_initial, 002_api_keys, 003_change_feed"
        in done.stdout
    )
    assert applied_migrations(tmp_path / "container.sqlite3") == [
        "001_initial",
        "002_api_keys",
        "003_change_feed",
    ]


def test_serve_skips_migrations_when_told(tmp_path: Path) -> None:
    done = serve(tmp_path, MIGRATE_ON_START="0")
    assert done.returncode == 0, done.stderr
    assert "migration" not in done.stdout
    assert not (tmp_path / "container.sqlite3").exists()


def test_the_installed_package_carries_the_migrations_and_server_config(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "bootstrap.py",
        "migrations/001_initial.py",
        "entrypoints/server/gunicorn_conf.py",
        "entrypoints/cli/main.py",
        "adapters/sql/migrate.py",
        "domain/services/__init__.py",
        "settings/config.py",
    ):
        assert required in names, required
    assert any(n.endswith("entry_points.txt") for n in names)


def test_the_image_copies_every_package_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    parts = ("domain", "adapters", "entrypoints", "migrations", "settings")
    for part in (*parts, "bootstrap.py"):
        assert f"COPY {part} " in dockerfile, part
    assert "\nUSER 10001:10001" in dockerfile
    assert "ENTRYPOINT" not in dockerfile  # a command given to `run` runs as is
    assert 'CMD ["employee-api", "serve"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/health/live" in dockerfile


def test_compose_puts_nginx_alone_in_front_of_replicas_of_one_image() -> None:
    """The file's shape; tests/stack (make container-test) runs it for real."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "nginx"}
    assert services["migrate"]["command"] == ["employee-api", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )
    api = services["api"]
    env = api["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["REDIS_URL"].startswith("redis://")
    assert env["MIGRATE_ON_START"] == "0"  # the migrate service did it
    assert api["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert api["scale"] == "${API_REPLICAS:-2}"
    assert "ports" not in api  # reached through nginx only
    assert "/health/ready" in api["healthcheck"]["test"]
    # Only nginx may say who the client is.
    nginx = services["nginx"]
    address = nginx["networks"]["default"]["ipv4_address"]
    assert env["TRUSTED_PROXIES"] == address
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"
    assert [p.split(":")[0] for p in nginx["ports"]] == ["${PUBLISH"]
    # One image, built once (by migrate); the replicas reuse it by name.
    assert api["image"] == services["migrate"]["image"]
    assert "build" not in api
    # Longer than the drain and gunicorn's graceful timeout together.
    assert api["stop_grace_period"] == "30s"
    # Secrets come from .env (see .env.example), never from this file.
    text = (ROOT / "docker-compose.yml").read_text()
    assert "employees:employees@" not in text
    assert "${POSTGRES_PASSWORD" in text and "${REDIS_PASSWORD" in text
    redis_command = " ".join(services["redis"]["command"])
    assert "--requirepass" in redis_command and "noeviction" in redis_command
    example = (ROOT / ".env.example").read_text()
    assert all(
        f"\n{name}=\n" in example for name in ("SECRET_KEY", "POSTGRES_PASSWORD")
    )
    # pg_isready over TCP, not the socket the first-boot server answers early.
    assert "-h 127.0.0.1" in services["postgres"]["healthcheck"]["test"][1]
    assert (
        services["migrate"]["environment"]["DATABASE_URL"]
        == (services["api"]["environment"]["DATABASE_URL"])
    )
