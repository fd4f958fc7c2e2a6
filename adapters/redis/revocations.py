"""Revocation notices over Redis publish/subscribe: a revoked key is refused
by every process within moments, not after AUTH_CACHE_SECONDS.

Each serving process listens on one channel in a thread of its own. On a
Redis Cluster a notice published on any node reaches every node, so the
listener follows one node and moves to another when that one fails. While
Redis does not answer, notices are lost: the listener says so once, and
forgets every remembered key when it is back (it may have missed some); a
process then trusts a key at most AUTH_CACHE_SECONDS, as without Redis.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence

import redis

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0  # the first pause after a failure; then doubling
RETRY_CAP_SECONDS = 8.0


class RedisRevocations:
    def __init__(
        self, nodes: Callable[[], Sequence[redis.Redis]], channel: str
    ) -> None:
        """nodes: clients of the nodes to publish to and listen on, tried in turn."""
        self._nodes = nodes
        self._turn = itertools.count()
        self._channel = channel
        self._down = False
        self.stopped = threading.Event()  # for tests: end the listener

    def announce(self, key_id: int) -> bool:
        failure: Exception | None = None
        try:
            for node in self._nodes():
                try:
                    node.publish(self._channel, str(key_id))
                    return True
                except redis.RedisError as exc:
                    failure = exc
        except redis.RedisError as exc:  # no node list to be had
            failure = exc
        log.warning("could not announce the revocation of key %d: %s", key_id, failure)
        return False

    def listen(self, forget: Callable[[int | None], None]) -> None:
        threading.Thread(
            target=self._listen, args=(forget,), name="revocations", daemon=True
        ).start()

    def _listen(self, forget: Callable[[int | None], None]) -> None:
        pause = RETRY_SECONDS
        while not self.stopped.is_set():
            try:
                self._follow(forget)
            except Exception as exc:  # a long-lived listener: never dies of one
                if not self._down:  # a new outage: retry soon at first
                    self._down = True
                    pause = RETRY_SECONDS
                    log.warning(
                        "revocation notices unavailable (%s): a revoked key may "
                        "be trusted up to AUTH_CACHE_SECONDS until Redis answers",
                        exc,
                    )
                self.stopped.wait(pause)  # retry timer, not synchronisation
                pause = min(pause * 2, RETRY_CAP_SECONDS)

    def _follow(self, forget: Callable[[int | None], None]) -> None:
        nodes = self._nodes()
        if not nodes:  # a cluster whose slots no primary serves yet
            raise redis.ConnectionError("no Redis node to listen on")
        node = nodes[next(self._turn) % len(nodes)]  # another one after a failure
        pubsub = node.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
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
