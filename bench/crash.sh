#!/usr/bin/env bash
# The kill -9 harness at length: tests/crash.rs with 25 kills per backend (the test run
# has 3), one backend after the other. Prints what was acknowledged and what came back.
#
#   bench/crash.sh              KILLS=50 bench/crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
CRASH_KILLS="${KILLS:-25}" cargo test --locked --test crash -- --nocapture --test-threads 1 2>&1 \
    | grep -E "kills;|alerts:|^test |panicked|test result"
