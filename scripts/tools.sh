#!/usr/bin/env bash
# Installs what building and testing need, checking first: a second run takes seconds.
#   scripts/tools.sh build   rustup's wasm target, cargo-leptos (no downloads), wasm-bindgen-cli, wasm-opt
#   scripts/tools.sh test    the above, plus Debian's Chromium and the end2end npm packages
# Versions are pinned here; wasm-bindgen-cli follows the wasm-bindgen that Cargo.lock pins.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_VERSION=132.0.0
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if ! is_root; then
    echo "error: $1 is missing and this is not root; install Debian's '$1' package (sudo apt-get install $1)" >&2
    exit 1
  fi
  say "installing Debian's $1"
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

build_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    # no_downloads: cargo-leptos must use the tools on PATH, never fetch its own.
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --ignore-rust-version --features no_downloads
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    # Not --locked: its lockfile pins a yanked crate.
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*} "; then
    # Debian's binaryen (wasm-opt 108) silently produces WASM that fails to hydrate.
    if dpkg -s binaryen >/dev/null 2>&1 && is_root; then
      say "removing Debian's binaryen (its wasm-opt breaks hydration)"
      apt-get remove -y -qq binaryen >/dev/null
    fi
    command -v npm >/dev/null || apt_install npm
    say "installing wasm-opt from npm's binaryen@$BINARYEN_VERSION"
    npm install -g --silent "binaryen@$BINARYEN_VERSION"
  fi
}

test_tools() {
  command -v chromium >/dev/null || apt_install chromium
  if [ ! -x end2end/node_modules/.bin/playwright ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the end2end npm packages (no browser download)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
  fi
}

case "${1:-build}" in
  build) build_tools ;;
  test) build_tools; test_tools ;;
  *) echo "usage: scripts/tools.sh build|test" >&2; exit 2 ;;
esac
