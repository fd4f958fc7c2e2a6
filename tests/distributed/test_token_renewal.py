"""The background renewal of dependency tokens after failed invalidations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis

from adapters.redis.cache import RedisCache
from adapters.redis.lane import Lane, Script
from tests.support.polling import poll
from tests.support.redis_clients import service_redis


class InterruptingLane:
    """The real lane; the first token renewal first runs `meanwhile`."""

    def __init__(self, real: Lane) -> None:
        self.real = real
        self.meanwhile: Callable[[], None] = lambda: None
        self.renewals = 0

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        if commands and commands[0][0] == "SET" and "NX" not in commands[0]:
            self.renewals += 1
            if self.renewals == 1:
                self.meanwhile()
        return self.real.pipeline(commands, again)

    def call(self, *args: Any, again: bool = False) -> Any:
        return self.real.call(*args, again=again)

    def script(self, source: str) -> Script:
        return self.real.script(source)

    def ping(self) -> None:
        self.real.ping()


def test_an_invalidation_that_fails_during_a_renewal_gets_a_renewal_of_its_own(
    redis_db: redis.Redis,
) -> None:
    made = service_redis()
    lane = InterruptingLane(made.lane)
    cache = RedisCache(lane, made.breaker)
    # A second write fails to invalidate while the renewal for the first is
    # on its way: the renewal for the first may precede the second's commit.
    lane.meanwhile = lambda: cache._schedule_renewal(["employee:1"])
    cache._schedule_renewal(["employee:1"])
    poll(
        lambda: not cache.renewal_pending,
        within=10,
        what="the pending renewal to finish",
    )
    assert lane.renewals == 2
    assert redis_db.exists("ema:cache:v2:{employee:1}")
    made.client.close()
