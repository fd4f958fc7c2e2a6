FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Behind a TLS-inspecting proxy or with a package mirror:
#   --build-arg EXTRA_CA_CERT="$(cat proxy-ca.pem)" (PEM text, added to the
#   base image's bundle for this stage only), or --build-arg PIP_CERT=PATH (a
#   bundle already in the base image), and --build-arg PIP_INDEX_URL=URL.
ARG EXTRA_CA_CERT=""
ARG PIP_CERT=""
ARG PIP_INDEX_URL=""
COPY pyproject.toml README.md requirements.lock ./
COPY bootstrap.py ./
COPY settings ./settings
COPY domain ./domain
COPY adapters ./adapters
COPY entrypoints ./entrypoints
COPY migrations ./migrations
# The build args reach pip (and its build subprocesses) as environment
# variables, unset when empty. The dependencies come from the lock file,
# checked by hash, so two builds a week apart install the same releases; pip
# and setuptools leave the venv after: the runtime needs neither.
RUN if [ -n "$EXTRA_CA_CERT" ]; then \
        printf '%s\n' "$EXTRA_CA_CERT" >> /etc/ssl/certs/ca-certificates.crt \
        && PIP_CERT="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"; fi \
    && if [ -z "$PIP_CERT" ]; then unset PIP_CERT; else export PIP_CERT; fi \
    && if [ -z "$PIP_INDEX_URL" ]; then unset PIP_INDEX_URL; fi \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock \
    && /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM python:3.11-slim
# WEB_CONCURRENCY is left to the gunicorn config: 2 with Redis, 1 without.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    BIND=0.0.0.0:8000
# A fixed numeric uid and gid: runAsNonRoot can verify them.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Follows BIND (loopback for a wildcard, else the address itself, or the unix
# socket); compose probes /health/ready instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-m", "entrypoints.server.probe", "/health/live"]
# serve migrates first (safe when replicas start together: they serialise on a
# database lock) unless MIGRATE_ON_START=0; any other command runs as given.
CMD ["employee-api", "serve"]
