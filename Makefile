# The two commands that matter: `make run` and `make test`. Each installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# cargo-leptos builds the server with LEPTOS_OUTPUT_NAME set; setting it for plain cargo too
# keeps one set of compiled Leptos crates instead of two.
export LEPTOS_OUTPUT_NAME := droplet

RUST_PACKAGES := -p fluid -p domain -p app -p server
# Linted too, never tested: the benchmark driver.
LINT_PACKAGES := $(RUST_PACKAGES) -p bench

# A clean clone builds once: incremental caches would only cost CI time and disk.
ifdef CI
export CARGO_INCREMENTAL := 0
endif
# What the release binary is built from: rebuilt only when one of these changed.
SOURCES := $(shell git ls-files Cargo.toml Cargo.lock app domain fluid frontend server style public 2>/dev/null)

.PHONY: run test tools test-tools release lint unit postgres fuzz-smoke fuzz bench e2e fmt

## run: build the release binary (site embedded), then `droplet dev`: the service on
## http://127.0.0.1:3000 with a simulated Fluid and a demo company; prints the admin URL
run: tools release
	@scripts/dev-env.sh
	./target/release/droplet dev

## test: formatting, clippy, unit and integration tests (the integration suite on SQLite, then on
## PostgreSQL), a few seconds of fuzzing per target, then the browser suite on the release build
test: test-tools lint unit postgres fuzz-smoke release e2e

tools:
	@scripts/tools.sh build

test-tools:
	@scripts/tools.sh test

release: target/release/droplet

target/release/droplet: $(SOURCES)
	cargo leptos build --release --precompress
	@touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy $(LINT_PACKAGES) --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

unit:
	@mkdir -p target/site
	cargo test $(RUST_PACKAGES)

## postgres: the integration suite again on PostgreSQL (TEST_DATABASE_URL, or a local one; see the script)
postgres:
	@mkdir -p target/site
	@scripts/test-postgres.sh

## fuzz-smoke: each fuzz target for FUZZ_SECONDS (10); fuzz: each (or FUZZ_TARGETS) for FUZZ_SECONDS (900), figures to fuzz/RESULTS.md
fuzz-smoke:
	@scripts/fuzz.sh smoke

fuzz:
	@scripts/fuzz.sh long $${FUZZ_SECONDS:-900} $${FUZZ_TARGETS:-}

## bench: every figure of BENCHMARKS.md from one run (ingest, callbacks, handshake, pages, memory, start-up)
bench: test-tools
	@scripts/bench.sh

e2e:
	cd end2end && npx playwright test

fmt:
	cargo fmt --all
