#!/usr/bin/env bash
# Builds the web UI into ui/dist (embedded into the binary by the next cargo build).
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
