"""Configuration: one reader of the environment, every value checked at start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from domain.api_keys import Quota
from settings import (
    MEMORY_URL,
    RedisSettings,
    Settings,
    SettingsError,
    variable_names,
)
from tests.support.paths import ROOT
from tests.support.processes import employee_api

SOURCE_DIRS = ("domain", "adapters", "entrypoints", "settings", "migrations")


def documented_variables(document: str) -> set[str]:
    """The names in the first column of a document's configuration table."""
    text = (ROOT / document).read_text()
    section = text.split("# Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def source_files() -> list[Path]:
    files = [ROOT / "bootstrap.py"]
    for directory in SOURCE_DIRS:
        files += sorted((ROOT / directory).rglob("*.py"))
    return files


def test_the_configuration_table_lists_exactly_the_variables_read() -> None:
    assert documented_variables("docs/configuration.md") == set(variable_names())


def test_the_readme_names_only_variables_the_service_reads() -> None:
    assert documented_variables("README.md") <= set(variable_names())


def test_each_variable_is_named_literally_once_in_the_settings_package() -> None:
    text = "".join(p.read_text() for p in sorted((ROOT / "settings").glob("*.py")))
    for name in variable_names():
        assert text.count(f'"{name}"') == 1, name
    assert len(variable_names()) == len(set(variable_names()))


def test_no_other_module_reads_the_environment() -> None:
    readers = [
        path.relative_to(ROOT)
        for path in source_files()
        if re.search(r"os\.environ(?!\[\"\w+\"\] =)|getenv", path.read_text())
    ]
    assert readers == [Path("settings/config.py")]


def test_nothing_set_gives_the_embedded_default() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///employees.sqlite3"
    assert settings.redis is None
    assert settings.server.workers == 1
    assert settings.server.migrate_on_start


def test_the_original_services_names_still_work() -> None:
    settings = Settings.from_env(
        {
            "POSTGRES_URL": "postgresql://app@db:5432/employees",
            "REDIS_HOST": "cache",
            "REDIS_PORT": "6380",
            "REDIS_PASSWORD": "p@ss/word",
        }
    )
    assert settings.database_url == "postgresql://app@db:5432/employees"
    assert settings.redis is not None
    assert settings.redis.url == "redis://:p%40ss%2Fword@cache:6380/0"
    assert settings.server.workers == 2  # shared state: several workers by default


def test_database_url_wins_over_postgres_url() -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": MEMORY_URL, "POSTGRES_URL": "postgresql://x@y/z"}
    )
    assert settings.database_url == MEMORY_URL


def test_values_are_parsed_into_their_settings() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "REDIS_TIMEOUT_MS": "100",
            "REDIS_BREAKER_COOLDOWN_SECONDS": "0.5",
            "RATE_LIMIT_EMPLOYEES": "5/30s",
            "RATE_LIMIT_FAIL_CLOSED": "true",
            "TRUSTED_PROXIES": "10.0.0.0/8, ::ffff:192.168.0.0/112",
            "MAX_BODY_BYTES": "1024",
            "ACCESS_LOG": "",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_CONTROL_SOCKET": "1",
            "MIGRATE_ON_START": "0",
            "WEB_CONCURRENCY": "4",
        }
    )
    assert settings.redis is not None
    assert settings.redis.timeout_seconds == 0.1
    assert settings.redis.breaker_cooldown_seconds == 0.5
    assert settings.http.rate_limits.quotas["employees"] == Quota(5, 30)
    assert settings.http.rate_limits.quotas["managers"] == Quota(20, 60)
    assert settings.http.rate_limits.fail_closed
    assert [str(n) for n in settings.http.trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.0.0/16",
    ]
    assert settings.http.max_body_bytes == 1024
    assert settings.server.access_log is None
    assert settings.server.log_level == "warning"
    assert settings.server.control_socket
    assert not settings.server.migrate_on_start
    assert settings.server.workers == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("POSTGRES_URL", "not a url"),
        ("DB_POOL_SIZE", "abc"),
        ("DB_POOL_SIZE", "0"),
        ("DB_STATEMENT_TIMEOUT_MS", "-1"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_PORT", "70000"),
        ("REDIS_TIMEOUT_MS", "0"),
        ("REDIS_BREAKER_COOLDOWN_SECONDS", "soon"),
        ("CACHE_TTL_SECONDS", "0"),
        ("RATE_LIMIT_EMPLOYEES", "10 per minute"),
        ("RATE_LIMIT_MANAGERS", "0/minute"),
        ("RATE_LIMIT_FAIL_CLOSED", "maybe"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, not-an-address"),
        ("MAX_BODY_BYTES", "-1"),
        ("MAX_BODY_BYTES", "1e6"),
        ("BIND", "8000"),
        ("WEB_CONCURRENCY", "abc"),
        ("THREADS", "0"),
        ("WORKER_TIMEOUT", "30s"),
        ("GRACEFUL_TIMEOUT", "-5"),
        ("KEEPALIVE", "x"),
        ("LOG_LEVEL", "verbose"),
        ("GUNICORN_CONTROL_SOCKET", "2"),
        ("MIGRATE_ON_START", "sometimes"),
        ("AUTH_DISABLED", "perhaps"),
        ("AUTH_CACHE_SECONDS", "301"),
        ("REDIS_KEY_PREFIX", "has space"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name}={value!r}: must ")
    assert "\n" not in message


def test_previous_secret_keys_are_a_checked_list() -> None:
    secrets = ("a" * 32, "b" * 40)
    settings = Settings.from_env({"SECRET_KEY_PREVIOUS": f"{secrets[0]}, {secrets[1]}"})
    assert settings.auth.previous_secret_keys == secrets
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SECRET_KEY_PREVIOUS": "short"})
    assert "at least 32 characters" in str(refused.value)
    assert "short" not in str(refused.value)  # a secret is never echoed


def test_a_quota_too_large_is_refused_naming_the_maximum() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"RATE_LIMIT_EMPLOYEES": "1000000000/minute"})
    assert "from 1 to 999,999,999" in str(refused.value)
    quotas = Settings.from_env({"RATE_LIMIT_EMPLOYEES": "999999999/minute"})
    assert quotas.http.rate_limits.quotas["employees"].limit == 999_999_999


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("DATABASE_URL", "mysql://app:hunter2@db/x", "'mysql://app:***@db/x'"),
        ("REDIS_URL", "http://:hunter2@cache:6379/0", "'http://:***@cache:6379/0'"),
        ("SECRET_KEY", "hunter2-is-too-short", "<hidden>"),
    ],
)
def test_a_refused_value_never_shows_a_password_or_the_secret(
    name: str, value: str, shown: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    assert str(refused.value).startswith(f"{name}={shown}: must ")
    assert "hunter2" not in str(refused.value)


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:hunter2@db/x",
            "REDIS_URL": "redis://:hunter2@cache:6379/0",
            "SECRET_KEY": "hunter2" * 6,
        }
    )
    assert "hunter2" not in repr(settings)


def test_redis_key_prefixes_differ_per_database_and_can_be_set() -> None:
    def prefix(**env: str) -> str:
        redis = Settings.from_env({"REDIS_URL": "redis://r:6379/0", **env}).redis
        assert redis is not None
        return redis.key_prefix

    one = prefix(DATABASE_URL="postgresql://app:a@db/one")
    assert one == prefix(DATABASE_URL="postgresql://app:b@db/one")  # password aside
    assert one != prefix(DATABASE_URL="postgresql://app:a@db/two")
    assert prefix(DATABASE_URL=MEMORY_URL) != prefix(DATABASE_URL=MEMORY_URL)
    assert prefix(REDIS_KEY_PREFIX="prod-eu:") == "prod-eu:"


def test_cluster_mode_is_a_flag_and_refuses_what_would_defeat_it() -> None:
    def redis(**env: str) -> RedisSettings | None:
        return Settings.from_env({"REDIS_URL": "redis://node:7000/0", **env}).redis

    assert redis() == redis(REDIS_CLUSTER="0")
    on = redis(REDIS_CLUSTER="1")
    assert on is not None and on.cluster
    # A tag in the prefix would pin every key to one slot.
    with pytest.raises(SettingsError, match="must not contain braces"):
        redis(REDIS_CLUSTER="1", REDIS_KEY_PREFIX="{ema}:")
    with pytest.raises(SettingsError, match="database 0"):
        redis(REDIS_CLUSTER="1", REDIS_URL="redis://node:7000/15")


def test_the_redis_pool_has_a_connection_for_every_thread_and_more() -> None:
    def connections(**env: str) -> int:
        redis = Settings.from_env({"REDIS_URL": "redis://r:6379/0", **env}).redis
        assert redis is not None
        return redis.max_connections

    assert connections() == 50  # 8 threads keep 8 of them
    assert connections(THREADS="100") == 116


def test_several_workers_without_redis_are_refused() -> None:
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY=2 needs REDIS_URL"):
        Settings.from_env({"WEB_CONCURRENCY": "2"})


@pytest.mark.parametrize(
    ("name", "value"), [("WEB_CONCURRENCY", "abc"), ("MAX_BODY_BYTES", "-1")]
)
def test_the_command_exits_at_once_with_one_line_naming_the_variable(
    name: str, value: str
) -> None:
    done = employee_api("serve", env={"DATABASE_URL": MEMORY_URL, name: value})
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"employee-api: {name}={value!r}: must be")


def test_gunicorn_started_directly_refuses_a_bad_value_too() -> None:
    config = "python:entrypoints.server.gunicorn_conf"
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", config, "--no-control-socket",
         "--check-config", "bootstrap:get_app()"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": MEMORY_URL, "THREADS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "employee-api: THREADS='0': must be an integer from 1 to 1024" in (
        done.stderr
    )


def test_every_spelling_of_one_database_gets_one_redis_prefix() -> None:
    def prefix(url: str) -> str:
        redis = Settings.from_env(
            {"REDIS_URL": "redis://r:6379/0", "DATABASE_URL": url}
        )
        assert redis.redis is not None
        return redis.redis.key_prefix

    one = prefix("postgresql://app@db/employees")
    for same in (
        "postgres://other:secret@db:5432/employees",
        "postgresql://app@db/employees?sslmode=require",
    ):
        assert prefix(same) == one
    assert prefix("postgresql://app@db2/employees") != one


def test_granian_started_directly_refuses_a_bad_value_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.server.granian_serve"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": MEMORY_URL, "THREADS": "0"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "employee-api: THREADS='0': must be an integer from 1 to 1024"
    )


def test_a_bind_granian_cannot_take_is_refused_naming_it() -> None:
    done = employee_api(
        "serve", "--server", "granian",
        env={"DATABASE_URL": MEMORY_URL, "AUTH_DISABLED": "1", "BIND": "fd://3"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "BIND=fd://... is gunicorn's alone" in done.stderr


def test_gunicorn_options_given_to_granian_are_refused() -> None:
    done = employee_api(
        "serve", "--server", "granian", "--", "--workers", "3",
        env={"DATABASE_URL": MEMORY_URL, "AUTH_DISABLED": "1"},
    )  # fmt: skip
    assert done.returncode == 2
    assert "extra options are gunicorn's: granian takes none" in done.stderr
    assert done.stdout == ""


def test_an_unknown_server_is_refused_naming_the_choices() -> None:
    with pytest.raises(SettingsError, match="SERVER='nginx': must be one of"):
        Settings.from_env({"SERVER": "nginx"})
