#!/bin/sh
# Container entry point: apply migrations once (safe when several replicas
# start together: they serialise on a database lock), then run the command.
set -eu

if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    employee-api migrate
fi

if [ "$#" -eq 0 ]; then
    set -- employee-api serve --no-migrate
fi
exec "$@"
