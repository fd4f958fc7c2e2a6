"""Revocation notices over Redis publish/subscribe: a revoked key is refused
by every process within moments, not after AUTH_CACHE_SECONDS.

Each serving process listens on one channel in a thread of its own. While
Redis does not answer, notices are lost: the listener says so once, and
forgets every remembered key when it is back (it may have missed some); a
process then trusts a key at most AUTH_CACHE_SECONDS, as without Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


class RedisRevocations:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._down = False
        self.stopped = threading.Event()  # for tests: end the listener

    def announce(self, key_id: int) -> bool:
        try:
            self._client.publish(self._channel, str(key_id))
        except redis.RedisError as exc:
            log.warning("could not announce the revocation of key %d: %s", key_id, exc)
            return False
        return True

    def listen(self, forget: Callable[[int | None], None]) -> None:
        threading.Thread(
            target=self._listen, args=(forget,), name="revocations", daemon=True
        ).start()

    def _listen(self, forget: Callable[[int | None], None]) -> None:
        while not self.stopped.is_set():
            try:
                self._follow(forget)
            except (redis.RedisError, OSError, ValueError) as exc:
                if not self._down:
                    self._down = True
                    log.warning(
                        "revocation notices unavailable (%s): a revoked key may "
                        "be trusted up to AUTH_CACHE_SECONDS until Redis answers",
                        exc,
                    )
                self.stopped.wait(RETRY_SECONDS)  # paced retries, not a spin

    def _follow(self, forget: Callable[[int | None], None]) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._channel)
            forget(None)  # notices sent while not listening are lost
            if self._down:
                self._down = False
                log.warning("revocation notices resume")
            while not self.stopped.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    forget(int(message["data"]))
        finally:
            pubsub.close()
