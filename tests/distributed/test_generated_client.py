"""A client generated from the live /openapi.json by openapi-python-client (a
pinned dev dependency), driven end to end against a running instance: what
an integrator gets from the document, tried as they would try it."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.distributed.support import Instance
from tests.support.http_clients import ok
from tests.support.processes import employee_api
from tests.support.services import sqlite_url

PACKAGE = "employee_api_client"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    directory = tmp_path_factory.mktemp("generated")
    database = {"DATABASE_URL": sqlite_url(directory / "api.sqlite3")}
    assert employee_api("migrate", env=database).returncode == 0
    generous = {
        "RATE_LIMIT_EMPLOYEES": "1000/minute",
        "RATE_LIMIT_MANAGERS": "1000/minute",
    }
    instance = Instance({**database, **generous}, directory / "gunicorn.log")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def generated(
    running: Instance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    directory = tmp_path_factory.mktemp("client")
    document = directory / "openapi.json"
    http = running.http()
    document.write_bytes(ok(http.get("/openapi.json")).body)
    http.close()
    config = directory / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter needed to import it
    tool = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert tool is not None, "openapi-python-client is a dev dependency"
    done = subprocess.run(
        [tool, "generate", "--path", str(document), "--config", str(config),
         "--meta", "none", "--output-path", str(directory / PACKAGE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{name}")


def model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{package.__name__}.models"), name)


def test_the_generated_client_creates_reads_pages_patches_and_deletes(
    running: Instance, generated: ModuleType
) -> None:
    client = generated.client.AuthenticatedClient(
        base_url=f"http://127.0.0.1:{running.port}", token="no-key-needed-here"
    )
    employee_in, patch = (
        model(generated, "EmployeeIn"),
        model(generated, "EmployeePatch"),
    )
    problem = model(generated, "ProblemBody")
    create = api(generated, "employees.create_employee")
    made = [
        create.sync_detailed(
            client=client, body=employee_in(name=f"E{n}", email=f"e{n}@x.org")
        )
        for n in range(5)
    ]
    assert [m.status_code for m in made] == [201] * 5
    first = made[0].parsed
    got = api(generated, "employees.get_employee").sync_detailed(
        first.id, client=client
    )
    assert got.status_code == 200 and got.parsed.email == "e0@x.org"
    assert got.parsed.created_at.tzinfo is not None  # a date-time, typed as one
    # Pages, following next_cursor.
    listing, seen, cursor = api(generated, "employees.list_employees"), [], None
    while True:
        page = listing.sync(
            client=client, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [item.id for item in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == [m.parsed.id for m in made]
    # PATCH with If-Match: the current ETag passes, a stale one is 412, parsed.
    update = api(generated, "employees.update_employee")
    etag = got.headers["etag"]
    changed = update.sync_detailed(
        first.id, client=client, body=patch(title="Lead"), if_match=etag
    )
    assert changed.status_code == 200 and changed.parsed.title == "Lead"
    stale = update.sync_detailed(
        first.id, client=client, body=patch(title="X"), if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, problem) and stale.parsed.status == 412
    # Join a team, then delete.
    boss = api(generated, "managers.create_manager").sync(
        client=client, body=model(generated, "ManagerIn")(name="B", email="b@x.org")
    )
    joined = api(generated, "teams.join_team").sync(boss.id, first.id, client=client)
    assert joined.manager_id == boss.id
    gone = api(generated, "employees.delete_employee").sync_detailed(
        made[1].parsed.id, client=client
    )
    assert gone.status_code == 204
    missing = api(generated, "employees.get_employee").sync_detailed(
        made[1].parsed.id, client=client
    )
    assert missing.status_code == 404 and isinstance(missing.parsed, problem)
