#!/usr/bin/env bash
# make bench: builds what it measures (the release droplet, the bench driver, the Node reference's
# packages), finds or sets up PostgreSQL (scripts/postgres.sh), installs Debian's wrk when missing,
# then runs every scenario once and writes BENCHMARKS.md. About five minutes once built.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "error: wrk is missing; install Debian's wrk package" >&2; exit 1; }
  say "installing Debian's wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ ! -d bench/reference/node_modules ] || [ bench/reference/package-lock.json -nt bench/reference/node_modules ]; then
  say "installing the reference's npm packages"
  (cd bench/reference && npm ci --no-audit --no-fund --silent)
fi
url=${BENCH_DATABASE_URL:-$(scripts/postgres.sh)}

make --no-print-directory release
say "building the bench driver"
cargo build --release -p bench
say "running the benchmarks (BENCHMARKS.md)"
BENCH_DATABASE_URL=$url DROPLET_BIN=target/release/droplet target/release/droplet-bench run >/dev/null
say "wrote BENCHMARKS.md"
