#!/bin/sh
# The PostgreSQL image's entry point (the project's own, for the real node): what the program's
# postgres Deployment expects of a Debian-based postgres image. On the first start (no
# PG_VERSION in PGDATA) it runs initdb with POSTGRES_USER/POSTGRES_PASSWORD, creates
# POSTGRES_DB, then runs postgres in the foreground on all addresses. Runs as uid 999.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "postgres entrypoint: POSTGRES_PASSWORD is empty; refusing to start without a password" >&2
  exit 1
fi
export PGDATA
# On every start, as the official image's entry point does: a volume whose group the kubelet has
# just changed for the pod's fsGroup (once, when its root did not match: a volume made by another
# deployment, e.g. one taken over by adopt) leaves PGDATA group-writable, which postgres refuses.
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >&2
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start >&2
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >&2
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  echo "postgres entrypoint: initialised $PGDATA (database $POSTGRES_DB, user $POSTGRES_USER)" >&2
fi
exec postgres -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
