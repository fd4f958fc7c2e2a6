"""The RevocationNotices port, against each adapter: a revocation announced
by one process reaches every process that listens."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from adapters.memory.revocations import LocalRevocations
from adapters.redis.cluster_path import ClusterFastPath
from adapters.redis.revocations import RedisRevocations
from domain.ports import RevocationNotices
from tests.support.polling import poll
from tests.support.redis_clients import REDIS_KINDS, redis_of_kind
from tests.support.services import RedisServer


@dataclass(frozen=True)
class Pair:
    announcer: RevocationNotices
    listener: RevocationNotices
    # Whether a listener starts by forgetting all (it may have missed notices
    # before it subscribed): over Redis, once its subscription is in place.
    subscribes: bool


@pytest.fixture(params=["memory", *REDIS_KINDS])
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    if request.param == "memory":
        shared = LocalRevocations()  # one process: one set of listeners
        yield Pair(shared, shared, subscribes=False)
        return
    channel = f"test:revoked:{uuid.uuid4().hex}"
    one, other = (redis_of_kind(request, request.param) for _ in range(2))
    if isinstance(one.lane, ClusterFastPath) and isinstance(
        other.lane, ClusterFastPath
    ):
        # Publisher and listener on different nodes of the cluster.
        first, last = one.lane, other.lane
        a = RedisRevocations(first.clients, channel)
        b = RedisRevocations(lambda: last.clients()[::-1], channel)
    else:
        a = RedisRevocations(lambda: [one.client], channel)
        b = RedisRevocations(lambda: [other.client], channel)
    yield Pair(a, b, subscribes=True)
    for notices in (a, b):
        notices.stopped.set()


def listening(notices: RevocationNotices) -> list[int | None]:
    heard: list[int | None] = []
    notices.listen(heard.append)
    return heard


def until_subscribed(pair: Pair, heard: list[int | None]) -> None:
    if pair.subscribes:
        poll(lambda: None in heard, within=5, what="the listener subscribed")


def test_an_announced_revocation_reaches_a_listener(pair: Pair) -> None:
    heard = listening(pair.listener)
    until_subscribed(pair, heard)
    assert pair.announcer.announce(42) is True
    poll(lambda: 42 in heard, within=1, what="the notice heard")


def test_every_listener_hears_every_notice(pair: Pair) -> None:
    first, second = listening(pair.listener), listening(pair.listener)
    for heard in (first, second):
        until_subscribed(pair, heard)
    for key_id in (1, 2, 3):
        pair.announcer.announce(key_id)
    for heard in (first, second):
        poll(lambda h=heard: [k for k in h if k] == [1, 2, 3], within=1, what="all")


@pytest.mark.redis
def test_with_redis_down_notices_are_said_lost_once_and_resume_forgetting_all(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client = redis.Redis.from_url(own_redis.url, socket_timeout=0.25)
    notices = RedisRevocations(lambda: [client], "revoked")
    heard = listening(notices)
    poll(lambda: heard == [None], within=5, what="subscribed")
    own_redis.stop()
    poll(
        lambda: any("notices unavailable" in r.getMessage() for r in caplog.records),
        within=5,
        what="the loss said",
    )
    own_redis.start()
    poll(lambda: heard.count(None) == 2, within=10, what="forget all on return")
    said = [r.getMessage() for r in caplog.records if "notices" in r.getMessage()]
    assert len(said) == 2 and "resume" in said[1], said  # once each, no flood
    notices.stopped.set()


def test_with_no_node_to_listen_on_yet_the_listener_waits_and_then_listens(
    redis_db: redis.Redis,
) -> None:
    """A cluster whose slots no primary serves yet: the listener retries
    (it does not die), then subscribes once there is a node."""
    nodes: list[redis.Redis] = []
    notices = RedisRevocations(lambda: nodes, f"test:revoked:{uuid.uuid4().hex}")
    heard = listening(notices)
    nodes.append(redis_db)
    poll(lambda: None in heard, within=5, what="the listener subscribed")
    notices.stopped.set()
