"""granian as the server (SERVER=granian, or `employee-api serve --server
granian`), from the same checked settings as gunicorn's configuration.

granian parses HTTP/1 and does the socket I/O in Rust; the app runs behind
its RSGI interface (entrypoints/server/rsgi_bridge.py), which reads each body
before a thread is taken. What the gunicorn path promises holds here too:
slow headers and stalled bodies hold no thread, the first SIGTERM drains
(readiness 503 for DRAIN_SECONDS) before the graceful stop, /metrics sums
every worker, a crashed worker is replaced. What differs is in
docs/deployment.md ("Choosing the server").

Run as `python -m entrypoints.server.granian_serve`, in a fresh process:
prometheus-client must not be imported before the metrics directory is set.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
from typing import Any

from entrypoints.server.lifecycle import begin_drain_everywhere
from entrypoints.server.log_config import logging_config
from entrypoints.server.metrics_dir import prepare_metrics_dir
from settings import ServerSettings, Settings, SettingsError

log = logging.getLogger("employee_api.server")


def check_for_granian(server: ServerSettings) -> None:
    """SettingsError for settings granian cannot take."""
    if server.bind.startswith("fd://"):
        raise SettingsError("BIND=fd://... is gunicorn's alone: use HOST:PORT or unix:")


def server_options(server: ServerSettings, target: str) -> dict[str, Any]:
    """granian's options for these settings; target: "module:factory", the
    factory returning the app as rsgi_bridge.served_by does."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    check_for_granian(server)
    if server.bind.startswith("unix:"):
        where: dict[str, Any] = {"uds": server.bind.removeprefix("unix:")}
    else:
        host, _, port = server.bind.rpartition(":")
        where = {"address": host.strip("[]"), "port": int(port)}
    config = logging_config(server.log_level, server.log_format, server.access_log)
    config["loggers"]["_granian"] = {
        "level": server.log_level.upper(),
        "propagate": True,
    }
    config["loggers"]["granian.access"] = config["loggers"].pop("gunicorn.access")
    return {
        **where,
        "target": target,
        "factory": True,
        "interface": Interfaces.RSGI,
        "workers": server.workers,
        "http": HTTPModes.http1,
        "websockets": False,
        "http1_settings": HTTP1Settings(
            header_read_timeout=int(server.header_timeout * 1000),
            keep_alive=server.keepalive > 0,
        ),
        "log_level": server.log_level,
        "log_dictconfig": config,
        "log_access": bool(server.access_log),
        "respawn_failed_workers": True,
        "workers_kill_timeout": server.graceful_timeout or None,
    }


def build(server: ServerSettings, target: str = "bootstrap:get_app") -> Any:
    """granian's server, draining on the first SIGTERM when DRAIN_SECONDS > 0."""
    from granian.server import Server

    class DrainingServer(Server):  # type: ignore[misc, valid-type]
        drained = False

        def signal_handler_interrupt(self, *args: Any) -> None:
            signum = args[0] if args else None
            if server.drain_seconds and signum == signal.SIGTERM and not self.drained:
                self.drained = True
                begin_drain_everywhere()
                log.info(
                    "draining: readiness answers 503 for %s s, then a graceful stop",
                    server.drain_seconds,
                )
                stop = threading.Timer(
                    server.drain_seconds, super().signal_handler_interrupt
                )
                stop.daemon = True
                stop.start()
                return
            super().signal_handler_interrupt(*args)

    return DrainingServer(**server_options(server, target))


def main(argv: list[str]) -> int:
    """argv: the app's factory, when not the service's (the bench's bare apps)."""
    try:
        settings = Settings.from_env()
        settings.auth.check()
        granian = build(settings.server, *argv[:1])
    except SettingsError as exc:
        print(f"employee-api: {exc}", file=sys.stderr)
        return 2
    made = prepare_metrics_dir(settings.server.metrics_dir)
    if made is not None:
        granian.on_shutdown(lambda: shutil.rmtree(made, ignore_errors=True))
    granian.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
