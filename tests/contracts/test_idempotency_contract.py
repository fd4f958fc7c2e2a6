"""The IdempotencyStore port's contract, against the in-memory and the Redis store.

A key is owned by one request at a time; its answer, once stored, is what
every later request with the same fingerprint gets; a released key is free.
The memory store runs on a fake clock; the Redis store keeps time by Redis's
own, so its expiry test lets real time pass in a bounded poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.redis.idempotency import RedisIdempotencyStore
from domain.ports import ClaimState, IdempotencyStore, StoredResponse
from tests.support.clocks import ManualClock
from tests.support.polling import poll
from tests.support.redis_clients import REDIS_KINDS, redis_of_kind, service_redis

ANSWER = StoredResponse(201, b'{"id":1}', (("Location", "/v1/employees/1"),))


@dataclass
class Subject:
    store: IdempotencyStore
    let_pass: Callable[[float], None]  # make this many seconds go by


@pytest.fixture(params=["memory", *REDIS_KINDS])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "memory":
        clock = ManualClock()
        yield Subject(MemoryIdempotencyStore(clock), clock.advance)
        return
    made = redis_of_kind(request, request.param)
    client = made.client
    store = RedisIdempotencyStore(made.lane, made.breaker)

    def let_pass(seconds: float) -> None:
        probe = f"probe-{seconds}"
        store.claim(probe, "fp", pending_seconds=max(1, int(seconds)))
        poll(
            lambda: store.claim(probe, "fp", 60).state is ClaimState.OWNED,
            within=seconds + 3,
            what="a Redis claim to lapse",
        )

    yield Subject(store, let_pass)
    client.close()


def test_the_first_claim_owns_the_key(subject: Subject) -> None:
    claim = subject.store.claim("k", "fp", 60)
    assert claim.state is ClaimState.OWNED
    assert claim.token


def test_a_second_claim_while_the_first_runs_is_in_flight(subject: Subject) -> None:
    subject.store.claim("k", "fp", 60)
    assert subject.store.claim("k", "fp", 60).state is ClaimState.IN_FLIGHT


def test_another_fingerprint_is_a_mismatch_running_or_done(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", 60)
    assert subject.store.claim("k", "other", 60).state is ClaimState.MISMATCH
    subject.store.complete("k", owned.token, "fp", ANSWER, 3600)
    assert subject.store.claim("k", "other", 60).state is ClaimState.MISMATCH


def test_a_completed_key_replays_its_answer(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", 60)
    subject.store.complete("k", owned.token, "fp", ANSWER, 3600)
    again = subject.store.claim("k", "fp", 60)
    assert again.state is ClaimState.DONE
    assert again.response == ANSWER


def test_a_released_key_is_free_for_a_fresh_attempt(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", 60)
    subject.store.release("k", owned.token)
    assert subject.store.claim("k", "fp", 60).state is ClaimState.OWNED


def test_only_the_owner_completes_or_releases(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", 60)
    subject.store.complete("k", "not-the-token", "fp", ANSWER, 3600)
    subject.store.release("k", "not-the-token")
    assert subject.store.claim("k", "fp", 60).state is ClaimState.IN_FLIGHT
    subject.store.complete("k", owned.token, "fp", ANSWER, 3600)
    subject.store.release("k", owned.token)  # too late: the answer stays
    assert subject.store.claim("k", "fp", 60).state is ClaimState.DONE


def test_keys_are_independent(subject: Subject) -> None:
    subject.store.claim("a", "fp", 60)
    assert subject.store.claim("b", "fp", 60).state is ClaimState.OWNED


def test_an_abandoned_claim_lapses(subject: Subject) -> None:
    subject.store.claim("k", "fp", pending_seconds=1)
    subject.let_pass(1.5)
    assert subject.store.claim("k", "fp", 60).state is ClaimState.OWNED


def test_a_renewed_claim_outlives_its_first_lapse(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", pending_seconds=1)
    assert subject.store.renew("k", owned.token, pending_seconds=5) is True
    subject.let_pass(1.5)
    assert subject.store.claim("k", "fp", 60).state is ClaimState.IN_FLIGHT


def test_only_the_owner_renews_and_only_an_unanswered_claim(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", 60)
    assert subject.store.renew("k", "not-the-token", 60) is False
    assert subject.store.renew("nobody", owned.token, 60) is False
    subject.store.complete("k", owned.token, "fp", ANSWER, 60)
    assert subject.store.renew("k", owned.token, 60) is False
    assert subject.store.claim("k", "fp", 60).state is ClaimState.DONE


def test_a_lapsed_claim_is_not_renewed(subject: Subject) -> None:
    owned = subject.store.claim("k", "fp", pending_seconds=1)
    subject.let_pass(1.5)
    assert subject.store.renew("k", owned.token, 60) is False


def test_of_many_concurrent_claims_exactly_one_owns_the_key(subject: Subject) -> None:
    barrier = threading.Barrier(20)
    states: list[ClaimState] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        state = subject.store.claim("k", "fp", 60).state
        with lock:
            states.append(state)

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert states.count(ClaimState.OWNED) == 1
    assert states.count(ClaimState.IN_FLIGHT) == 19


def test_redis_keys_carry_the_prefix(redis_db: redis.Redis) -> None:
    made = service_redis()
    client = made.client
    store = RedisIdempotencyStore(made.lane, made.breaker, prefix="dep-a:idem:")
    store.claim("k", "fp", 60)
    assert redis_db.keys("*") == [b"dep-a:idem:k"]
    client.close()
