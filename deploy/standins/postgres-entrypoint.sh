#!/bin/sh
# First boot as the official image does it: initdb, the user and database from
# the environment, password logins over TCP; then postgres in the foreground.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
    initdb --username="$user" --pwfile=/tmp/pwfile --auth-local=trust \
        --auth-host=scram-sha-256 > /dev/null
    rm -f /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.auto.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
        # A socket-only server for the set-up, as the official image runs one.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
        createdb --username="$user" "$db"
        pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
    fi
fi
exec "$@"
