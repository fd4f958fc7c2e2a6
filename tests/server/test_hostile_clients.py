"""Hostile and broken clients straight at gunicorn, no proxy in front: while a
probe asks /health/live on a fresh connection every 0.5 s, each payload gets
one problem+json answer (a 4xx, or a 408 at its timeout) and every probe is
answered within a second. Nothing spins the event loop or holds a thread.
What granian must answer alike runs under it too (`either`); what it answers
its own way is in docs/deployment.md."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sql.database import open_database
from adapters.sql.migrate import apply_migrations
from migrations import MIGRATIONS_DIR
from tests.distributed.support import SERVERS, Instance
from tests.faults.harness import worker_pids
from tests.support.http_clients import Http, http_status
from tests.support.polling import poll
from tests.support.services import sqlite_url

TIMEOUT = 2  # HEADER_TIMEOUT and BODY_TIMEOUT of the instance
LIMIT = 8192  # its MAX_BODY_BYTES


def serving(tmp_path: Path, server: str) -> Iterator[Instance]:
    url = sqlite_url(tmp_path / "hostile.sqlite3")
    db = open_database(url)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    instance = Instance(
        {
            "DATABASE_URL": url,
            "HEADER_TIMEOUT": str(TIMEOUT),
            "BODY_TIMEOUT": str(TIMEOUT),
            "MAX_BODY_BYTES": str(LIMIT),
            "RATE_LIMIT_MANAGERS": "1000000/minute",
        },
        tmp_path / "server.log",
        server=server,
    )
    instance.start()
    yield instance
    log = instance.log_path.read_text()
    instance.stop()
    assert "WORKER TIMEOUT" not in log


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """gunicorn: what only its worker answers (the problem+json 400s and 431
    for heads, the connection cap, the slow readers' cut-off)."""
    yield from serving(tmp_path_factory.mktemp("hostile"), "gunicorn")


@pytest.fixture(scope="module", params=SERVERS)
def either(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Instance]:
    """Each server in turn: what both must answer alike."""
    yield from serving(tmp_path_factory.mktemp("hostile"), request.param)


class Probe:
    """Asks /health/live on a fresh connection every 0.5 s, in a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float | None] = []  # None: no 200 within 2 s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            status = http_status(self.port, "/health/live")
            took = time.monotonic() - began
            self.latencies.append(took if status == 200 else None)
            self._stop.wait(max(0.0, 0.5 - took))

    @contextmanager
    def running(self) -> Iterator[Probe]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)

    def assert_always_answered(self, within: float = 1.0) -> None:
        assert self.latencies, "the probe never ran"
        slow = [t for t in self.latencies if t is None or t > within]
        assert not slow, self.latencies


def answers(
    port: int, *parts: bytes, hold: float = 0.0, wait: float = TIMEOUT + 3
) -> tuple[bytes, float]:
    """Sends the parts, holds the connection open `hold` s more, and reads
    until the server closes it (or `wait` s pass): what came, and when the
    first byte did."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as client:
        began = time.monotonic()
        for part in parts:
            try:
                client.sendall(part)
            except OSError:
                break  # the server closed already: its answer is waiting
        first = None
        received = b""
        deadline = began + wait
        while time.monotonic() < deadline:
            try:
                chunk = client.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            first = first or time.monotonic() - began
            received += chunk
        return received, first if first is not None else float("inf")


def one_problem(received: bytes, status: int) -> dict[str, object]:
    """The single response in received: its status and problem+json body."""
    assert received.count(b"HTTP/1.1 ") == 1, received[:500]
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert b"content-type: application/problem+json" in head.lower(), head
    problem: dict[str, object] = json.loads(body)
    assert problem["status"] == status
    return problem


CHUNKED_POST = (
    b"POST /v1/managers HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize("size", [b"-6", b"-07", b"-7;", b"+5", b"0x5", b" 5"])
def test_a_chunk_size_that_is_not_hex_digits_is_400_at_once(
    server: Instance, size: bytes
) -> None:
    head = (
        b"POST /health/live HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with Probe(server.port).running() as probe:
        sent = [answers(server.port, head, size + b"\r\n", hold=1) for _ in range(4)]
    for received, first in sent:
        one_problem(received, 400)
        assert first < 1
    probe.assert_always_answered()


@pytest.mark.parametrize("fields", [9, 100])  # 9 fields: 72 KiB; 100: 800 KiB
def test_a_head_over_64_kib_that_never_ends_is_431_at_once(
    server: Instance, fields: int
) -> None:
    head = b"GET /health/live HTTP/1.1\r\n" + b"".join(
        b"X-F%d: %s\r\n" % (i, b"y" * 8000) for i in range(fields)
    )
    with Probe(server.port).running() as probe:
        received, first = answers(server.port, head, hold=1)
    one_problem(received, 431)
    assert first < 1
    probe.assert_always_answered()


def test_a_chunked_body_over_the_limit_is_413_from_the_worker(
    server: Instance,
) -> None:
    chunks = [b"10\r\n" + b"x" * 16 + b"\r\n"] * (LIMIT // 16 + 64)
    with Probe(server.port).running() as probe:
        received, first = answers(server.port, CHUNKED_POST, *chunks)
    one_problem(received, 413)
    assert first < 1
    probe.assert_always_answered()


def test_a_chunked_body_that_stalls_is_408_at_the_body_timeout(
    either: Instance,
) -> None:
    with Probe(either.port).running() as probe:
        received, first = answers(either.port, CHUNKED_POST, b'20\r\n{"na')
    one_problem(received, 408)
    assert TIMEOUT - 0.5 < first < TIMEOUT + 1.5
    probe.assert_always_answered()


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhelloXY",  # the chunk overruns its size
        b"5;=\r\nhello\r\n0\r\n\r\n",  # a malformed extension
        b"5\r\nhello\r\n0\r\nBad\ntrailer\r\n\r\n",
    ],
)
def test_a_malformed_chunked_write_is_one_400_never_a_500(
    either: Instance, body: bytes
) -> None:
    received, first = answers(either.port, CHUNKED_POST, body, hold=0.5)
    one_problem(received, 400)
    assert first < 1


@pytest.mark.parametrize(
    "head",
    [
        b"GET /health/live HTTP/1.1\nHost: a\n\n",
        b"GET /health/live HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        b"GET /health/live HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    ],
)
def test_a_head_gunicorn_would_refuse_is_one_problem_400_at_once(
    server: Instance, head: bytes
) -> None:
    received, first = answers(server.port, head, hold=0.5)
    one_problem(received, 400)
    assert first < 1


def test_clients_that_keep_a_closed_connection_open_freeze_nothing(
    either: Instance,
) -> None:
    """HTTP/1.0 and Connection: close answers end with the server's close;
    ten clients that never close their side leave the probe unaffected."""
    requests = [
        b"GET /health/live HTTP/1.0\r\n\r\n",
        b"GET /health/live HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    clients = []
    with Probe(either.port).running() as probe:
        for i in range(10):
            client = socket.create_connection(("127.0.0.1", either.port), timeout=5)
            client.sendall(requests[i % 2])
            assert b" 200 OK" in client.recv(65536).split(b"\r\n")[0]
            clients.append(client)  # and never closed until the end
        # Six of the probe's samples while they all hang on.
        poll(lambda: len(probe.latencies) >= 6, within=10, what="six probes")
    for client in clients:
        client.close()
    latencies = sorted(t for t in probe.latencies if t is not None)
    assert len(latencies) == len(probe.latencies) >= 5
    assert latencies[int(len(latencies) * 0.99) - 1] < 0.1, latencies


def test_over_the_connection_cap_new_connections_are_refused_not_stranded(
    tmp_path: Path,
) -> None:
    """With `ulimit -n 256`, a worker holds 150 connections; the 151st on is
    answered 503 with Retry-After at once, and nothing crashes."""
    instance = Instance(
        {
            "DATABASE_URL": sqlite_url(tmp_path / "cap.sqlite3"),
            "HEADER_TIMEOUT": "30",
            "LOG_LEVEL": "info",
        },
        tmp_path / "gunicorn.log",
        open_files=256,
    )
    instance.start()
    workers = worker_pids(instance)
    held: list[socket.socket] = []
    try:
        for _ in range(150):  # idle: each waits for its request's head
            held.append(socket.create_connection(("127.0.0.1", instance.port)))
        # Once the worker has accepted them all (it does so in its own time).
        received, first = poll(
            lambda: refused(instance.port), within=10, what="a 503 at the cap"
        )
        problem = one_problem(received, 503)
        assert b"retry-after: 1" in received.lower()
        assert "retry" in str(problem["detail"])
        assert first < 1
        for client in held:
            client.close()
        held.clear()
        # The worker frees each slot as it notices that connection closed.
        poll(
            lambda: http_status(instance.port, "/health/live") == 200,
            within=10,
            what="the worker to serve again once the clients left",
        )
        log = instance.log_path.read_text()
        assert "open files: 256 (was 256); each worker holds up to 150" in log
        assert "at the connection cap" in log
        assert worker_pids(instance) == workers  # no worker died or restarted
    finally:
        for client in held:
            client.close()
        instance.stop()


def refused(port: int) -> tuple[bytes, float] | None:
    """The answer to a new connection's request, if it was a 503."""
    received, first = answers(port, b"GET /health/live HTTP/1.1\r\n\r\n", wait=2)
    return (received, first) if received.startswith(b"HTTP/1.1 503") else None


def test_slow_readers_that_pipeline_hold_no_thread_and_are_cut_off(
    tmp_path: Path,
) -> None:
    """Twenty clients each pipeline 100 requests for the OpenAPI document
    (about 6 MB of answers each) and read none of it. No thread waits on
    them: the event loop keeps each first answer and sends it as far as the
    client takes it, and cuts the client off SEND_TIMEOUT later."""
    instance = Instance(
        {"DATABASE_URL": sqlite_url(tmp_path / "slow.sqlite3"), "SEND_TIMEOUT": "2"},
        tmp_path / "gunicorn.log",
    )
    instance.start()
    request = b"GET /openapi.json HTTP/1.1\r\nHost: a\r\n\r\n"
    readers: list[socket.socket] = []
    try:
        with Probe(instance.port).running() as probe:
            began = time.monotonic()
            for _ in range(20):
                reader = socket.create_connection(("127.0.0.1", instance.port))
                reader.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    reader.send(request * 100)
                readers.append(reader)
            poll(
                lambda: instance.log().count("did not take its answer") >= 20,
                within=60,
                what="the twenty slow readers cut off",
            )
            took = time.monotonic() - began
        assert http_status(instance.port, "/health/live") == 200
        assert took < 2 + 2, took  # SEND_TIMEOUT, and the event loop's tick
        probe.assert_always_answered()  # within a second, throughout
    finally:
        for reader in readers:
            reader.close()
        instance.stop()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /health/live HTTP/1.1\r\n"
         b"Authorization Bearer ema_12345678_s3cr3t\r\n\r\n", 400),
        (b"GET /health/live HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"G@T /health/live HTTP/1.1\r\n\r\n", 400),
        (b"GET /health/live HTTP/9.9\r\n\r\n", 400),
        (b"GET /health/live?" + b"q" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /health/live HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
    ],
)  # fmt: skip
def test_what_gunicorn_refuses_is_problem_json_that_quotes_nothing(
    server: Instance, head: bytes, status: int
) -> None:
    received, first = answers(server.port, head, hold=0.5)
    problem = one_problem(received, status)
    assert first < 1
    assert b"s3cr3t" not in received and "s3cr3t" not in str(problem)
    assert "s3cr3t" not in server.log_path.read_text()


# Fuzzing: requests made of well-known parts, then bent: odd methods,
# versions, header names and values, line ends, Content-Length and chunk
# framing. Each example is one request; its bytes end where it does.

_NAMES = st.sampled_from(
    [b"Host", b"X-Thing", b"Content-Type", b"Expect", b"Bad Name", b"X\x00", b""]
)
_VALUES = st.one_of(
    st.sampled_from([b"a", b"application/json", b"100-continue", b""]),
    st.binary(max_size=20),
)


@st.composite
def chunked(draw: st.DrawFn) -> bytes:
    sizes = draw(st.lists(st.integers(1, 40), max_size=4))
    lines = []
    for size in sizes:
        line = b"%x" % size
        if draw(st.booleans()) and draw(st.booleans()):
            line = draw(st.sampled_from([b"-" + line, b"+" + line, b"0x" + line,
                                         b" " + line, line + b" ", line + b";=",
                                         b"zz", b""]))  # fmt: skip
        lines.append(line + b"\r\n" + b"x" * size + b"\r\n")
    return b"".join(lines) + b"0\r\n\r\n"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"G@T", b""]))
    target = draw(st.sampled_from([b"/health/live", b"/v1/managers", b"/v1/x", b"*"]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1"]))
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r"]))
    headers = [b"Connection: close"]
    headers += [n + b": " + v for n, v in draw(st.lists(st.tuples(_NAMES, _VALUES),
                                                        max_size=3))]  # fmt: skip
    body = b""
    framing = draw(st.sampled_from(["none", "length", "bad length", "chunked"]))
    if framing == "length":
        body = draw(st.binary(max_size=60))
        headers.append(b"Content-Length: %d" % len(body))
    elif framing == "bad length":
        headers.append(b"Content-Length: " + draw(st.sampled_from([b"-1", b"x", b""])))
    elif framing == "chunked":
        body = draw(chunked())
        headers.append(b"Transfer-Encoding: chunked")
    head = eol.join([method + b" " + target + b" " + version, *headers])
    return head + eol + eol + body


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(request=requests())
def test_any_request_gets_one_answer_at_once_never_a_5xx(
    server: Instance, request: bytes
) -> None:
    received, first = answers(server.port, request, wait=TIMEOUT + 2)
    statuses = [int(s) for s in re.findall(rb"HTTP/1\.[01] (\d{3}) ", received)]
    assert len(statuses) == 1, (request, received[:400])
    assert statuses[0] < 500 or statuses[0] == 501, (request, received[:400])
    assert first < 1, (request, first)


def test_pipelined_answers_larger_than_the_socket_takes_arrive_whole(
    server: Instance,
) -> None:
    """A hundred answers of the OpenAPI document (about 6 MB), pipelined, the
    client reading only after a pause: more than the socket takes, so the
    event loop keeps the rest and sends it as the client reads, each answer
    whole and in order."""
    request = b"GET /openapi.json HTTP/1.1\r\nHost: a\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(request * 100)
        time.sleep(0.5)  # a reader that is not reading yet, not a wait on the server
        stream = client.makefile("rb")
        for _ in range(100):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += stream.readline()
            assert head.startswith(b"HTTP/1.1 200 OK"), head
            found = re.search(rb"(?i)content-length: (\d+)", head)
            assert found is not None
            body = stream.read(int(found[1]))
            assert json.loads(body)["openapi"] == "3.1.0"


def test_with_keys_required_a_malformed_keyless_write_gets_one_answer(
    tmp_path: Path,
) -> None:
    """The worker refuses the body before the app could answer 401: one 400,
    not a 401 followed by gunicorn's 400."""
    url = sqlite_url(tmp_path / "keys.sqlite3")
    db = open_database(url)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    instance = Instance(
        {"DATABASE_URL": url, "AUTH_DISABLED": "0", "SECRET_KEY": "k" * 40},
        tmp_path / "gunicorn.log",
    )
    instance.start(ready_path="/health/live")
    try:
        received, first = answers(instance.port, CHUNKED_POST, b"-6\r\n", hold=0.5)
        one_problem(received, 400)
        assert first < 1
        received, _ = answers(
            instance.port, CHUNKED_POST, b"2\r\n{}\r\n0\r\n\r\n", wait=2
        )
        one_problem(received, 401)  # well-formed: the app asks for a key
    finally:
        instance.stop()


def test_a_stalled_log_reader_stalls_no_request(tmp_path: Path) -> None:
    """Its standard output and error go to a pipe nobody reads: once the pipe
    is full, log lines are dropped and counted, and requests go on."""
    instance = Instance(
        {
            "DATABASE_URL": sqlite_url(tmp_path / "log.sqlite3"),
            "LOG_LEVEL": "info",  # a line per request, and an access line
            "ACCESS_LOG": "-",
        },
        tmp_path / "unused.log",
        unread_output=True,
    )
    instance.start(ready_path="/health/live")
    try:
        connection = Http(instance.port)
        took = []
        # A request line and an access line each, 10,000 of each kind waiting
        # at most: past that (and a full pipe) lines are dropped.
        for _ in range(12_000):
            began = time.monotonic()
            assert connection.get("/health/live").status == 200
            took.append(time.monotonic() - began)
        took.sort()
        assert took[int(len(took) * 0.99)] < 0.1, took[-10:]
        metrics = connection.get("/metrics").body.decode()
        dropped = re.search(r"^log_records_dropped_total (\S+)$", metrics, re.M)
        assert dropped is not None and float(dropped[1]) > 1000, dropped
    finally:
        instance.stop()
