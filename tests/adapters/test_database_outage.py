"""PostgreSQL going away under a running app: 503 with Retry-After, the process
stays up, and it recovers by itself once the database answers again."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
from falcon import testing

import bootstrap
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain.errors import OutcomeUnknown, StorageUnavailable
from entrypoints.http.problems import OUTCOME_UNKNOWN
from settings import AuthSettings, PoolSettings, Settings
from tests.conftest import UNLIMITED
from tests.contracts.test_storage_contract import manager
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def client(proxy: TcpProxy, postgres_url: str) -> testing.TestClient:
    through_proxy = urlsplit(postgres_url)._replace(
        netloc=f"postgres@127.0.0.1:{proxy.port}"
    )
    settings = dataclasses.replace(UNLIMITED, database_url=through_proxy.geturl())
    return testing.TestClient(bootstrap.bootstrap(settings=settings))


def test_a_database_outage_is_503_and_the_app_recovers_by_itself(
    client: testing.TestClient, proxy: TcpProxy, postgres_storage: object
) -> None:
    created = client.simulate_post(
        "/v1/managers", json={"name": "Grace", "email": "grace@example.com"}
    )
    assert created.status_code == 201
    path = created.headers["Location"]
    for _ in range(3):  # several pooled connections in use before the outage
        assert client.simulate_get("/v1/managers").status_code == 200

    proxy.cut()
    # Queries not asked before, so the response cache cannot answer them.
    for method, target in (("GET", "/v1/managers?limit=9"), ("PATCH", path)):
        resp = client.simulate_request(method, target, json={"department": "Ops"})
        assert resp.status_code == 503
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert int(resp.headers["Retry-After"]) >= 1
        assert "Traceback" not in resp.text and "psycopg2" not in resp.text
    assert client.simulate_get("/health/ready").status_code == 503
    assert client.simulate_get("/health/live").status_code == 200

    proxy.start()
    # The first request after the outage may still meet a broken pooled
    # connection; it is dropped with every idle one, so the next one works.
    statuses = [
        client.simulate_get(f"/v1/managers?limit={n}").status_code for n in (1, 2, 3)
    ]
    assert statuses[-2:] == [200, 200], statuses
    patched = client.simulate_patch(path, json={"department": "Ops"})
    assert patched.status_code == 200
    assert patched.json["version"] == 2
    assert client.simulate_get("/health/ready").status_code == 200


def test_a_statement_timeout_is_503_and_keeps_the_pool_healthy(
    postgres_url: str, postgres_storage: object
) -> None:
    settings = Settings(
        database_url=postgres_url,
        pool=PoolSettings(statement_timeout_ms=300),
        http=UNLIMITED.http,
        auth=UNLIMITED.auth,
    )
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    grace = client.simulate_post(
        "/v1/managers", json={"name": "Grace", "email": "grace@example.com"}
    ).json
    blocker = open_database(postgres_url)
    blocker.connect()
    blocker.begin()
    blocker.execute_sql(
        "SELECT id FROM manager WHERE id = %s FOR UPDATE", (grace["id"],)
    )
    try:  # the row is locked elsewhere: our write waits past the timeout
        slow = client.simulate_patch(
            f"/v1/managers/{grace['id']}", json={"department": "Ops"}
        )
    finally:
        blocker.rollback()
        blocker.close_all()
    assert slow.status_code == 503
    assert int(slow.headers["Retry-After"]) >= 1
    done = client.simulate_patch(
        f"/v1/managers/{grace['id']}", json={"department": "Ops"}
    )
    assert done.status_code == 200
    assert done.json["version"] == 2


def test_a_database_that_refuses_writes_is_503_not_500(
    postgres_url: str, postgres_storage: object
) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")
    admin = open_database(postgres_url)
    admin.execute_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        client = testing.TestClient(
            bootstrap.bootstrap(
                settings=dataclasses.replace(UNLIMITED, database_url=postgres_url)
            )
        )
        resp = client.simulate_post(
            "/v1/managers", json={"name": "Grace", "email": "grace@example.com"}
        )
        assert resp.status_code == 503
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert client.simulate_get("/v1/managers").status_code == 200  # reads work
    finally:
        admin.execute_sql(
            f'ALTER DATABASE "{name}" RESET default_transaction_read_only'
        )
        admin.close_all()


def through(proxy: TcpProxy, postgres_url: str) -> Settings:
    """The app's settings with its database behind the proxy, and a short
    deadline: the statement timeout 0.3 s, so 2.3 s in all."""
    through_proxy = urlsplit(postgres_url)._replace(
        netloc=f"postgres@127.0.0.1:{proxy.port}"
    )
    return Settings(
        database_url=through_proxy.geturl(),
        pool=PoolSettings(statement_timeout_ms=300),
        http=UNLIMITED.http,
        auth=UNLIMITED.auth,
    )


def test_a_database_that_stops_answering_is_503_within_the_deadline_not_a_hang(
    proxy: TcpProxy, postgres_url: str, postgres_storage: object
) -> None:
    settings = through(proxy, postgres_url)
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    assert client.simulate_get("/v1/managers?limit=1").status_code == 200

    proxy.freeze()  # connections stay open; nothing comes back
    started = time.monotonic()
    hung = client.simulate_get("/v1/managers?limit=2")
    waited = time.monotonic() - started
    proxy.thaw()
    assert hung.status_code == 503
    assert waited < 10, waited  # bounded by the deadline, not forever
    statuses = [
        client.simulate_get(f"/v1/managers?limit={n}").status_code for n in (3, 4, 5)
    ]
    assert statuses[-2:] == [200, 200], statuses


def test_a_frozen_database_costs_one_deadline_whatever_the_pool_holds(
    proxy: TcpProxy, postgres_url: str, postgres_storage: object
) -> None:
    """The check-out ping of each idle connection, and the reconnect after
    them, share the unit of work's one deadline (0.3 s + 2 s here): not one
    deadline per pooled connection plus one for the connect."""
    through_proxy = urlsplit(postgres_url)._replace(
        netloc=f"postgres@127.0.0.1:{proxy.port}"
    )
    db = open_database(through_proxy.geturl(), PoolSettings(statement_timeout_ms=300))
    storage = SqlStorage(db)
    together = threading.Barrier(4)

    def hold_a_connection() -> None:
        with storage(write=False):
            db.execute_sql("SELECT 1")
            together.wait(timeout=10)

    holders = [threading.Thread(target=hold_a_connection) for _ in range(4)]
    for thread in holders:
        thread.start()
    for thread in holders:
        thread.join()
    assert db.in_use_and_idle() == (0, 4)  # four idle connections, each to be pinged

    proxy.freeze()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable), storage(write=False):
        db.execute_sql("SELECT 1")
    waited = time.monotonic() - started
    proxy.thaw()
    assert 2.3 <= waited < 3.3, waited
    with storage(write=False):
        assert db.execute_sql("SELECT 1").fetchone() == (1,)
    db.close_all()


def test_a_database_without_the_api_key_table_is_503_not_500(
    postgres_url: str, postgres_storage: object
) -> None:
    """Code newer than the schema (a rollout before `migrate`) is an outage."""
    admin = open_database(postgres_url)
    admin.execute_sql("ALTER TABLE api_key RENAME TO api_key_hidden")
    try:
        settings = dataclasses.replace(
            UNLIMITED, database_url=postgres_url, auth=AuthSettings(secret_key="n" * 40)
        )
        client = testing.TestClient(bootstrap.bootstrap(settings=settings))
        token = "ema_0a1b2c3d_" + "A" * 43
        resp = client.simulate_get(
            "/v1/employees", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 503
        assert int(resp.headers["Retry-After"]) >= 1
        assert "RateLimit-Remaining" in resp.headers  # counted by address
    finally:
        admin.execute_sql("ALTER TABLE api_key_hidden RENAME TO api_key")
        admin.close_all()


def test_a_10_s_freeze_logs_two_lines_its_start_and_its_end_with_the_count(
    proxy: TcpProxy,
    postgres_url: str,
    postgres_storage: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every read asks the database.
    settings = dataclasses.replace(through(proxy, postgres_url), response_cache=False)
    client = testing.TestClient(bootstrap.bootstrap(settings=settings))
    assert client.simulate_get("/v1/managers").status_code == 200
    caplog.clear()
    proxy.freeze()
    frozen_until = time.monotonic() + 10
    failed: list[int] = []

    def keep_asking() -> None:
        while time.monotonic() < frozen_until:
            failed.append(client.simulate_get("/v1/managers").status_code)

    askers = [threading.Thread(target=keep_asking) for _ in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    proxy.thaw()
    assert client.simulate_get("/v1/managers").status_code == 200
    assert set(failed) == {503} and len(failed) >= 8, failed
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2, lines
    assert lines[0].startswith("the database stopped answering")
    assert lines[1].startswith("the database answers again")
    assert f"and {len(failed)} failed call(s)" in lines[1]


def proxied_storage(proxy: TcpProxy, postgres_url: str) -> SqlStorage:
    settings = through(proxy, postgres_url)
    return SqlStorage(open_database(settings.database_url, settings.pool))


def test_a_commit_that_goes_unanswered_is_an_unknown_outcome_a_read_is_not(
    proxy: TcpProxy, postgres_url: str, postgres_storage: SqlStorage
) -> None:
    storage = proxied_storage(proxy, postgres_url)
    try:
        with pytest.raises(OutcomeUnknown), storage() as unit:
            unit.managers.add(manager(email="committed@x.io"))
            proxy.freeze()  # the INSERT answered; the COMMIT will not be
            unit.commit()
        proxy.thaw()
        with pytest.raises(StorageUnavailable) as refused, storage(write=False):
            proxy.freeze()
            storage.db.execute_sql("SELECT 1")
        proxy.thaw()
        assert not isinstance(refused.value, OutcomeUnknown)
        with pytest.raises(OutcomeUnknown), storage(alone=True) as unit:
            proxy.freeze()  # a lone INSERT in autocommit: its own commit
            unit.managers.add(manager(email="alone@x.io"))
    finally:
        proxy.thaw()
        storage.close()


def test_an_unanswered_create_is_503_of_the_outcome_unknown_type(
    proxy: TcpProxy, postgres_url: str, postgres_storage: SqlStorage
) -> None:
    storage = proxied_storage(proxy, postgres_url)
    client = testing.TestClient(
        bootstrap.bootstrap(settings=UNLIMITED, storage=storage)
    )
    try:
        assert client.simulate_get("/v1/managers").status_code == 200
        proxy.freeze()
        created = client.simulate_post(
            "/v1/managers", json={"name": "U", "email": "u@x.io"}
        )
        listed = client.simulate_get("/v1/managers?limit=3")
        proxy.thaw()
        assert created.status_code == 503 and listed.status_code == 503
        assert created.json["type"] == OUTCOME_UNKNOWN
        assert "may or may not have been applied" in created.json["detail"]
        assert listed.json["type"] == "about:blank"
    finally:
        proxy.thaw()
        storage.close()


def test_a_create_outliving_its_claim_time_is_never_repeated_by_a_retry(
    postgres_url: str, postgres_storage: SqlStorage
) -> None:
    """Claims last 1 s here and statements as long as they like: a create
    held up 3 s by a table lock keeps its key claimed; the retries meanwhile
    get 409, and one after it the first answer."""
    settings = dataclasses.replace(
        UNLIMITED,
        database_url=postgres_url,
        pool=PoolSettings(statement_timeout_ms=0),
        http=dataclasses.replace(UNLIMITED.http, idempotency_claim_seconds=1),
    )
    storage = SqlStorage(open_database(postgres_url, settings.pool))
    client = testing.TestClient(bootstrap.bootstrap(settings=settings, storage=storage))
    headers = {"Idempotency-Key": "slow-create"}
    body = {"name": "Slow", "email": "slow@x.io"}
    locker = psycopg2.connect(postgres_url)
    try:
        with locker.cursor() as cursor:  # holds every insert into manager
            cursor.execute("LOCK TABLE manager IN ACCESS EXCLUSIVE MODE")
        first: list[Any] = []
        creating = threading.Thread(
            target=lambda: first.append(
                client.simulate_post("/v1/managers", json=body, headers=headers)
            )
        )
        creating.start()
        # Three claim times on, the lock goes and the create goes through.
        release = threading.Timer(3, locker.rollback)
        release.start()
        retries = []
        while creating.is_alive():
            retries.append(
                client.simulate_post("/v1/managers", json=body, headers=headers)
            )
        release.join()
    finally:
        locker.close()
    assert first[0].status_code == 201
    in_progress = "A request with this Idempotency-Key is still in progress."
    for retry in retries:  # held off while it runs; its answer once it is done
        if retry.status_code == 409:
            assert retry.json["detail"] == in_progress
        else:
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert (retry.status_code, retry.json) == (201, first[0].json)
    assert retries[0].status_code == 409
    replay = client.simulate_post("/v1/managers", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json == first[0].json
    assert replay.headers["Idempotent-Replayed"] == "true"
    listed = client.simulate_get("/v1/managers").json["items"]
    assert [m["email"] for m in listed] == ["slow@x.io"]
    storage.close()
