#!/usr/bin/env bash
# Writes a development .env with freshly generated secrets, unless one exists already.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] && exit 0
cat > .env <<ENV
# Development settings written by 'make run' ($(date -u +%Y-%m-%dT%H:%M:%SZ)). Not for production.
DATABASE_URL=sqlite://droplet.db
LEPTOS_SITE_ADDR=127.0.0.1:3000
# Loopback, where the local stand-in for Fluid (droplet sim) listens; set https://api.fluid.app for the real Fluid.
FLUID_API_BASE_URL=http://127.0.0.1:3999
FLUID_WEBHOOK_SECRET=dws_dev_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
DROPLET_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
FLUID_FRAME_ANCESTORS="https://*.fluid.app http://localhost:3000 http://127.0.0.1:3000"
ENV
echo "wrote .env with generated development secrets" >&2
