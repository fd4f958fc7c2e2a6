"""`employee-api import` and `export` against running instances (gunicorn,
SQLite, auth on): 100,000 rows, a kill halfway and a rerun, the progress
bar in a terminal, a round trip into an empty database, a bad row."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sql.database import open_database
from tests.distributed.support import Instance
from tests.support import services
from tests.support.paths import ROOT
from tests.support.polling import poll
from tests.support.processes import EMPLOYEE_API, employee_api
from tests.support.services import empty_database

SECRET = "transfer-secret-transfer-secret-0123456789"
ROWS = 100_000


class Service:
    def __init__(
        self, directory: Path, database: str | None = None, **env: str
    ) -> None:
        """database: a PostgreSQL URL (emptied first), else a SQLite file."""
        directory.mkdir(parents=True, exist_ok=True)
        if database is None:
            database = f"sqlite:///{directory / 'service.sqlite3'}"
        else:
            empty_database(database)
        self.db = open_database(database)
        self.env = {"DATABASE_URL": database, "SECRET_KEY": SECRET,
                    "LOG_LEVEL": "warning", **env}  # fmt: skip
        employee_api("migrate", env=self.env, check=True)
        quotas = [
            "--quota",
            "employees=9999999/minute",
            "--quota",
            "managers=9999/minute",
        ]
        create = ["keys", "create", "--name", "loader", "--scopes", "read,write"]
        made = employee_api(*create, *quotas, env=self.env, check=True)
        self.token = made.stdout.strip().splitlines()[-1]
        self.instance = Instance({**self.env, "AUTH_DISABLED": "0"},
                                 directory / "service.log").start()  # fmt: skip
        self.url = f"http://127.0.0.1:{self.instance.port}"

    def count(self, table: str = "employee", what: str = "*") -> int:
        (n,) = self.db.execute_sql(f"SELECT count({what}) FROM {table}").fetchone()
        return int(n)

    def stop(self) -> None:
        self.instance.stop()
        self.db.close()

    def client_env(self) -> dict[str, str]:
        return {"EMPLOYEE_API_KEY": self.token, "LOG_LEVEL": "warning"}

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return employee_api(*args, "--url", self.url, env=self.client_env(),
                            timeout=timeout)  # fmt: skip


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "a")
    yield running
    running.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def any_service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """On SQLite; and on PostgreSQL and Redis, as in production."""
    if request.param == "sqlite":
        running = Service(tmp_path / "a")
    else:
        url: str = request.getfixturevalue("postgres_url")
        request.getfixturevalue("redis_db")  # the shared Redis, flushed after
        running = Service(tmp_path / "a", url, REDIS_URL=services.REDIS_URL)
    yield running
    running.stop()


def people_csv(path: Path, rows: int, bad_line: int | None = None) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "email", "title", "department"])
        for i in range(rows):
            email = "not-an-email" if bad_line == i + 2 else f"person{i}@example.com"
            writer.writerow([f"Person {i}", email, "Engineer", f"D{i % 10}"])
    return path


def test_a_killed_import_run_again_creates_each_record_exactly_once(
    any_service: Service, tmp_path: Path
) -> None:
    service = any_service
    source = people_csv(tmp_path.with_name(tmp_path.name + "-in.csv"), ROWS)
    command = [*EMPLOYEE_API, "import", str(source), "--url", service.url]
    env = {**os.environ, **service.client_env()}
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        poll(lambda: service.count() >= ROWS // 3, within=120,
             what="a third of the import", every=0.05)  # fmt: skip
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    halfway = service.count()
    assert 0 < halfway < ROWS, halfway
    again = service.run("import", str(source))
    assert again.returncode == 0, again.stderr
    assert f"imported {ROWS:,} employees" in again.stdout
    assert "created by an earlier run" in again.stdout
    assert service.count() == ROWS
    assert service.count("employee", "DISTINCT email") == ROWS
    assert service.count("change") == ROWS  # one change each, none twice


def test_the_progress_bar_shows_in_a_terminal_and_not_in_a_pipe(
    service: Service, tmp_path: Path
) -> None:
    source = people_csv(tmp_path / "some.csv", 5_000)
    controller, terminal = pty.openpty()
    # A terminal has a size (a new pseudo-terminal's is 0 x 0: no room for a bar).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, **service.client_env()}
    command = [*EMPLOYEE_API, "import", str(source), "--url", service.url,
               "--batch-size", "500"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=terminal,
                               stdout=terminal, stderr=terminal)  # fmt: skip
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=30) == 0
    os.close(controller)
    text = seen.decode(errors="replace")
    assert "importing some.csv" in text and "5000/5000" in text, text[-2000:]
    assert "records/s" in text and "<" in text  # a rate and an ETA
    piped = service.run("import", str(source), "--batch-size", "500")  # replayed
    assert piped.returncode == 0 and "records/s" not in piped.stderr


def test_export_then_import_into_an_empty_database_round_trips(
    service: Service, tmp_path: Path
) -> None:
    service.run("import", str(people_csv(tmp_path / "in.csv", 1_200)))
    managers = tmp_path / "managers.jsonl"
    managers.write_text("".join(json.dumps({"name": f"M{i}", "email": f"m{i}@x.io",
                                            "department": None}) + "\n"
                                for i in range(3)))  # fmt: skip
    assert service.run("import", str(managers), "--kind", "managers").returncode == 0
    other = Service(tmp_path / "b")
    try:
        for kind, name in (("managers", "m.csv"), ("employees", "e.jsonl")):
            out = tmp_path / name
            done = service.run("export", "--kind", kind, "-o", str(out))
            assert done.returncode == 0, done.stderr
            assert other.run("import", str(out), "--kind", kind).returncode == 0
        for kind, name in (("managers", "m2.csv"), ("employees", "e2.jsonl")):
            other.run("export", "--kind", kind, "-o", str(tmp_path / name))
        assert _data(tmp_path / "e.jsonl") == _data(tmp_path / "e2.jsonl")
        assert len(_data(tmp_path / "e.jsonl")) == 1_200
        assert _csv_data(tmp_path / "m.csv") == _csv_data(tmp_path / "m2.csv")
    finally:
        other.stop()


def _data(path: Path) -> list[dict[str, object]]:
    skip = ("id", "created_at", "updated_at")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in skip} for row in rows]


def _csv_data(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as source:
        return [{k: v for k, v in row.items() if k not in ("id", "created_at",
                 "updated_at")} for row in csv.DictReader(source)]  # fmt: skip


def test_a_bad_row_stops_the_import_with_its_line_number(
    service: Service, tmp_path: Path
) -> None:
    source = people_csv(tmp_path / "bad.csv", 2_500, bad_line=1_503)
    done = service.run("import", str(source))
    assert done.returncode == 1
    assert "line 1503: email: not a valid email address" in done.stderr
    assert "lines 1002-2001" in done.stderr
    assert "run the same command again" in done.stderr
    assert service.count() == 1_000  # the batch before it, not its own


def test_without_a_key_it_says_how_to_get_one(service: Service) -> None:
    keyless = {"EMPLOYEE_API_KEY": "", "LOG_LEVEL": "warning"}
    done = employee_api("export", "--url", service.url, env=keyless)
    assert done.returncode == 1
    assert "EMPLOYEE_API_KEY" in done.stderr and "keys create" in done.stderr
