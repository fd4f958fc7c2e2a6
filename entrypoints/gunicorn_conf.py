"""gunicorn settings, read from the environment (see README's configuration table)."""

from __future__ import annotations

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Without Redis the cache and the rate limiter live in the process, and are
# only correct for one process: then run one worker (with threads).
_shared_state = bool(os.environ.get("REDIS_URL") or os.environ.get("REDIS_HOST"))
workers = int(os.environ.get("WEB_CONCURRENCY", "2" if _shared_state else "1"))
if workers > 1 and not _shared_state:
    raise SystemExit(
        "WEB_CONCURRENCY > 1 needs REDIS_URL: without Redis the response cache and "
        "the rate limiter live in each process, so reads could go stale and limits "
        "would multiply. Set REDIS_URL, or run one worker (use THREADS to scale)."
    )
threads = int(os.environ.get("THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("WORKER_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("KEEPALIVE", "5"))
# Bound request line and headers: the server refuses oversized ones itself.
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# The request id ties an access-log line to the client's report and our logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# The control socket lands under $HOME; containers and CI do not want it.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "0") != "1"
