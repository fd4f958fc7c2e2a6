"""HTTP/1.1 request framing, as far as the buffering worker needs it: where a
request's head ends, how long its body is, and whether a chunked body has
all arrived, read from raw bytes as strictly as gunicorn's own parser reads
them. What this refuses (Refused), the worker answers itself, as
problem+json, and closes: no thread is handed a request it could block on.
"""

from __future__ import annotations

import re

# A head larger than this is refused (431) by the worker itself. gunicorn
# alone would take up to its line limit plus 100 fields of 8,190 bytes.
HEAD_LIMIT = 64 * 1024
READ_SIZE = 64 * 1024
CHUNK_LINE_LIMIT = 8190  # a chunk-size line, as gunicorn's field limit
TRAILER_LIMIT = 8190
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = -1  # Inbox.body_length for a chunked body

_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    414: "URI Too Long",
    417: "Expectation Failed",
    501: "Not Implemented",
    503: "Service Unavailable",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
# RFC 9112 7.1.1, as gunicorn checks it.
_CHUNK_EXT = re.compile(
    rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|"
    + _QUOTED + rb"))?)*"
)  # fmt: skip
# In a head, after its CRLFs are taken out: control characters but HTAB (a
# bare CR among them).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def problem_answer(status: int, detail: str, extra: bytes = b"") -> bytes:
    """A whole closing HTTP/1.1 response with a problem+json body; extra:
    more header lines, each ending in CRLF."""
    title = _TITLES[status]
    body = b'{"type":"about:blank","title":"%s","status":%d,"detail":"%s"}' % (
        title.encode(),
        status,
        detail.encode(),
    )
    return (
        b"HTTP/1.1 %d %s\r\nConnection: close\r\n%s"
        b"Content-Type: application/problem+json\r\n"
        b"Content-Length: %d\r\n\r\n%s"
        % (status, title.encode(), extra, len(body), body)
    )


TIMEOUT_ANSWER = problem_answer(408, "The request did not arrive in time.")
FULL_ANSWER = problem_answer(
    503, "This server holds all the connections it can; retry shortly.",
    b"Retry-After: 1\r\n",
)  # fmt: skip


class Refused(Exception):
    """A request the worker answers itself, then closes the connection."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.answer = problem_answer(status, detail)


class Inbox:
    """What a connection has sent of its next request, and by when the rest
    must arrive."""

    def __init__(self, data: bytes, header_deadline: float) -> None:
        self.data = bytearray(data)
        self.deadline = header_deadline
        self.phase = "headers"
        self.head_checked = 0  # how much of the head has been checked
        self.body_start = -1  # once the head is in
        self.body_length = 0  # or CHUNKED
        self.chunk_at = -1  # a chunked body: where its next size line starts
        self.decoded = 0  # a chunked body: its bytes so far, framing aside
        self.refused: Refused | None = None  # why the worker answers it itself
        self.limit = 0  # the most body this request may buffer, once the head is in


def body_limit_of(head: bytes, ordinary: int, batch: int) -> int:
    """The body limit of the request this head starts: the batch routes'
    own (POST /v1/employees/batch, /v1/managers/batch), else the ordinary one."""
    target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
    return batch if target.partition(b"?")[0].endswith(b"/batch") else ordinary


def head_end(inbox: Inbox) -> int:
    """Where the head ends (its final CRLF CRLF), or -1 while it has not.
    Refused when what has come cannot be a head gunicorn would take. Checks
    only what came since the last call: a trickling client costs no rescans."""
    data = inbox.data
    end = data.find(b"\r\n\r\n", max(0, inbox.head_checked - 3), HEAD_LIMIT + 4)
    new = bytes(data[inbox.head_checked : len(data) if end < 0 else end])
    if end < 0 and new.endswith(b"\r"):
        new = new[:-1]  # its LF may be on the way
    bare = new.replace(b"\r\n", b"")
    if b"\n" in bare:
        raise Refused(400, "A line of the request's head ends in a bare LF.")
    if _CONTROL.search(bare):
        raise Refused(400, "The request's head holds a control character.")
    inbox.head_checked += len(new)
    if end < 0 and len(data) > HEAD_LIMIT:
        raise Refused(431, f"The request's head is over {HEAD_LIMIT} bytes.")
    return end


def body_of(head: bytes) -> tuple[int, bool]:
    """The body's length (or CHUNKED) from a header block, and whether the
    client waits for 100 Continue before sending it. Malformed values count
    as no body: the parser then refuses the request."""
    lowered = head.lower()
    if b"content-length" not in lowered and b"transfer-encoding" not in lowered:
        return 0, False  # most requests: no body, nothing more to read
    length, expects_continue = 0, False
    lines = head.split(b"\r\n")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"transfer-encoding" and value.endswith(b"chunked"):
            length = CHUNKED
        elif name == b"content-length" and value.isdigit() and length != CHUNKED:
            length = int(value)
        elif name == b"expect" and value == b"100-continue":
            expects_continue = lines[0].endswith(b"HTTP/1.1")
    return length, expects_continue


def chunked_done(inbox: Inbox, limit: int) -> bool:
    """Whether the chunked body has all arrived, its trailers included. Reads
    on from where the last call stopped. Refused: a malformed size line or
    trailer (400), or more than limit bytes of body (413)."""
    data = inbox.data
    if inbox.chunk_at < 0:
        inbox.chunk_at = inbox.body_start
    while True:
        at = inbox.chunk_at
        line_end = data.find(b"\r\n", at, at + CHUNK_LINE_LIMIT + 2)
        if line_end < 0:
            if len(data) - at > CHUNK_LINE_LIMIT:
                raise Refused(400, "A chunk-size line is too long.")
            return False
        size = _chunk_size(bytes(data[at:line_end]))
        if size == 0:
            return _trailers_done(data, line_end + 2)
        inbox.decoded += size
        if inbox.decoded > limit:
            raise Refused(413, f"The body is over {limit} bytes.")
        chunk_end = line_end + 2 + size
        if len(data) < chunk_end + 2:
            inbox.decoded -= size  # counted again once the chunk is all here
            return False
        if data[chunk_end : chunk_end + 2] != b"\r\n":
            raise Refused(400, "A chunk does not end where its size says.")
        inbox.chunk_at = chunk_end + 2


def _chunk_size(line: bytes) -> int:
    size, semicolon, extension = line.partition(b";")
    if semicolon:
        size = size.rstrip(b" \t")  # whitespace only before an extension
        if not _CHUNK_EXT.fullmatch(b";" + extension):
            raise Refused(400, "A chunk extension is malformed.")
    if not size or any(c not in _HEX for c in size):
        raise Refused(400, "A chunk size is not a hexadecimal number.")
    return int(size, 16)


def _trailers_done(data: bytearray, start: int) -> bool:
    if data[start : start + 2] == b"\r\n":
        return True
    end = data.find(b"\r\n\r\n", start)
    trailers = bytes(data[start : len(data) if end < 0 else end])
    if b"\n" in trailers.replace(b"\r\n", b""):
        raise Refused(400, "A trailer line ends in a bare LF.")
    if end < 0 and len(trailers) > TRAILER_LIMIT:
        raise Refused(400, "The trailers are too long.")
    return end >= 0
