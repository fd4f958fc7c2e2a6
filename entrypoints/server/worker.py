"""gunicorn's gthread worker, each request read whole before a thread sees it.
gthread hands a connection to a thread as soon as it is readable; the thread
then blocks until the rest of the headers and the body arrive, so a few dozen
clients that send slowly hold every thread and the server stops answering.
This worker reads in its event loop instead, without blocking: a request
goes to the thread pool only once its headers, and a body of known length up
to the buffer limit, are in memory. A request whose headers take longer than
HEADER_TIMEOUT, or whose body takes longer than BODY_TIMEOUT once its headers
are in, is answered 408 and closed, logged at WARNING with the client's
address and counted in slow_clients_closed_total{phase}.

Bodies of known length (Content-Length) and chunked ones are buffered up to
MAX_BODY_BYTES (a batch route's: BATCH_MAX_BODY_BYTES); `Expect: 100-continue`
is answered from the event loop so the client sends its body into the
buffer. Handed over unbuffered, to be read by a thread as gthread does: TLS
connections, and bodies above the limit, which the app refuses (413) from
their declared length or its first bytes up to the limit.
"""

from __future__ import annotations

import contextlib
import time
from functools import partial
from typing import Any

from entrypoints.server import gunicorn_private as gunicorn
from entrypoints.server.capacity import AcceptAtCapacity
from entrypoints.server.framing import (
    CHUNKED,
    CONTINUE,
    READ_SIZE,
    TIMEOUT_ANSWER,
    Inbox,
    Refused,
    body_limit_of,
    body_of,
    chunked_done,
    head_end,
)
from entrypoints.server.heap import trim_after
from entrypoints.server.lingering import Lingering
from entrypoints.server.parse_errors import ProblemParseErrors
from entrypoints.server.peers import address_of, send_quietly
from entrypoints.server.request_clock import request_arrived, request_done
from entrypoints.server.write_behind import Flushing, WriteBehind


class BufferingWorker(ProblemParseErrors, AcceptAtCapacity):
    def init_process(self) -> None:
        # Here, in the forked worker: prometheus-client takes multiprocess mode
        # from the environment at import, which gunicorn's on_starting set.
        from prometheus_client import Counter

        self._closed = Counter(
            "slow_clients_closed",
            "Connections closed because a request's headers or body came too slowly.",
            ["phase"], registry=None,
        )  # fmt: skip
        self._refused_connections = Counter(
            "connections_refused",
            "New connections refused (503) at the worker's cap, or not accepted "
            "for want of descriptors, by why.",
            ["why"], registry=None,
        )  # fmt: skip
        self._refusals = Counter(
            "malformed_requests_refused",
            "Requests the worker answered itself (400, 413, 431) and closed.",
            ["status"], registry=None,
        )  # fmt: skip
        self._inboxes: dict[gunicorn.TConn, Inbox] = {}
        from settings import Settings

        settings = Settings.from_env()
        self._header_timeout = float(settings.server.header_timeout)
        self._body_timeout = float(settings.server.body_timeout)
        http = settings.http
        self._limits = (http.max_body_bytes, http.batch_max_body_bytes)
        self._lingering = Lingering(self, self._body_timeout)
        self._flushing = Flushing(
            self, settings.server.send_timeout, self.finish_request
        )
        super().init_process()

    def refused_connection(self, why: str) -> None:
        self._refused_connections.labels(why).inc()

    def refused_request(self, status: int) -> None:
        self._refusals.labels(str(status)).inc()

    def enqueue_req(self, conn: gunicorn.TConn) -> None:
        if getattr(conn, "buffered", False) or self.cfg.is_ssl:
            conn.buffered = False
            super().enqueue_req(conn)
            return
        # Bytes a thread read ahead (the next pipelined request) come first.
        ahead = gunicorn.take_read_ahead(conn)
        inbox = Inbox(ahead, time.monotonic() + self._header_timeout)
        if gunicorn.is_new(conn) and self.refuse_when_full(conn):
            return
        sock = gunicorn.socket_of(conn)
        if sock.getblocking():
            sock.setblocking(False)
        # Usually the whole request is there already (a kept-alive connection
        # comes here when it turns readable): no poller round trip then.
        state = self._pull(conn, inbox)
        if state == "more":
            self._inboxes[conn] = inbox
            gunicorn.watch(self, conn, partial(self._on_readable, conn))
        else:
            self._finish(conn, inbox, state)

    def _on_readable(self, conn: gunicorn.TConn, _sock: Any) -> None:
        inbox = self._inboxes[conn]
        state = self._pull(conn, inbox)
        if state != "more":
            self._forget(conn)
            self._finish(conn, inbox, state)

    def _pull(self, conn: gunicorn.TConn, inbox: Inbox) -> str:
        """Reads what has arrived: "whole", "more" to come, "refused" (the
        worker answers it: inbox.refused) or "gone"."""
        try:
            if inbox.data and self._complete(conn, inbox):
                return "whole"
            try:
                data = gunicorn.socket_of(conn).recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return "more"
            except OSError:
                data = b""
            if not data:  # the client gave up
                return "gone"
            inbox.data += data
            return "whole" if self._complete(conn, inbox) else "more"
        except Refused as refused:
            inbox.refused = refused
            return "refused"

    def _finish(self, conn: gunicorn.TConn, inbox: Inbox, state: str) -> None:
        if state == "whole":
            self._hand_over(conn, inbox)
        elif state == "refused" and inbox.refused is not None:
            self.log.warning(
                "refused a request from %s: %s",
                address_of(conn), inbox.refused,
            )  # fmt: skip
            self.refused_request(inbox.refused.status)
            send_quietly(conn, inbox.refused.answer)
            self._linger(conn)
        else:
            gunicorn.forget_connection(self)
            conn.close()

    def _complete(self, conn: gunicorn.TConn, inbox: Inbox) -> bool:
        """Whether the request can go to a thread without blocking it."""
        if inbox.body_start < 0:
            end = head_end(inbox)
            if end < 0:
                return False
            head = bytes(inbox.data[:end])
            inbox.body_start = end + 4
            inbox.body_length, expects_continue = body_of(head)
            inbox.limit = body_limit_of(head, *self._limits)
            if inbox.body_length > inbox.limit:
                conn.oversized = True
                return True  # the app refuses it from its length alone
            inbox.phase = "body"
            inbox.deadline = time.monotonic() + self._body_timeout
            if expects_continue and len(inbox.data) == inbox.body_start:
                # The client waits for this before it sends the body.
                send_quietly(conn, CONTINUE)
        if inbox.body_length != CHUNKED:
            return len(inbox.data) - inbox.body_start >= inbox.body_length
        return chunked_done(inbox, inbox.limit)

    def _hand_over(self, conn: gunicorn.TConn, inbox: Inbox) -> None:
        conn.arrived = time.monotonic()  # whole: from here it waits for a thread
        gunicorn.hand_to_parser(self, conn, bytes(inbox.data))
        conn.buffered = True
        self.enqueue_req(conn)

    def handle_request(self, req: Any, conn: gunicorn.TConn) -> bool:
        if getattr(conn, "oversized", False):
            req.must_close = True  # the answer says so: Connection: close
        request_arrived(getattr(conn, "arrived", None) or time.monotonic())
        sock = gunicorn.socket_of(conn)
        behind = None if self.cfg.is_ssl else WriteBehind(sock)
        if behind is not None:
            gunicorn.set_socket(conn, behind)
        try:
            return bool(super().handle_request(req, conn))
        finally:
            gunicorn.set_socket(conn, sock)
            conn.behind = behind if behind is not None and behind.pending else None
            request_done()
            trim_after(next((v for n, v in req.headers if n == "CONTENT-LENGTH"), 0))

    def finish_request(self, conn: gunicorn.TConn, fs: Any) -> None:
        """A connection that closes after its answer lingers in the event loop:
        the client may still be sending (an oversized body), and closing now
        would turn those bytes into a reset that can destroy the answer.
        gunicorn's own graceful close waits up to 2 s for that on this loop,
        where nothing else is accepted or dispatched meanwhile."""
        behind = getattr(conn, "behind", None)
        if behind is not None:  # the answer first, as the client takes it
            conn.behind = None
            self._flushing.start(conn, behind, fs)
            return
        closing = not fs.cancelled() and fs.exception() is None and not fs.result()
        if closing:
            self._linger(conn)
            return
        super().finish_request(conn, fs)

    def _linger(self, conn: gunicorn.TConn) -> None:
        conn.oversized = False
        self._lingering.start(conn)

    def _forget(self, conn: gunicorn.TConn) -> None:
        del self._inboxes[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            gunicorn.unwatch(self, conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        self._lingering.expire(now)
        self.resume_accepting()
        for conn in self._flushing.overdue(now):
            self.log.warning(
                "closed a connection from %s: it did not take its answer within %s s",
                address_of(conn), self._flushing.seconds,
            )  # fmt: skip
            self._closed.labels("response").inc()
        for conn, inbox in list(self._inboxes.items()):
            if inbox.deadline > now:
                continue
            self._forget(conn)
            gunicorn.forget_connection(self)
            limit = (
                self._header_timeout if inbox.phase == "headers" else self._body_timeout
            )
            self.log.warning(
                "closed a connection from %s: its request %s took longer than %s s",
                address_of(conn), inbox.phase, limit,
            )  # fmt: skip
            self._closed.labels(inbox.phase).inc()
            send_quietly(conn, TIMEOUT_ANSWER)
            conn.close()
