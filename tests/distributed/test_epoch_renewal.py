"""The background renewal of the cache epoch after failed invalidations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from adapters.redis.cache import RedisCache
from tests.support.polling import poll
from tests.support.redis_clients import service_redis


class InterruptingClient:
    """The real client; the first SET of the epoch first runs `meanwhile`."""

    def __init__(self, real: redis.Redis) -> None:
        self.real = real
        self.meanwhile: Callable[[], None] = lambda: None
        self.epoch_sets = 0

    def set(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name.endswith("epoch"):
            self.epoch_sets += 1
            if self.epoch_sets == 1:
                self.meanwhile()
        return self.real.set(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_invalidation_that_fails_during_a_renewal_gets_a_renewal_of_its_own(
    redis_db: redis.Redis,
) -> None:
    made = service_redis()
    client = InterruptingClient(made.client)
    cache = RedisCache(client, made.breaker)  # type: ignore[arg-type]
    # A second write fails to invalidate while the renewal for the first is
    # on its way: the epoch set for the first may precede the second's commit.
    client.meanwhile = cache._schedule_epoch_bump
    cache._schedule_epoch_bump()
    poll(
        lambda: not cache.epoch_bump_pending,
        within=10,
        what="the pending renewal to finish",
    )
    assert client.epoch_sets == 2
    assert redis_db.exists("ema:cache:v1:epoch")
    client.real.close()
