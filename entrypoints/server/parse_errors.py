"""What a request gunicorn's parser refuses is answered: problem+json with a
status by the kind of fault, never the request's own bytes.

gunicorn answers an HTML page that quotes the offending line, and logs it:
a client that misplaced its token (`Authorization Bearer ema_...`, no
colon) found it echoed back and written to the log. Here the answer and
the log line say only what kind of fault it was.
"""

from __future__ import annotations

import contextlib
from typing import Any

from gunicorn.http import errors

from entrypoints.server import gunicorn_private as gunicorn
from entrypoints.server.framing import problem_answer

# Most specific first: the first class the fault is an instance of decides.
_ANSWERS: list[tuple[type[BaseException], int, str]] = [
    (errors.LimitRequestLine, 414, "The request line is too long."),
    (errors.LimitRequestHeaders, 431, "The request's header fields are too large."),
    (errors.ExpectationFailed, 417, "Only Expect: 100-continue is understood."),
    (errors.ForbiddenProxyRequest, 403, "Proxy requests are not served."),
    (errors.UnsupportedTransferCoding, 501, "Only chunked transfer coding is served."),
    (errors.InvalidRequestLine, 400, "The request line is malformed."),
    (errors.InvalidRequestMethod, 400, "The request method is malformed."),
    (errors.InvalidHTTPVersion, 400, "The HTTP version is not one served here."),
    (errors.InvalidChunkSize, 400, "The chunked body is malformed."),
    (errors.ChunkMissingTerminator, 400, "The chunked body is malformed."),
    (errors.InvalidChunkExtension, 400, "The chunked body is malformed."),
    (errors.ObsoleteFolding, 400, "A header field is folded (RFC 9112 forbids it)."),
    (errors.InvalidHeaderName, 400, "A header field name is malformed."),
    (errors.InvalidHeader, 400, "A header field is malformed."),
    (errors.ParseException, 400, "The request is malformed."),
]


def parse_error_answer(exc: BaseException) -> tuple[int, bytes] | None:
    """The status and the whole closing answer for a parser fault; None for
    anything else (a fault of the server, a 500)."""
    for kind, status, detail in _ANSWERS:
        if isinstance(exc, kind):
            return status, problem_answer(status, detail)
    return None


class ProblemParseErrors(gunicorn.ThreadWorker):  # type: ignore[misc]  # untyped
    def handle_error(self, req: Any, client: Any, addr: Any, exc: Exception) -> None:
        """Parser faults answered as above; anything else as gunicorn does
        (a 500, logged with its traceback)."""
        answer = parse_error_answer(exc)
        if answer is None:
            super().handle_error(req, client, addr, exc)
            return
        status, data = answer
        where = addr[0] if isinstance(addr, tuple) and addr else "unix socket"
        self.log.warning("refused a request from %s: %s", where, type(exc).__name__)
        self.refused_request(status)
        with contextlib.suppress(OSError):
            client.sendall(data)

    def refused_request(self, status: int) -> None:
        """Count a request refused (the worker's metric)."""
