"""Plain HTTP over loopback, as a client sends it: kept-alive connections
(Http) and one-off requests, answering Replies."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """One keep-alive connection to one server; give each thread its own."""

    def __init__(self, port: int, timeout: float = 15) -> None:
        self.port = port
        self._connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout
        )

    def connect(self) -> None:
        self._connection.connect()

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """body: sent as JSON (with its Content-Type) unless None."""
        data = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        self._connection.request(method, path, body=data, headers=sent)
        response = self._connection.getresponse()
        return Reply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def close(self) -> None:
        self._connection.close()


def request_once(
    port: int,
    method: str,
    path: str,
    *,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One request on a connection of its own, closed after."""
    connection = Http(port, timeout)
    try:
        return connection.request(method, path, body, headers)
    finally:
        connection.close()


def ok(reply: Reply, *statuses: int) -> Reply:
    """The reply, after checking that its status is one of statuses (2xx if none)."""
    expected = statuses or tuple(range(200, 300))
    assert reply.status in expected, (reply.status, reply.body[:300])
    return reply


def http_status(port: int, path: str) -> int | None:
    """Status of GET path on a fresh connection, or None while nothing answers."""
    try:
        return request_once(port, "GET", path, timeout=2).status
    except OSError:
        return None
