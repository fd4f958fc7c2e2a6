"""The LimitedRead port's contract: the limiter's decision and the cache's
read in one step, as the two ports would answer one after the other. Run
against the separate calls (in memory) and the Redis pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from adapters.memory.cache import MemoryCache
from adapters.memory.limited_read import SeparateLimitedRead
from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.redis.cache import RedisCache
from adapters.redis.limited_read import RedisLimitedRead
from adapters.redis.rate_limiter import RedisRateLimiter
from domain.api_keys import Quota
from domain.ports import Cache, LimitedRead, RateLimiterUnavailable
from tests.support.polling import poll
from tests.support.redis_clients import (
    REDIS_KINDS,
    ServiceRedis,
    redis_of_kind,
    service_redis,
)
from tests.support.services import RedisServer

QUOTA = Quota(3, 60)


@dataclass
class Subject:
    both: LimitedRead
    cache: Cache


def on_redis(made: ServiceRedis) -> tuple[Subject, redis.Redis]:
    lane, breaker = made.lane, made.breaker
    cache, limiter = RedisCache(lane, breaker), RedisRateLimiter(lane, breaker)
    return Subject(RedisLimitedRead(lane, breaker, limiter, cache), cache), made.client


@pytest.fixture(params=["memory", *REDIS_KINDS])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "memory":
        cache = MemoryCache()
        yield Subject(SeparateLimitedRead(MemoryRateLimiter(), cache), cache)
        return
    redis_subject, client = on_redis(redis_of_kind(request, request.param))
    yield redis_subject
    client.close()


def test_the_decisions_are_the_limiters_burst_then_refusal(subject: Subject) -> None:
    decisions = [subject.both.hit_and_read("c", QUOTA, "k", ["d"])[0] for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after_seconds > 0
    # Another client has its own quota.
    assert subject.both.hit_and_read("other", QUOTA, "k", ["d"])[0].allowed


def test_the_read_is_the_caches_miss_fill_hit_and_invalidation(
    subject: Subject,
) -> None:
    quota = Quota(100, 60)
    _, miss = subject.both.hit_and_read("c", quota, "k", ["d"])
    assert miss is not None and (miss.key, miss.value) == ("k", None)
    subject.cache.fill("k", b"entry", miss.stamp)
    _, hit = subject.both.hit_and_read("c", quota, "k", ["d"])
    assert hit is not None and (hit.value, hit.stamp) == (b"entry", miss.stamp)
    assert subject.cache.read("k", ["d"]) == (b"entry", miss.stamp)
    subject.cache.invalidate(["d"])
    _, after = subject.both.hit_and_read("c", quota, "k", ["d"])
    assert after is not None and after.value is None and after.stamp != miss.stamp


def test_a_refused_request_still_reads_and_counts_nothing_more(
    subject: Subject,
) -> None:
    one = Quota(1, 60)
    assert subject.both.hit_and_read("c", one, "k", ["d"])[0].allowed
    refused, found = subject.both.hit_and_read("c", one, "k", ["d"])
    assert not refused.allowed and found is not None


def test_redis_lost_the_script_the_decision_and_the_read_still_come(
    redis_db: redis.Redis,
) -> None:
    subject, client = on_redis(service_redis(timeout_seconds=1))
    assert subject.both.hit_and_read("c", QUOTA, "k", ["d"])[0].allowed
    redis_db.script_flush()
    # The lane loads the script again and sends that command once more.
    decision, found = subject.both.hit_and_read("c", QUOTA, "k", ["d"])
    assert (decision.allowed, decision.remaining) == (True, 1)
    assert found is not None
    client.close()


def test_redis_down_is_no_decision_and_its_return_needs_no_restart(
    own_redis: RedisServer,
) -> None:
    subject, client = on_redis(service_redis(own_redis.url, timeout_seconds=1))
    both = subject.both
    assert both.hit_and_read("c", QUOTA, "k", ["d"])[0].allowed
    own_redis.stop()
    with pytest.raises(RateLimiterUnavailable):
        both.hit_and_read("c", QUOTA, "k", ["d"])
    own_redis.start()
    poll(lambda: _decides(both), within=10, what="a decision once Redis is back")
    # The new Redis had to be given the script again; then both parts come.
    decision, found = both.hit_and_read("c", QUOTA, "k", ["d"])
    assert decision.allowed and found is not None
    client.close()


def _decides(both: LimitedRead) -> bool:
    try:
        both.hit_and_read("c", QUOTA, "k", ["d"])
    except RateLimiterUnavailable:
        return False
    return True
