# Every target creates the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run migrate key test lint fmt clean bench bench-prune lock container-test soak
# `make run` and `make key` need a SECRET_KEY: yours if it is set, else one made
# once for this checkout and kept in .secret_key (never committed).
SECRET_FILE := .secret_key
WITH_SECRET = SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_FILE))}"
NAME ?= local
SCOPES ?= read,write

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The lock's versions as constraints (its hashes would demand a hash of the
	# editable install itself, which has none).
	sed -e '/--hash=/d' -e 's/ *\\$$//' requirements.lock > $(VENV)/constraints.txt
	$(BIN)/pip install --quiet -c $(VENV)/constraints.txt -e '.[dev]'
	touch $(STAMP)

# The runtime dependencies, pinned with hashes, from pyproject.toml, for every
# Python 3.11 (--universal keeps markers such as redis's async-timeout): the
# image installs exactly these. Run after changing the dependencies.
# uv comes in a venv of its own: the project's venv installs with the old lock
# as constraints, which a changed dependency may contradict.
LOCK_VENV := .venv-lock
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet uv
	$(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
		--generate-hashes --no-emit-index-url pyproject.toml -o requirements.lock
	rm -rf $(LOCK_VENV)

$(SECRET_FILE):
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

run: $(STAMP) $(SECRET_FILE)  ## migrate, then serve on http://127.0.0.1:8000 (SQLite)
	$(WITH_SECRET) $(BIN)/employee-api serve

key: $(STAMP) $(SECRET_FILE)  ## make key NAME=you [SCOPES=read]: prints a token once
	$(WITH_SECRET) LOG_LEVEL=warning $(BIN)/employee-api migrate > /dev/null
	$(WITH_SECRET) $(BIN)/employee-api keys create --name "$(NAME)" --scopes "$(SCOPES)"

migrate: $(STAMP)
	$(BIN)/employee-api migrate

test: $(STAMP)  ## PostgreSQL and Redis tests skip with a reason unless they answer
	$(BIN)/pytest $(PYTEST_ARGS)

soak: $(STAMP)  ## the mixed load on two instances for SOAK_SECONDS (300), then the journal check
	SOAK_SECONDS=$${SOAK_SECONDS:-300} $(BIN)/pytest -s tests/faults/test_soak.py

# Needs root: installs Debian's docker.io and docker-compose when no engine
# answers, and builds stand-in base images when no registry does.
# A dockerd the target started is stopped after, passed or not.
container-test: $(STAMP)  ## build the image, run the compose stack, test it through nginx
	host="$$(bash .ci/engine)" && export DOCKER_HOST="$$host" \
		&& bash .ci/standins \
		&& { $(BIN)/pytest --stack tests/stack $(PYTEST_ARGS); status=$$?; \
		     bash .ci/engine stop; exit $$status; }

bench: $(STAMP)  ## the service against a bare-Falcon ceiling (BENCH_DURATION=3s is quick)
	$(BIN)/python -m bench.run

bench-prune: $(STAMP)  ## pruning a million expired changes while writers write
	$(BIN)/python -m bench.prune

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
