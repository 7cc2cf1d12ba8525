#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer on nightly), targets in fuzz/fuzz_targets.
#   scripts/fuzz.sh smoke         every target for FUZZ_SECONDS (default 10): part of `make test`
#   scripts/fuzz.sh long [SECS [TARGET…]]
#                                 every target (or those named) for SECS (default 900): `make fuzz`;
#                                 figures appended to fuzz/RESULTS.md, a crash's too
# A crash fails the run and leaves its input in fuzz/artifacts/TARGET/ (reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`). Corpora grow in fuzz/corpus/
# (not committed), seeded from fuzz/seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(signature lifecycle_payload company_event callback_request shipping_matching)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

mode=${1:-smoke}
case "$mode" in
  smoke) seconds=${FUZZ_SECONDS:-10} ;;
  long)
    seconds=${2:-900}
    if [ $# -gt 2 ]; then TARGETS=("${@:3}"); fi
    ;;
  *) echo "usage: scripts/fuzz.sh smoke | long [SECONDS [TARGET…]]" >&2; exit 2 ;;
esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (fuzzing needs its sanitizers)"
  rustup toolchain install nightly --profile minimal
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

say "building the fuzz targets"
(cd fuzz && cargo +nightly fuzz build --release)

summary=()
# Appends this run's rows to fuzz/RESULTS.md (long runs only).
record() {
  [ "$mode" = long ] || return 0
  if [ ! -f fuzz/RESULTS.md ]; then
    printf '# Long fuzzing runs\n\nAppended by `make fuzz`.\n' > fuzz/RESULTS.md
  fi
  {
    echo
    echo "## $(date -u +%Y-%m-%d) — ${seconds} s per target, $(nproc) cores, $(rustup run nightly rustc --version)"
    echo
    printf '%s\n' "| target | time | executions | coverage (edges) | corpus | crashes |" "|---|---|---|---|---|---|" "${summary[@]}"
  } >> fuzz/RESULTS.md
  say "results appended to fuzz/RESULTS.md"
}
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
  say "fuzzing $target for ${seconds}s"
  log=$(mktemp)
  started=$(date +%s)
  if ! (cd fuzz && cargo +nightly fuzz run --release "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1) >"$log" 2>&1; then
    grep -a -A3 'panicked at' "$log" >&2 || true
    tail -60 "$log" >&2
    summary+=("| \`$target\` | crashed after $(( $(date +%s) - started )) s | | | | see fuzz/artifacts/$target/ |")
    record
    echo "error: fuzz target $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  summary+=("| \`$target\` | ${seconds} s | ${runs:-?} | ${cov:-?} | $corpus | none |")
  rm -f "$log"
done

printf '%s\n' "| target | time | executions | coverage (edges) | corpus | crashes |" "|---|---|---|---|---|---|" "${summary[@]}"
record
