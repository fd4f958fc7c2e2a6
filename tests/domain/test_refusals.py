"""The refusal memo on a manual clock: what it vouches for, and for how long."""

from __future__ import annotations

from domain.api_keys import Quota
from domain.ports.rate_limiter import RateDecision
from domain.refusals import MAX_REMEMBERED, RefusalMemo
from tests.support.clocks import ManualClock

QUOTA = Quota(10, 60)
REFUSED = RateDecision(False, 10, 0, reset_seconds=58, retry_after_seconds=4)
ALLOWED = RateDecision(True, 10, 3, reset_seconds=40, retry_after_seconds=0)


def test_a_refusal_holds_until_its_retry_after_and_counts_down() -> None:
    clock = ManualClock()
    memo = RefusalMemo(clock)
    assert memo.refusal("c", QUOTA, 1) is None
    memo.note("c", QUOTA, 1, REFUSED)
    assert memo.refusal("c", QUOTA, 1) == REFUSED
    clock.advance(1.5)
    later = memo.refusal("c", QUOTA, 1)
    assert later is not None and not later.allowed
    assert (later.retry_after_seconds, later.reset_seconds) == (3, 57)
    clock.advance(2.5)  # the Retry-After is over: ask the limiter again
    assert memo.refusal("c", QUOTA, 1) is None


def test_only_what_the_refusal_covers_is_vouched_for() -> None:
    memo = RefusalMemo(ManualClock())
    memo.note("c", QUOTA, 5, REFUSED)  # a batch of 5 refused
    assert memo.refusal("c", QUOTA, 1) is None  # one may still fit
    assert memo.refusal("c", QUOTA, 7) is not None
    assert memo.refusal("other", QUOTA, 7) is None
    assert memo.refusal("c", Quota(20, 60), 7) is None  # another quota: its own
    memo.note("d", QUOTA, 1, ALLOWED)
    assert memo.refusal("d", QUOTA, 1) is None


def test_it_stays_bounded_dropping_the_expired_first() -> None:
    clock = ManualClock()
    memo = RefusalMemo(clock)
    memo.note("early", QUOTA, 1, REFUSED)
    clock.advance(1)
    for n in range(MAX_REMEMBERED - 1):
        memo.note(f"c{n}", QUOTA, 1, REFUSED)
    clock.advance(3.5)  # "early" has expired, the others have not
    memo.note("new", QUOTA, 1, REFUSED)
    assert memo.refusal("new", QUOTA, 1) is not None
    assert memo.refusal("c0", QUOTA, 1) is not None
    memo.note("newer", QUOTA, 1, REFUSED)  # full of live ones: the oldest goes
    assert memo.refusal("c0", QUOTA, 1) is None
    assert memo.refusal("newer", QUOTA, 1) is not None
