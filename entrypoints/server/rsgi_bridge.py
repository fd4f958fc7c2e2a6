"""The WSGI app behind granian's RSGI interface, with each request's body
read whole before a thread sees it.

granian's own WSGI interface hands a request to a thread at once; a body
read there blocks that thread until the client sends it, so a few dozen
clients that send headers and then stall their bodies hold every thread
(and a read given a deadline from another thread stalls the worker: tried,
bench/RESULTS.md). Here the body is read on granian's event loop instead,
where waiting costs no thread: up to the route's limit, within BODY_TIMEOUT,
else 408 and the connection closed, logged at WARNING with the client's
address and counted in slow_clients_closed_total{phase="body"}, as the
gunicorn worker does. Slow headers never reach Python: granian holds them,
and closes a connection whose headers take longer than HEADER_TIMEOUT.

The app then runs on this worker's own threads (THREADS of them) and its
response goes back whole: the service sends no streamed responses.
"""

from __future__ import annotations

import asyncio
import io
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from entrypoints.server.heap import few_arenas, trim_after
from entrypoints.server.metrics_dir import forget_dead_workers
from entrypoints.server.request_clock import request_arrived, request_done
from settings import Settings

log = logging.getLogger(__name__)

WsgiCallable = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[int, list[tuple[str, str]], bytes]

_PROBLEM = [("content-type", "application/problem+json"), ("connection", "close")]
_TIMEOUT_BODY = (
    b'{"type":"about:blank","title":"Request Timeout","status":408,'
    b'"detail":"The request did not arrive in time."}'
)
_FAILED_BODY = (
    b'{"type":"about:blank","title":"Internal Server Error","status":500,'
    b'"detail":"The server failed to answer this request."}'
)
_SPECIAL = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class RsgiBridge:
    def __init__(
        self,
        app: WsgiCallable,
        threads: int,
        body_timeout: float,
        limit_of: Callable[[str], int],
    ) -> None:
        """limit_of(path): the most body a request to path may send."""
        self._app = app
        self._threads = threads
        self._body_timeout = body_timeout
        self._limit_of = limit_of
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._closed: Any = None
        self.metrics_dir: str | None = None  # multiprocess mode's, if on

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # In the worker, after granian set PROMETHEUS_MULTIPROC_DIR's files up:
        # the counter is summed over workers as the gunicorn worker's is.
        from prometheus_client import Counter

        if self.metrics_dir:
            forget_dead_workers(self.metrics_dir)
        self._closed = Counter(
            "slow_clients_closed",
            "Connections closed because a request's headers or body came too slowly.",
            ["phase"], registry=None,
        )  # fmt: skip
        few_arenas()  # before the threads that would each make one
        for n in range(self._threads):
            threading.Thread(target=self._work, name=f"app-{n}", daemon=True).start()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for _ in range(self._threads):
            self._jobs.put(None)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        arrived = time.monotonic()
        environ = environ_of(scope)
        if scope.method not in _NO_BODY or _has_body(environ):
            try:
                body = await self._body(protocol, environ)
            except TimeoutError:
                self._refuse_slow(environ)
                protocol.response_bytes(408, _PROBLEM, _TIMEOUT_BODY)
                return
            environ["wsgi.input"] = io.BytesIO(body)
        future = asyncio.get_running_loop().create_future()
        self._jobs.put((future, environ, arrived))
        status, headers, body = await future
        protocol.response_bytes(status, headers, body)

    async def _body(self, protocol: Any, environ: dict[str, Any]) -> bytes:
        """The body, or its first limit + 1 bytes when it is longer (the app
        answers 413 from those); none when its declared length is too long
        (the app answers 413 from that). Past the limit the rest is read and
        dropped, within the same deadline: granian closes a connection whose
        body is left unread, and a client still sending would get a reset
        instead of its 413 (gunicorn's worker lingers for the same reason)."""
        limit = self._limit_of(environ["PATH_INFO"])
        declared = environ.get("CONTENT_LENGTH", "")
        too_long = declared.isdigit() and int(declared) > limit
        if too_long and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            return b""  # it waits for a go-ahead: its 413 instead, nothing sent
        received = bytearray()
        async with asyncio.timeout(self._body_timeout):
            async for chunk in protocol:
                if len(received) <= limit:
                    received += chunk
        return b"" if too_long else bytes(received[: limit + 1])

    def _refuse_slow(self, environ: dict[str, Any]) -> None:
        log.warning(
            "closed a connection from %s: its request body took longer than %s s",
            environ.get("REMOTE_ADDR"), self._body_timeout,
        )  # fmt: skip
        if self._closed is not None:
            self._closed.labels(phase="body").inc()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, environ, arrived = job
            request_arrived(arrived)
            try:
                reply: Reply = self.call_app(environ)
            except Exception:
                log.exception("the app failed outside its own error handling")
                reply = (500, _PROBLEM, _FAILED_BODY)
            finally:
                request_done()
                trim_after(environ.get("CONTENT_LENGTH"))
            future.get_loop().call_soon_threadsafe(_resolve, future, reply)

    def call_app(self, environ: dict[str, Any]) -> Reply:
        """The app's whole response to environ."""
        started: list[Any] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            started[:] = [status, headers]

        result = self._app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return int(status[:3]), list(headers), body


def _resolve(future: asyncio.Future[Reply], reply: Reply) -> None:
    if not future.cancelled():
        future.set_result(reply)


def _has_body(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_LENGTH", "0") not in ("", "0") or (
        "HTTP_TRANSFER_ENCODING" in environ
    )


def environ_of(scope: Any) -> dict[str, Any]:
    """The WSGI environ of an RSGI HTTP scope (PEP 3333), with no body yet."""
    server_host, _, server_port = scope.server.rpartition(":")
    client_host, _, client_port = scope.client.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # granian decodes the path as UTF-8; WSGI wants its bytes as latin-1.
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_host.strip("[]"),
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client_host.strip("[]"),
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(),
        # The body is in memory whole: reading it to its end is safe.
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    headers = scope.headers
    for name in dict.fromkeys(headers.keys()):
        if "_" in name:
            # X_Forwarded_For would read as X-Forwarded-For: dropped, as
            # gunicorn drops them, so no header can pose as another.
            continue
        values = headers.get_all(name)
        key = _SPECIAL.get(name) or "HTTP_" + name.upper().replace("-", "_")
        environ[key] = ("; " if name == "cookie" else ", ").join(values)
    if "HTTP_TRANSFER_ENCODING" in environ:
        environ.pop("CONTENT_LENGTH", None)  # a chunked body's length is its own
    return environ


def served_by(settings: Settings, app: WsgiCallable) -> Any:
    """The app as the configured server takes it: as it is for gunicorn, in
    a bridge for granian."""
    if settings.server.server != "granian":
        return app
    http = settings.http

    def limit_of(path: str) -> int:
        return (
            http.batch_max_body_bytes
            if path.endswith("/batch")
            else http.max_body_bytes
        )

    timeout = float(settings.server.body_timeout)
    bridge = RsgiBridge(app, settings.server.threads, timeout, limit_of)
    bridge.metrics_dir = settings.server.metrics_dir
    return bridge
