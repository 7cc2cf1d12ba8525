#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server the tests and benchmarks may create databases on.
#
# Where PostgreSQL comes from, in order:
#   1. TEST_DATABASE_URL, when set (a role that may CREATE DATABASE): it must answer.
#   2. the local test role on 127.0.0.1:5432, when it answers (a previous run set it up).
#   3. as root: Debian's postgresql, installed if missing, its cluster started, the role created.
#   4. otherwise it prints nothing but one loud line on stderr; under CI that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_URL=postgres://droplet_test:droplet_test@127.0.0.1:5432/postgres

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
answers() { command -v psql >/dev/null && timeout 10 psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

local_postgres() {
  if ! command -v pg_ctlcluster >/dev/null; then
    say "installing Debian's postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version cluster port status
  if [ -z "$(pg_lsclusters -h)" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    say "creating PostgreSQL $version cluster main"
    pg_createcluster "$version" main >/dev/null
  fi
  read -r version cluster port status _ < <(pg_lsclusters -h | head -1)
  if [ "$port" != 5432 ]; then
    echo "error: the local PostgreSQL cluster $version/$cluster listens on $port, not 5432; set TEST_DATABASE_URL" >&2
    exit 1
  fi
  if [ "$status" != online ]; then
    say "starting PostgreSQL $version/$cluster"
    # After a kill -9 the old postmaster may linger as a zombie for a moment, holding the socket's
    # lock file; it is released once reaped, so a failed start is tried again.
    local attempt
    for attempt in 1 2 3 4 5; do
      pg_ctlcluster "$version" "$cluster" start && break
      [ "$attempt" = 5 ] && { echo "error: PostgreSQL $version/$cluster does not start (see above)" >&2; exit 1; }
      sleep 2
    done
  fi
  runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'droplet_test') THEN
    CREATE ROLE droplet_test LOGIN CREATEDB PASSWORD 'droplet_test';
  END IF;
END $$;
SQL
}

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  if command -v psql >/dev/null && ! answers "$TEST_DATABASE_URL"; then
    echo "error: TEST_DATABASE_URL does not answer (or the role cannot log in)" >&2
    exit 1
  fi
  url=$TEST_DATABASE_URL
elif answers "$LOCAL_URL"; then
  url=$LOCAL_URL
elif [ "$(id -u)" = 0 ]; then
  # Its tools talk on stdout ("Removed stale pid file."), and stdout is for the URL alone.
  local_postgres >&2
  url=$LOCAL_URL
  answers "$url" || { echo "error: the local PostgreSQL was set up but does not answer at $url" >&2; exit 1; }
else
  message="NO POSTGRESQL: no TEST_DATABASE_URL, nothing on 127.0.0.1:5432, and not root to install Debian's postgresql"
  if [ -n "${CI:-}" ]; then
    printf '\033[1;31m!!! %s (CI must run it: failing)\033[0m\n' "$message" >&2
    exit 1
  fi
  printf '\033[1;33m!!! %s\033[0m\n' "$message" >&2
  exit 0
fi

echo "$url"

