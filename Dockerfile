# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bootstrap.py ./
COPY settings ./settings
COPY domain ./domain
COPY adapters ./adapters
COPY entrypoints ./entrypoints
COPY migrations ./migrations
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
# WEB_CONCURRENCY is left to the gunicorn config: 2 with Redis, 1 without.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    BIND=0.0.0.0:8000
RUN useradd --system --uid 10001 --home-dir /app --create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; port=os.environ.get('BIND','0.0.0.0:8000').rsplit(':',1)[1]; sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=2).status != 200)"]
# serve migrates first (safe when replicas start together: they serialise on a
# database lock) unless MIGRATE_ON_START=0; any other command runs as given.
CMD ["employee-api", "serve"]
