#!/usr/bin/env bash
# The PostgreSQL half of the integration suite: every test of server/tests/it again, each on a fresh
# database of its own, created (and dropped) on the server scripts/postgres.sh finds or sets up.
set -euo pipefail
cd "$(dirname "$0")/.."

url=$(scripts/postgres.sh)
if [ -z "$url" ]; then
  printf '\033[1;33m!!! SKIPPING THE POSTGRESQL HALF OF THE INTEGRATION SUITE (see above)\033[0m\n' >&2
  exit 0
fi
printf '\033[1m==> %s\033[0m\n' "integration suite on PostgreSQL" >&2
# The same packages as `make unit`, so that features resolve alike and nothing is rebuilt.
TEST_BACKEND=postgres TEST_DATABASE_URL=$url cargo test -p fluid -p domain -p app -p server --test it
