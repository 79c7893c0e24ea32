#!/usr/bin/env bash
# Creates (idempotently) target/s3-venv with moto's S3-compatible server, which the
# object-storage tests start on a free port. Prints the server program's path.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$REPO/target/s3-venv"
REQ="$REPO/tests/s3/requirements.txt"
PYTHON="${PYTHON:-python3}"
want="$(sha256sum < "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/moto_server" || "$(cat "$VENV/.fulcrum-stamp" 2>/dev/null)" != "$want" ]]; then
    echo "[s3-venv] creating $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$REPO/target"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check --no-input -r "$REQ" >&2
    echo "$want" > "$VENV/.fulcrum-stamp"
fi
echo "$VENV/bin/moto_server"
