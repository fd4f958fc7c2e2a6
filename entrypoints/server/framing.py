"""HTTP/1.1 request framing, as far as the buffering worker needs it: where
a request's headers end and how long its body is, read from raw bytes."""

from __future__ import annotations

# Above any header block gunicorn accepts (limit_request_line and 100 fields of
# limit_request_field_size): a larger one goes to the parser, which refuses it.
HEADER_LIMIT = 64 * 1024
READ_SIZE = 64 * 1024
_TIMEOUT_BODY = (
    b'{"type":"about:blank","title":"Request Timeout","status":408,'
    b'"detail":"The request did not arrive in time."}'
)
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: application/problem+json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = -1  # Inbox.body_length for a chunked body


class Inbox:
    """What a connection has sent of its next request, and by when the rest
    must arrive."""

    def __init__(self, data: bytes, header_deadline: float) -> None:
        self.data = bytearray(data)
        self.deadline = header_deadline
        self.phase = "headers"
        self.body_start = -1  # once the headers are in
        self.body_length = 0  # or CHUNKED


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


def chunked_done(data: bytearray, start: int) -> bool:
    """Whether a chunked body starting at `start` has all arrived (its last
    chunk and trailers). A malformed size counts as done: the parser refuses it."""
    position = start
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return False
        size_text = bytes(data[position:line_end]).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return True
        if size == 0:
            return data.find(b"\r\n\r\n", line_end) >= 0
        position = line_end + 2 + size + 2
        if position > len(data):
            return False
