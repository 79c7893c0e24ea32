#!/usr/bin/env bash
# The long version of tests/outage.rs: the SMTP server, Slack (the stand-in) and the object
# store (moto's S3 server) are away together for OUTAGE_SECS (default 180) while runs end
# and uploads are tried; then every alert must arrive once by mail and on Slack.
#
#   bench/outage.sh                  three minutes
#   OUTAGE_SECS=600 bench/outage.sh  ten
set -euo pipefail
cd "$(dirname "$0")/.."
export OUTAGE_SECS="${OUTAGE_SECS:-180}"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
exec cargo test --test outage -- --nocapture
