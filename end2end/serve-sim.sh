#!/usr/bin/env bash
# Serves the simulated Fluid the suite's droplet talks to (`droplet sim`), from the same
# release binary, with nothing from the environment but what the suite passes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary="$here/../target/release/droplet"
[ -x "$binary" ] || { echo "error: $binary is missing; run 'make release' first" >&2; exit 1; }
cd "$(mktemp -d)"
exec env -i PATH=/usr/bin:/bin \
  FLUID_WEBHOOK_SECRET="$E2E_WEBHOOK_SECRET" \
  FLUID_DROPLET_UUID="$E2E_DROPLET_UUID" \
  FLUID_SESSION_TOKEN_SECRET="$E2E_SESSION_TOKEN_SECRET" \
  FLUID_DROPLET_SECRET="$E2E_DROPLET_SECRET" \
  "$binary" sim --listen "127.0.0.1:$E2E_SIM_PORT" --droplet-url "http://127.0.0.1:$E2E_PORT"
