"""gunicorn's configuration, from the same checked settings as the app."""

from __future__ import annotations

from settings import Settings, SettingsError

try:
    _settings = Settings.from_env()
    _settings.auth.check()
    _server = _settings.server
except SettingsError as exc:
    raise SystemExit(f"employee-api: {exc}") from None

bind = _server.bind
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = _server.worker_timeout
graceful_timeout = _server.graceful_timeout
keepalive = _server.keepalive
# Bound request line and headers: the server refuses oversized ones itself.
limit_request_line = 8190
limit_request_fields = 100
accesslog = _server.access_log
# The request id ties an access-log line to the client's report and our logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
errorlog = "-"
loglevel = _server.log_level
# The control socket lands under $HOME; containers and CI do not want it.
control_socket_disable = not _server.control_socket
