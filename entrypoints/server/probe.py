"""`python -m entrypoints.server.probe [PATH]`: the container's health check.

Asks the server this container runs for PATH (default /health/live) at the
address it binds (BIND), so the check follows BIND: a wildcard address is
probed on loopback, a specific address on itself, unix:PATH on its socket.
Exits 0 on a 200 answer, 1 otherwise, with one line saying why. Loads only the
settings, not the app: the engine runs it every few seconds."""

from __future__ import annotations

import http.client
import socket
import sys

from settings import Settings, SettingsError

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def connection_for(bind: str, timeout: float = 2.0) -> http.client.HTTPConnection:
    """An HTTP connection to the listener that BIND describes."""
    if bind.startswith("unix:"):
        return _UnixConnection(bind.removeprefix("unix:"), timeout)
    if bind.startswith("fd://"):
        raise ValueError(f"BIND={bind} names no address to probe")
    host, _, port = bind.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    return http.client.HTTPConnection(_WILDCARDS.get(host, host), int(port), timeout)


def probe(bind: str, path: str) -> str | None:
    """None when PATH answers 200, else why not."""
    try:
        connection = connection_for(bind)
        connection.request("GET", path, headers={"User-Agent": "employee-api-probe"})
        status = connection.getresponse().status
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return f"{path} at {bind}: {exc}"
    return None if status == 200 else f"{path} at {bind}: HTTP {status}"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/health/live"
    try:
        bind = Settings.from_env().server.bind
    except SettingsError as exc:
        print(f"probe: {exc}", file=sys.stderr)
        return 1
    failure = probe(bind, path)
    if failure:
        print(f"probe: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
