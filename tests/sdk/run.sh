#!/usr/bin/env bash
# Set up (idempotently) the two wandb SDK venvs and run the SDK test suite
# against a Fulcrum binary that the caller has already built.
#
#   FULCRUM_BIN   server binary (default: $REPO/target/debug/fulcrum); not built here
#   PYTHON        interpreter used to create the venvs (default: python3)
#   extra args    passed to pytest (e.g. -k login, -x)
#
# Exit code = pytest's exit code (2 if the binary is missing, 3 if set-up fails).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENVS="$REPO/target/sdk-venvs"
PYTHON="${PYTHON:-python3}"
export FULCRUM_BIN="${FULCRUM_BIN:-$REPO/target/debug/fulcrum}"

log() { echo "[sdk-tests] $*" >&2; }

# ensure_venv NAME REQUIREMENTS_FILE WANDB_VERSION
ensure_venv() {
    local name="$1" req="$2" want="$3"
    local dir="$VENVS/$name"
    local stamp_want
    stamp_want="$(cat "$req" | sha256sum | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [[ -x "$dir/bin/python" && -f "$dir/.fulcrum-stamp" ]] \
        && [[ "$(cat "$dir/.fulcrum-stamp")" == "$stamp_want" ]] \
        && [[ "$("$dir/bin/python" -c 'import wandb; print(wandb.__version__)' 2>/dev/null)" == "$want" ]]; then
        return 0
    fi
    log "creating venv $dir (wandb==$want)"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    "$PYTHON" -m venv "$dir" || return 1
    "$dir/bin/python" -m pip install -q --no-cache-dir --disable-pip-version-check --no-input -r "$req" || return 1
    local got
    got="$("$dir/bin/python" -c 'import wandb; print(wandb.__version__)')" || return 1
    if [[ "$got" != "$want" ]]; then
        log "venv $dir has wandb $got, expected $want"
        return 1
    fi
    echo "$stamp_want" > "$dir/.fulcrum-stamp"
}

ensure_venv wandb-0.31.0 "$HERE/requirements-0.31.txt" 0.31.0 || { log "set-up of wandb-0.31.0 failed"; exit 3; }
ensure_venv wandb-0.19.11 "$HERE/requirements-0.19.txt" 0.19.11 || { log "set-up of wandb-0.19.11 failed"; exit 3; }

if [[ ! -x "$FULCRUM_BIN" ]]; then
    log "server binary not found: $FULCRUM_BIN (build it first, e.g. cargo build; or set FULCRUM_BIN)"
    exit 2
fi

export WANDB_019_PYTHON="$VENVS/wandb-0.19.11/bin/python"
export WANDB_031_PYTHON="$VENVS/wandb-0.31.0/bin/python"
# Never let the SDKs talk to anything but the local server.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

cd "$REPO"
"$WANDB_031_PYTHON" -m pytest tests/sdk -q -p no:cacheprovider "$@"
exit $?
