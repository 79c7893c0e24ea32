#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (SQLite and PostgreSQL), the real
# wandb SDK suites (0.31.0 and 0.19.11) against the built server, once alone and once as
# three instances on PostgreSQL behind nginx with their blobs in an S3 bucket, then the
# browser tests (Debian's Chromium driven by playwright-core) against the same binary with
# the web UI. The S3-compatible server is moto's, from PyPI: scripts/s3-venv.sh installs it
# into target/s3-venv the first time a test needs it.
#
#   TEST_DATABASE_URL  PostgreSQL server the tests create their databases on
#                      (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[test] $*" >&2; }

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# PostgreSQL is a service of this machine kind; start it if it is installed but stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        log "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { log "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }

log "building the web UI (embedded into the binary)"
bash scripts/build-ui.sh
(cd ui && npm run size --silent)

log "cargo test (unit, integration, store conformance on SQLite and PostgreSQL)"
cargo test --all-targets --locked

# cargo test built target/debug/fulcrum for the CLI tests; the suites below use it.
log "wandb SDK suites"
FULCRUM_BIN="$PWD/target/debug/fulcrum" bash tests/sdk/run.sh

# The same suite against three instances on one PostgreSQL database behind nginx.
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    log "installing Debian's nginx"
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1) \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
fi
log "wandb SDK suites, three instances behind nginx"
SDK_CLUSTER=3 FULCRUM_BIN="$PWD/target/debug/fulcrum" bash tests/sdk/run.sh

# Browsers are never downloaded: the tests drive Debian's chromium. The CJK font makes
# the Korean screenshots (target/browser-artifacts/) readable.
if [[ ! -x /usr/bin/chromium ]] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
    log "installing Debian's chromium and a CJK font"
    packages=(chromium fonts-noto-cjk)
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1) \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null; }
fi

log "browser tests"
(cd ui && FULCRUM_BIN="$PWD/../target/debug/fulcrum" npm test --silent)
