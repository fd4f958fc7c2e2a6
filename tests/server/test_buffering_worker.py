"""The buffering worker still speaks HTTP/1.1 whole: pipelined requests,
Expect: 100-continue, chunked bodies and kept-alive connections."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from adapters.sql.database import open_database
from adapters.sql.migrate import apply_migrations
from entrypoints.server.framing import (
    CHUNKED,
    HEAD_LIMIT,
    Inbox,
    Refused,
    body_of,
    chunked_done,
    head_end,
)
from migrations import MIGRATIONS_DIR
from tests.distributed.support import Instance


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    tmp_path = tmp_path_factory.mktemp("worker")
    url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    db = open_database(url)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    instance = Instance(
        {"DATABASE_URL": url, "RATE_LIMIT_MANAGERS": "1000000/minute"},
        tmp_path / "gunicorn.log",
    )
    yield instance.start()
    instance.stop()


def exchange(port: int, *parts: bytes, answers: int = 1) -> bytes:
    """Sends the parts in turn, each after the server's reply to the one
    before when the part before ends a request, and reads `answers` replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"".join(parts))
        received = b""
        while received.count(b"HTTP/1.1 ") < answers or not received.endswith(b"}"):
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_pipelined_requests_are_each_answered(server: Instance) -> None:
    request = b"GET /health/live HTTP/1.1\r\nHost: api\r\n\r\n"
    received = exchange(server.port, request * 3, answers=3)
    assert received.count(b"HTTP/1.1 200 OK") == 3


def test_a_chunked_body_is_read_whole(server: Instance) -> None:
    body = b'{"name": "Chunk", "email": "chunk@example.com"}'
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = (
        b"POST /v1/managers HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    assert exchange(server.port, head, framed).startswith(b"HTTP/1.1 201")


def test_expect_100_continue_gets_the_go_ahead(server: Instance) -> None:
    body = b'{"name": "Wait", "email": "wait@example.com"}'
    head = (
        b"POST /v1/managers HTTP/1.1\r\nHost: api\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(head)
        assert client.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        client.sendall(body)
        received = b""
        while b"HTTP/1.1 201" not in received:
            chunk = client.recv(65536)
            assert chunk, received
            received += chunk


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GET / HTTP/1.1\r\nHost: a", (0, False)),
        (b"POST / HTTP/1.1\r\nContent-Length: 12", (12, False)),
        (b"POST / HTTP/1.1\r\ncontent-length:  7 ", (7, False)),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked", (CHUNKED, False)),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-Continue", (5, True)),
        (b"POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue", (5, False)),
        (b"POST / HTTP/1.1\r\nContent-Length: -3", (0, False)),
    ],
)
def test_body_of_a_header_block(head: bytes, expected: tuple[int, bool]) -> None:
    assert body_of(head) == expected


def inbox_with(head: bytes, body: bytes) -> Inbox:
    inbox = Inbox(head + body, header_deadline=0.0)
    inbox.body_start = len(head)
    return inbox


HEAD = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("body", "done"),
    [
        (b"", False),
        (b"5\r\nhel", False),
        (b"5\r\nhello\r\n", False),
        (b"5\r\nhello\r\n0\r\n", False),
        (b"5\r\nhello\r\n0\r\n\r\n", True),
        (b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", True),
        (b"5 ;ext\r\nhello\r\n0\r\n\r\n", True),
        (b"A\r\n0123456789\r\n0\r\n\r\n", True),
    ],
)
def test_chunked_done(body: bytes, done: bool) -> None:
    assert chunked_done(inbox_with(HEAD, body), limit=1000) is done


def test_a_chunked_body_arriving_byte_by_byte_is_read_on_not_rescanned() -> None:
    body = b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
    inbox = inbox_with(HEAD, b"")
    for i, byte in enumerate(body):
        inbox.data.append(byte)
        assert chunked_done(inbox, limit=1000) is (i == len(body) - 1)
    assert inbox.decoded == 8


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"-6\r\n", 400),  # int() would read a negative size
        (b"-07\r\n", 400),
        (b"-7;\r\n", 400),
        (b"+5\r\nhello\r\n", 400),
        (b"0x5\r\nhello\r\n", 400),
        (b"zz\r\n", 400),
        (b"\r\n", 400),
        (b" 5\r\nhello\r\n", 400),
        (b"5 \r\nhello\r\n", 400),  # whitespace only before an extension
        (b"5;=x\r\nhello\r\n", 400),
        (b"5\r\nhelloXY0\r\n\r\n", 400),  # the chunk overruns its size
        (b"5\r\nhello\r\n0\r\nBad\ntrailer\r\n\r\n", 400),
        (b"f" * 9000, 400),  # a size line that never ends
        (b"3e9\r\n", 413),  # over the limit: refused before it arrives
        (b"200\r\n" + b"x" * 512 + b"\r\n" * 1 + b"200\r\n", 413),
    ],
)
def test_malformed_or_oversized_chunked_bodies_are_refused(
    body: bytes, status: int
) -> None:
    with pytest.raises(Refused) as refused:
        chunked_done(inbox_with(HEAD, body), limit=1000)
    assert refused.value.status == status
    assert b"Content-Type: application/problem+json" in refused.value.answer


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * HEAD_LIMIT, 431),
    ],
)
def test_heads_gunicorn_would_refuse_are_refused_at_once(
    data: bytes, status: int
) -> None:
    with pytest.raises(Refused) as refused:
        head_end(Inbox(data, header_deadline=0.0))
    assert refused.value.status == status


def test_a_head_arriving_in_pieces_is_judged_only_when_its_line_ends() -> None:
    inbox = Inbox(b"GET / HTTP/1.1\r", header_deadline=0.0)
    assert head_end(inbox) == -1  # the CR's LF may be on the way
    inbox.data += b"\nHost: a\tb\r\n\r"
    assert head_end(inbox) == -1
    inbox.data += b"\n"
    assert head_end(inbox) == len(b"GET / HTTP/1.1\r\nHost: a\tb")
