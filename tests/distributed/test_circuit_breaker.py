"""The circuit breaker in front of Redis, on a fake clock."""

from __future__ import annotations

import logging
import threading

import pytest

from adapters.breaker import BreakerOpen, CircuitBreaker
from adapters.redis.client import (
    REDIS_FAILURES,
    DeploymentError,
    failure_reason,
    opens_at_once,
)
from tests.support.clocks import ManualClock

COOLDOWN = 2.0
THRESHOLD = 1  # most tests look at one outage; the threshold has its own test


class Backend:
    """An operation that answers or fails as the test says, counting its calls."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if not self.up:
            raise ConnectionRefusedError("nothing listens")
        return "answer"


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def breaker(fake_clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(
        "Redis", (OSError,), COOLDOWN, threshold=THRESHOLD, clock=fake_clock
    )


def trip(breaker: CircuitBreaker, backend: Backend) -> None:
    backend.up = False
    with pytest.raises(BreakerOpen):
        breaker.call(backend)


def test_a_closed_breaker_passes_calls_and_answers_through(
    breaker: CircuitBreaker, backend: Backend
) -> None:
    assert [breaker.call(backend) for _ in range(3)] == ["answer"] * 3
    assert backend.calls == 3
    assert not breaker.is_open


def test_a_failure_opens_the_breaker_and_is_reported_as_breaker_open(
    breaker: CircuitBreaker, backend: Backend
) -> None:
    backend.up = False
    with pytest.raises(BreakerOpen) as raised:
        breaker.call(backend)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert breaker.is_open


def test_while_open_calls_fail_fast_without_touching_the_backend(
    breaker: CircuitBreaker, backend: Backend, fake_clock: ManualClock
) -> None:
    trip(breaker, backend)
    backend.up = True  # even once it is back, nobody asks it before the cooldown
    for _ in range(5):
        fake_clock.advance(COOLDOWN / 10)
        with pytest.raises(BreakerOpen):
            breaker.call(backend)
    assert backend.calls == 1


def test_after_the_cooldown_one_call_probes_and_success_closes_the_breaker(
    breaker: CircuitBreaker, backend: Backend, fake_clock: ManualClock
) -> None:
    trip(breaker, backend)
    backend.up = True
    fake_clock.advance(COOLDOWN)
    assert breaker.call(backend) == "answer"
    assert not breaker.is_open
    assert [breaker.call(backend) for _ in range(3)] == ["answer"] * 3
    assert backend.calls == 5


def test_a_failed_probe_keeps_it_open_for_another_cooldown(
    breaker: CircuitBreaker, backend: Backend, fake_clock: ManualClock
) -> None:
    trip(breaker, backend)
    fake_clock.advance(COOLDOWN)
    with pytest.raises(BreakerOpen):
        breaker.call(backend)  # the probe: still down
    assert backend.calls == 2
    backend.up = True
    fake_clock.advance(COOLDOWN / 2)
    with pytest.raises(BreakerOpen):
        breaker.call(backend)
    assert backend.calls == 2
    fake_clock.advance(COOLDOWN / 2)
    assert breaker.call(backend) == "answer"
    assert not breaker.is_open


def test_only_one_probe_runs_while_others_keep_failing_fast(
    breaker: CircuitBreaker, backend: Backend, fake_clock: ManualClock
) -> None:
    trip(breaker, backend)
    fake_clock.advance(COOLDOWN)
    probing = threading.Event()
    release = threading.Event()

    def slow_answer() -> str:
        probing.set()
        assert release.wait(timeout=10)
        return "probe answer"

    results: list[str] = []
    probe = threading.Thread(target=lambda: results.append(breaker.call(slow_answer)))
    probe.start()
    assert probing.wait(timeout=10)
    backend.up = True
    for _ in range(3):  # while the probe is out, others do not reach the backend
        with pytest.raises(BreakerOpen):
            breaker.call(backend)
    release.set()
    probe.join(timeout=10)
    assert results == ["probe answer"]
    assert backend.calls == 1
    assert breaker.call(backend) == "answer"


def test_errors_that_are_not_backend_failures_pass_through_and_do_not_open_it(
    breaker: CircuitBreaker,
) -> None:
    def bug() -> str:
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        breaker.call(bug)
    assert not breaker.is_open


def test_each_transition_is_logged_once_however_many_calls_fail(
    breaker: CircuitBreaker,
    backend: Backend,
    fake_clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.breaker")
    trip(breaker, backend)
    for _ in range(20):
        with pytest.raises(BreakerOpen):
            breaker.call(backend)  # failing fast
    for _ in range(3):
        fake_clock.advance(COOLDOWN)
        with pytest.raises(BreakerOpen):
            breaker.call(backend)  # failed probes
    backend.up = True
    fake_clock.advance(COOLDOWN)
    for _ in range(5):
        breaker.call(backend)
    messages = [r.getMessage() for r in caplog.records if r.name == "adapters.breaker"]
    assert len(messages) == 2, messages
    assert messages[0].startswith("Redis unavailable")
    assert "nothing listens" in messages[0]
    assert messages[1].startswith("Redis answers again")
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_it_opens_only_after_threshold_failures_in_a_row(
    fake_clock: ManualClock, backend: Backend
) -> None:
    breaker = CircuitBreaker(
        "Redis", (OSError,), COOLDOWN, threshold=3, clock=fake_clock
    )
    backend.up = False
    for _ in range(2):
        with pytest.raises(BreakerOpen):
            breaker.call(backend)
    assert not breaker.is_open  # one blip does not switch the cache and limiter off
    backend.up = True
    breaker.call(backend)  # a success resets the count
    backend.up = False
    for expected_open in (False, False, True):
        with pytest.raises(BreakerOpen):
            breaker.call(backend)
        assert breaker.is_open is expected_open
    assert backend.calls == 6


def test_a_forced_call_tries_the_backend_even_while_open(
    breaker: CircuitBreaker, backend: Backend
) -> None:
    trip(breaker, backend)
    backend.up = True
    assert breaker.call(backend, force=True) == "answer"
    # It may have reached only the shards that answer: a probe closes it.
    assert breaker.is_open


def redis_like(fake_clock: ManualClock, probe: Backend) -> CircuitBreaker:
    """As redis_breaker makes it: deployment errors, a probe of its own."""
    return CircuitBreaker(
        "Redis", REDIS_FAILURES, COOLDOWN, clock=fake_clock,
        at_once=opens_at_once, reason_of=failure_reason, probe=probe,
    )  # fmt: skip


def test_a_lasting_deployment_error_opens_at_once_a_passing_one_counts(
    fake_clock: ManualClock,
) -> None:
    """OOM does not pass between two calls; TRYAGAIN (a slot mid-migration)
    does: it counts toward the threshold like a timeout."""
    breaker = redis_like(fake_clock, Backend())

    def fails(error: Exception) -> None:
        def operation() -> None:
            raise error

        with pytest.raises(BreakerOpen):
            breaker.call(operation)

    for _ in range(2):
        fails(DeploymentError("tryagain", "TRYAGAIN", lasting=False))
        assert not breaker.is_open
        breaker.call(lambda: None)  # a success in between: it passed
    fails(DeploymentError("oom", "OOM command not allowed (from 10.0.0.5:6379)",
                          hint="Redis refuses writes: it is at maxmemory"))  # fmt: skip
    assert breaker.is_open
    # Readiness hears what is wrong, not where (it needs no key).
    assert breaker.trouble == "oom: Redis refuses writes: it is at maxmemory"


def test_only_the_probe_closes_it_and_a_forced_call_still_tries_when_it_fails(
    fake_clock: ManualClock, backend: Backend
) -> None:
    probe = Backend()
    breaker = redis_like(fake_clock, probe)
    for _ in range(3):  # three timeouts or refusals in a row open it
        trip(breaker, backend)
    assert breaker.is_open
    backend.up, probe.up = True, False
    fake_clock.advance(COOLDOWN)
    assert breaker.call(backend, force=True) == "answer"  # tried, though...
    assert probe.calls == 1 and breaker.is_open  # ...the probe failed
    fake_clock.advance(COOLDOWN)
    with pytest.raises(BreakerOpen):
        breaker.call(backend)  # not forced: the failed probe stops it
    probe.up = True
    fake_clock.advance(COOLDOWN)
    assert breaker.call(backend) == "answer"
    assert not breaker.is_open
