"""The hot path's Redis fast path: a connection per thread, kept between calls."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.redis.client import DeploymentError
from adapters.redis.fast_path import FastPath, fast_path_for
from tests.support.services import RedisServer


def test_a_thread_keeps_one_connection_and_threads_do_not_share(
    redis_db: redis.Redis,
) -> None:
    fast_path = FastPath(redis_db)
    fast_path.call("SET", "k", "v")
    first = fast_path.call("CLIENT", "ID")
    assert fast_path.call("CLIENT", "ID") == first
    assert fast_path.call("GET", "k") == b"v"
    other: list[int] = []
    thread = threading.Thread(
        target=lambda: other.append(fast_path.call("CLIENT", "ID"))
    )
    thread.start()
    thread.join()
    assert other[0] != first


def test_a_pipeline_answers_in_order_and_an_error_reply_keeps_the_connection_in_step(
    redis_db: redis.Redis,
) -> None:
    fast_path = FastPath(redis_db)
    replies = fast_path.pipeline([("SET", "a", "1"), ("INCR", "a"), ("GET", "a")])
    assert replies == [b"OK", 2, b"2"]
    redis_db.set("text", "not a number")
    with pytest.raises(redis.ResponseError):
        fast_path.pipeline([("INCR", "text"), ("SET", "b", "after")])
    assert redis_db.get("b") == b"after"  # the command after the error still ran
    assert fast_path.call("GET", "b") == b"after"  # and the next reply is the right one


def test_a_restarted_redis_is_reached_again_without_an_error(
    own_redis: RedisServer,
) -> None:
    client = own_redis.client()
    fast_path = FastPath(client)
    fast_path.call("SET", "k", "before")
    own_redis.stop()
    own_redis.start()
    # The kept connection died with the old server: the call goes out again.
    assert fast_path.call("SET", "k", "after") == b"OK"
    assert client.get("k") == b"after"


def test_a_stopped_redis_is_a_connection_error(own_redis: RedisServer) -> None:
    fast_path = FastPath(own_redis.client())
    fast_path.call("PING")
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        fast_path.call("PING")


def test_a_script_is_loaded_again_after_redis_lost_it(redis_db: redis.Redis) -> None:
    script = FastPath(redis_db).script("return redis.call('INCR', KEYS[1]) + ARGV[1]")
    assert script(["n"], [10]) == 11
    redis_db.script_flush()
    assert script(["n"], [10]) == 12


def test_the_adapters_of_one_client_share_its_fast_path(redis_db: redis.Redis) -> None:
    assert fast_path_for(redis_db) is fast_path_for(redis_db)


def test_commands_sent_again_reuse_their_packing_and_still_answer_right(
    redis_db: redis.Redis,
) -> None:
    fast_path = FastPath(redis_db)
    redis_db.mset({"a": "1", "b": "2"})
    assert fast_path.call("GET", "a", again=True) == b"1"
    assert fast_path.call("GET", "b", again=True) == b"2"
    redis_db.set("a", "changed")
    assert fast_path.call("GET", "a", again=True) == b"changed"
    assert fast_path.pipeline([("GET", "a"), ("GET", "b")], again=True) == [
        b"changed",
        b"2",
    ]


_INCR_THEN_BUSY = """
redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > tonumber(ARGV[1])
return 1
"""


def test_a_timeout_is_not_sent_again_and_the_next_call_is_in_step(
    redis_db: redis.Redis,
) -> None:
    where = {
        k: redis_db.connection_pool.connection_kwargs[k] for k in ("host", "port", "db")
    }
    impatient = redis.Redis(**where, socket_timeout=0.2)
    fast_path = FastPath(impatient)
    with pytest.raises(redis.TimeoutError):
        fast_path.call("EVAL", _INCR_THEN_BUSY, 1, "runs", 600_000)
    patient = redis.Redis(**where, socket_timeout=10)
    assert patient.get("runs") == b"1"  # answers once the script is done: it ran once
    # The late reply went with the abandoned connection, not to this call.
    assert fast_path.call("GET", "runs") == b"1"


def test_a_forked_child_uses_a_connection_of_its_own(redis_db: redis.Redis) -> None:
    fast_path = FastPath(redis_db)
    parent = fast_path.call("CLIENT", "ID")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, str(fast_path.call("CLIENT", "ID")).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(child, 0)
    assert reported and int(reported) != parent
    assert fast_path.call("CLIENT", "ID") == parent  # the parent's is untouched


def test_over_tls_a_silent_server_is_a_timeout_not_a_hang(tmp_path: Path) -> None:
    """TLS retries a read the kernel's timeout ended: the wire keeps Python's
    timeout on a TLS socket, so a frozen link costs one timeout there too."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def serve_silently() -> None:
        connection, _ = listener.accept()
        tls = context.wrap_socket(connection, server_side=True)
        held.append(tls)
        while b"PING" not in (data := tls.recv(4096)):
            tls.sendall(b"+OK\r\n" * data.count(b"*"))  # redis-py's CLIENT SETINFO
        # The PING: never answered.

    threading.Thread(target=serve_silently, daemon=True).start()
    client = redis.Redis(
        host="127.0.0.1", port=port, ssl=True, ssl_cert_reqs=None,
        socket_timeout=0.25, socket_connect_timeout=2, protocol=2,
        retry=Retry(NoBackoff(), 0),  # as the service's client: no retries
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        FastPath(client).call("PING")
    assert time.monotonic() - started < 2
    listener.close()


def test_a_deployment_error_reply_drops_the_connection(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """READONLY from a primary a failover demoted: behind a DNS name the
    next connection may reach the new primary, so the kept one goes."""
    other = RedisServer(tmp_path / "other")
    (tmp_path / "other").mkdir()
    other.start()
    try:
        fast_path = FastPath(own_redis.client())
        before = fast_path.call("CLIENT", "ID")
        own_redis.client().replicaof("127.0.0.1", other.port)
        with pytest.raises(DeploymentError):
            fast_path.call("SET", "k", "v")
        own_redis.client().replicaof("NO", "ONE")
        assert fast_path.call("SET", "k", "v") == b"OK"
        assert fast_path.call("CLIENT", "ID") != before  # a fresh connection
    finally:
        other.close()
