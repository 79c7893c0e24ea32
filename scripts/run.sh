#!/usr/bin/env bash
# Builds the web UI and the server, then runs Fulcrum on its embedded defaults
# (SQLite and everything else in ./fulcrum-data, http://127.0.0.1:8080).
# Extra arguments go to `fulcrum serve`, e.g. scripts/run.sh --listen 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-ui.sh
exec cargo run --release --locked -- serve "$@"
