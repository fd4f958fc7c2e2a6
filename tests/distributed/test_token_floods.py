"""A flood of random well-formed tokens from one address costs the database
at most that address's allowance of lookups, and nobody else anything."""

from __future__ import annotations

import secrets
import threading
import time

import peewee as pw
import pytest
from falcon import testing

import bootstrap
from adapters.sql.database import open_database
from adapters.sql.storage import SqlStorage
from domain.api_keys import Quota, Scope
from settings import AuthSettings, HttpSettings, RateLimitSettings, Settings

SECRET = "flood-secret-" + "x" * 32
ALLOWANCE = 30
FLOOD = 2000


def api_key_scans(url: str) -> int:
    """Scans of the api_key table so far, as PostgreSQL counts them."""
    db: pw.Database = open_database(url)
    try:
        db.execute_sql("SELECT pg_stat_clear_snapshot()")
        (scans,) = db.execute_sql(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
            "FROM pg_stat_user_tables WHERE relname = 'api_key'"
        ).fetchone()
        return int(scans)
    finally:
        db.close_all()


@pytest.mark.postgres
def test_random_tokens_cost_at_most_the_allowance_and_valid_keys_nothing(
    postgres_url: str, postgres_storage: SqlStorage
) -> None:
    generous = {"employees": Quota(10**8, 60), "managers": Quota(10**8, 60)}
    settings = Settings(
        database_url=postgres_url,
        auth=AuthSettings(secret_key=SECRET),
        http=HttpSettings(
            rate_limits=RateLimitSettings(generous),
            auth_lookups=Quota(ALLOWANCE, 60),
        ),
    )
    storage = SqlStorage(open_database(postgres_url))
    client = testing.TestClient(bootstrap.bootstrap(settings=settings, storage=storage))
    _, token = bootstrap.key_service(settings, storage).create("good", set(Scope), {})
    good = {"Authorization": f"Bearer {token}"}
    assert client.simulate_get("/v1/managers", headers=good).status_code == 200
    storage.close()  # a backend writes its statistics when it ends
    before = api_key_scans(postgres_url)

    flood_statuses: list[int] = []
    good_latencies: list[float] = []

    def flood() -> None:
        for _ in range(FLOOD):
            random = f"ema_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
            flood_statuses.append(
                client.simulate_get(
                    "/v1/managers",
                    headers={"Authorization": f"Bearer {random}"},
                    remote_addr="203.0.113.7",
                ).status_code
            )

    def good_client() -> None:
        for _ in range(200):
            began = time.monotonic()
            status = client.simulate_get(
                "/v1/managers", headers=good, remote_addr="198.51.100.9"
            ).status_code
            good_latencies.append(time.monotonic() - began)
            assert status == 200

    threads = [threading.Thread(target=flood), threading.Thread(target=good_client)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    storage.close()
    lookups = api_key_scans(postgres_url) - before

    assert flood_statuses.count(401) <= ALLOWANCE, flood_statuses.count(401)
    assert set(flood_statuses) == {401, 429}
    # Each lookup is one scan; a used key's last_used_at costs at most one more.
    assert lookups <= ALLOWANCE + 1, lookups
    good_latencies.sort()
    assert len(good_latencies) == 200
    assert good_latencies[int(len(good_latencies) * 0.99)] < 0.1, good_latencies[-5:]
    metrics = client.simulate_get("/metrics").text
    assert "auth_lookups_refused_total" in metrics
