"""What the Redis adapters send their commands through: a lane. On one Redis
node it is the fast path (adapters/redis/fast_path.py); on a Redis Cluster,
the cluster path (adapters/redis/cluster_path.py), which sends each command
to the primary owning its keys' slot. The adapters do not know which.

Every command's keys must share one slot (hash tags); commands of one
pipeline may use different slots, and a lane sends them all before it reads
a reply, so a pipeline costs one round trip on a cluster as on one node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from adapters.redis.client import deployment_error


class Lane(Protocol):
    def call(self, *args: Any, again: bool = False) -> Any:
        """One command; its reply (bytes, not str). An error reply raises."""

    def pipeline(
        self, commands: Sequence[Sequence[Any]], again: bool = False
    ) -> list[Any]:
        """Several commands in one round trip; their replies in order. An
        error reply raises after every reply is read: a DeploymentError when
        it says the deployment is at fault, else redis.ResponseError.
        again=True: these exact commands recur, so their packing is kept."""

    def script(self, source: str) -> Script:
        """A Lua script, run with EVALSHA; loaded where Redis lacks it."""

    def ping(self) -> None:
        """PING every node the lane sends to; raises as a command would."""

    def probe_keys(self, prefix: str) -> list[str]:
        """Keys under prefix that together land on every primary."""


class Script:
    def __init__(self, lane: Lane, source: str) -> None:
        self._lane = lane
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(
        self, keys: Sequence[str], args: Sequence[Any], again: bool = True
    ) -> Any:
        return self._lane.call(*self.command(keys, args), again=again)

    def command(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        """The EVALSHA to send in a pipeline of the caller's."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


class ScriptBook:
    """The scripts a lane knows, by SHA, so a NOSCRIPT reply (a restarted or
    flushed node, a replica just promoted) is answered by loading it there."""

    def __init__(self) -> None:
        self._sources: dict[str, str] = {}

    def add(self, lane: Lane, source: str) -> Script:
        script = Script(lane, source)
        self._sources[script.sha] = source
        return script

    def unloaded(
        self, commands: Sequence[Sequence[Any]], replies: list[Any]
    ) -> list[int]:
        """The commands whose script the node lacked (and this book has)."""
        return [
            i
            for i, reply in enumerate(replies)
            if isinstance(reply, NoScriptError)
            and commands[i][0] == "EVALSHA"
            and str(commands[i][1]) in self._sources
        ]

    def loads(
        self, commands: Sequence[Sequence[Any]], which: list[int]
    ) -> list[tuple[str, str, str]]:
        """SCRIPT LOAD for each script of those commands, once each."""
        shas = dict.fromkeys(str(commands[i][1]) for i in which)
        return [("SCRIPT", "LOAD", self._sources[sha]) for sha in shas]


def raise_first_error(replies: list[Any], where: str) -> list[Any]:
    """The replies, or the first error among them raised (a DeploymentError
    when its code says the deployment is at fault)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise deployment_error(reply, where) or reply
    return replies
