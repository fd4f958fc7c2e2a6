"""The RateLimiter port's contract, run against the in-memory and the Redis adapter.

GCRA: quota.limit requests at once, then one more every window / limit (one
"interval"); rejected requests are not counted. The memory adapter runs on a
fake clock; the Redis adapter keeps time by Redis's own clock, so its tests
let real time pass in bounded loops and check numbers within a second's
tolerance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from adapters.memory.rate_limiter import MemoryRateLimiter
from adapters.redis.rate_limiter import RedisRateLimiter
from domain.api_keys import Quota
from domain.ports import RateDecision, RateLimiter
from tests.support.clocks import ManualClock
from tests.support.polling import wait_for
from tests.support.redis_clients import REDIS_KINDS, redis_of_kind, service_redis

MINUTE = Quota(5, 60)


@dataclass
class Subject:
    limiter: RateLimiter
    pass_time: Callable[[float], None]
    elapsed: Callable[[], float]  # seconds since the subject was made

    def hit_until_allowed(self, key: str, quota: Quota, within: float) -> RateDecision:
        """Hit every 50 ms of (fake or real) time until one is allowed."""
        start = self.elapsed()
        while True:
            decision = self.limiter.hit(key, quota)
            if decision.allowed:
                return decision
            assert self.elapsed() - start < within, "the window never slid"
            self.pass_time(0.05)


@pytest.fixture(params=["memory", *REDIS_KINDS])
def subject(
    request: pytest.FixtureRequest, fake_clock: ManualClock
) -> Iterator[Subject]:
    if request.param == "memory":
        start = fake_clock()
        yield Subject(
            MemoryRateLimiter(clock=fake_clock),
            fake_clock.advance,
            lambda: fake_clock() - start,
        )
        return
    made = redis_of_kind(request, request.param)
    client = made.client
    began = time.monotonic()
    yield Subject(
        RedisRateLimiter(made.lane, made.breaker),
        wait_for,
        lambda: time.monotonic() - began,
    )
    client.close()


def hits(
    limiter: RateLimiter, n: int, key: str = "c", quota: Quota = MINUTE
) -> list[RateDecision]:
    return [limiter.hit(key, quota) for _ in range(n)]


def test_exactly_the_limit_is_allowed_then_every_request_is_rejected(
    subject: Subject,
) -> None:
    decisions = hits(subject.limiter, 8)
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3


def test_remaining_counts_down_to_zero_and_stays_there(subject: Subject) -> None:
    decisions = hits(subject.limiter, 7)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {5}


def test_allowed_requests_need_no_retry_and_rejected_ones_say_when(
    subject: Subject,
) -> None:
    decisions = hits(subject.limiter, 7)
    assert [d.retry_after_seconds for d in decisions[:5]] == [0] * 5
    for rejected in decisions[5:]:
        assert 1 <= rejected.retry_after_seconds <= 60


def test_reset_is_the_time_until_the_whole_quota_is_back(subject: Subject) -> None:
    decisions = hits(subject.limiter, 7)
    # 5 a minute: each counted request takes 12 s to be given back; a rejected
    # one changes nothing.
    expected = [12, 24, 36, 48, 60, 60, 60]
    for decision, seconds in zip(decisions, expected, strict=True):
        assert seconds - 1 <= decision.reset_seconds <= seconds
    assert decisions[0].reset_seconds == 12


def test_a_hit_of_several_counts_them_all_or_none(subject: Subject) -> None:
    three = subject.limiter.hit("batch", MINUTE, cost=3)
    assert (three.allowed, three.remaining) == (True, 2)
    assert 35 <= three.reset_seconds <= 36
    refused = subject.limiter.hit("batch", MINUTE, cost=3)
    assert not refused.allowed
    # One more request fits in 12 s (an interval); three more need 12 s: the
    # one still over the quota's five is back then.
    assert 11 <= refused.retry_after_seconds <= 12
    assert subject.limiter.hit("batch", MINUTE, cost=2).remaining == 0  # none lost
    assert not subject.limiter.hit("batch", MINUTE).allowed


def test_a_hit_of_the_whole_quota_waits_for_all_of_it(subject: Subject) -> None:
    assert subject.limiter.hit("all", MINUTE).allowed
    whole = subject.limiter.hit("all", MINUTE, cost=5)
    assert not whole.allowed
    assert 11 <= whole.retry_after_seconds <= 12
    assert subject.limiter.hit("fresh", MINUTE, cost=5).allowed


def test_each_key_has_its_own_quota(subject: Subject) -> None:
    assert all(d.allowed for d in hits(subject.limiter, 5, key="employees:ip:a"))
    assert not subject.limiter.hit("employees:ip:a", MINUTE).allowed
    fresh = hits(subject.limiter, 5, key="employees:ip:b")
    assert all(d.allowed for d in fresh)
    assert fresh[0].remaining == 4
    assert subject.limiter.hit("managers:ip:a", MINUTE).remaining == 4


def test_a_spent_quota_refills_one_request_per_interval(subject: Subject) -> None:
    quota = Quota(2, 2)  # two at once, then one a second
    assert subject.limiter.hit("c", quota).allowed
    assert subject.limiter.hit("c", quota).allowed
    rejected = subject.limiter.hit("c", quota)
    assert not rejected.allowed
    assert rejected.retry_after_seconds == 1
    # Rejected hits every 50 ms do not push the refill back: one request is
    # allowed an interval after the burst, not a window...
    again = subject.hit_until_allowed("c", quota, within=3)
    assert 0.95 <= subject.elapsed() < 1.9
    assert again.remaining == 0
    # ...and only one.
    after = subject.limiter.hit("c", quota)
    assert not after.allowed
    assert after.retry_after_seconds == 1


def test_a_burst_of_concurrent_hits_allows_exactly_the_limit(subject: Subject) -> None:
    quota = Quota(15, 60)
    callers = 40
    barrier = threading.Barrier(callers)
    decisions: list[RateDecision] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait(timeout=10)
        decision = subject.limiter.hit("employees:ip:burst", quota)
        with lock:
            decisions.append(decision)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(decisions) == callers
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 15
    # Each allowed hit saw its own count: no two read the log at the same time.
    assert sorted(d.remaining for d in allowed) == list(range(15))
    assert all(d.retry_after_seconds >= 1 for d in decisions if not d.allowed)


# The memory adapter on its fake clock: the numbers, exactly.


def test_the_memory_limiter_numbers_follow_gcra_exactly(
    fake_clock: ManualClock,
) -> None:
    limiter = MemoryRateLimiter(clock=fake_clock)
    quota = Quota(2, 60)  # one interval: 30 s
    start = fake_clock()
    assert limiter.hit("c", quota) == RateDecision(True, 2, 1, 30, 0)
    fake_clock.advance(15)
    assert limiter.hit("c", quota) == RateDecision(True, 2, 0, 45, 0)
    fake_clock.advance(10)  # 25 s in: the first interval ends at 30 s
    assert limiter.hit("c", quota) == RateDecision(False, 2, 0, 35, 5)
    fake_clock.advance(start + 30 - fake_clock())
    assert limiter.hit("c", quota) == RateDecision(True, 2, 0, 60, 0)
    fake_clock.advance(1)
    assert limiter.hit("c", quota) == RateDecision(False, 2, 0, 59, 29)
    fake_clock.advance(start + 90 - fake_clock())  # idle a whole window: whole
    assert limiter.hit("c", quota) == RateDecision(True, 2, 1, 30, 0)


def test_a_large_quota_is_exact_at_its_edge(fake_clock: ManualClock) -> None:
    """Rounding never lets the (N+1)th request of a burst through, nor stops
    the Nth."""
    limiter = MemoryRateLimiter(clock=fake_clock)
    for limit in (7, 1000, 30_000):
        quota = Quota(limit, 60)
        decisions = [limiter.hit(f"k{limit}", quota) for _ in range(limit + 1)]
        assert [d.allowed for d in decisions[-2:]] == [True, False], limit


# Redis only: the quota is one for every instance, and the log cleans up.


def test_two_instances_on_one_redis_share_one_quota(redis_db: redis.Redis) -> None:
    made = [service_redis(), service_redis()]
    limiters = [RedisRateLimiter(m.lane, m.breaker) for m in made]
    decisions = [limiters[i % 2].hit("employees:ip:a", MINUTE) for i in range(10)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 5
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    for m in made:
        m.client.close()


def test_the_redis_state_is_one_small_key_that_expires_when_whole(
    redis_db: redis.Redis,
) -> None:
    made = service_redis()
    client = made.client
    limiter = RedisRateLimiter(made.lane, made.breaker)
    limiter.hit("c", Quota(3, 30))  # given back in 10 s
    (key,) = redis_db.keys("ema:rl:*")
    assert 9_000 <= redis_db.pttl(key) <= 10_000
    # Whatever the quota, one client holds one key of the same small size.
    sizes = []
    for limit in (10, 1_000, 100_000):
        name = f"q{limit}"
        for _ in range(min(limit, 2_000)):
            limiter.hit(name, Quota(limit, 60))
        sizes.append(redis_db.memory_usage(f"ema:rl:{name}"))
    assert len(set(sizes)) == 1 and sizes[0] < 100, sizes
    client.close()


def test_a_large_redis_quota_is_exact_at_its_edge(redis_db: redis.Redis) -> None:
    made = service_redis()
    client = made.client
    limiter = RedisRateLimiter(made.lane, made.breaker)
    quota = Quota(2_000, 86_400)  # no request is given back during the burst
    allowed = [limiter.hit("edge", quota).allowed for _ in range(2_001)]
    assert allowed.count(True) == 2_000 and not allowed[-1]
    client.close()


@pytest.mark.parametrize("clock_at", [1021.655650859, 2047.3])
def test_the_memory_limiter_reports_whole_seconds_without_float_noise(
    clock_at: float,
) -> None:
    limiter = MemoryRateLimiter(clock=ManualClock(clock_at))
    decisions = [limiter.hit("c", Quota(3, 60)) for _ in range(3)]
    assert [d.reset_seconds for d in decisions] == [20, 40, 60]


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_a_refused_client_costs_redis_nothing_until_its_retry_after(
    request: pytest.FixtureRequest, kind: str
) -> None:
    """Answered from the process's memory (domain/refusals.py): the same
    refusal, with no command sent; the first hit after it goes to Redis."""
    made = redis_of_kind(request, kind)
    sent = CountingLane(made.lane)
    limiter = RedisRateLimiter(sent, made.breaker)  # type: ignore[arg-type]
    quota = Quota(2, 4)  # one back every 2 s
    assert [d.allowed for d in hits(limiter, 3, quota=quota)] == [True, True, False]
    before = sent.calls
    refused = hits(limiter, 50, quota=quota)
    assert not any(d.allowed for d in refused) and sent.calls == before
    assert {d.retry_after_seconds for d in refused} <= {1, 2}
    again = subject_hit_until_allowed(limiter, quota, within=4)
    assert again.allowed and sent.calls > before
    made.client.close()


class CountingLane:
    """The real lane, counting the scripts run through it."""

    def __init__(self, lane: Any) -> None:
        self._lane = lane
        self.calls = 0

    def script(self, source: str) -> Any:
        script = self._lane.script(source)

        def counted(keys: Any, args: Any) -> Any:
            self.calls += 1
            return script(keys, args)

        return counted


def subject_hit_until_allowed(
    limiter: RateLimiter, quota: Quota, within: float
) -> RateDecision:
    began = time.monotonic()
    while not (decision := limiter.hit("c", quota)).allowed:
        assert time.monotonic() - began < within, "never allowed again"
        wait_for(0.05)
    return decision
