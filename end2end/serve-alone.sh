#!/usr/bin/env bash
# Copies the release binary, alone, into an empty directory and serves from there: the suite then
# proves the binary carries every asset it needs. Its configuration includes the repository's
# droplet.toml (the checkout drop zone comes from it), read where it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary="$here/../target/release/droplet"
[ -x "$binary" ] || { echo "error: $binary is missing; run 'make release' first" >&2; exit 1; }
rm -rf "$E2E_ALONE_DIR"
mkdir -p "$E2E_ALONE_DIR"
cp "$binary" "$E2E_ALONE_DIR/droplet"
cd "$E2E_ALONE_DIR"
exec env -i PATH=/usr/bin:/bin HOME="$E2E_ALONE_DIR" \
  DATABASE_URL=sqlite://droplet.db \
  DROPLET_MANIFEST="$here/../droplet.toml" \
  LEPTOS_SITE_ADDR="127.0.0.1:$E2E_PORT" \
  FLUID_WEBHOOK_SECRET="$E2E_WEBHOOK_SECRET" \
  FLUID_DROPLET_UUID="$E2E_DROPLET_UUID" \
  FLUID_API_BASE_URL="http://127.0.0.1:$E2E_SIM_PORT" \
  DROPLET_ENCRYPTION_KEY="$E2E_ENCRYPTION_KEY" \
  FLUID_FRAME_ANCESTORS="$E2E_FRAME_ANCESTORS" \
  FLUID_SESSION_TOKEN_SECRET="$E2E_SESSION_TOKEN_SECRET" \
  FLUID_SESSION_TOKEN_ISSUER="http://127.0.0.1:$E2E_SIM_PORT" \
  FLUID_DROPLET_SECRET="$E2E_DROPLET_SECRET" \
  FLUID_APP_URL="http://localhost:$E2E_SIM_PORT" \
  ./droplet serve
