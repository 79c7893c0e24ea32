#!/usr/bin/env bash
# Fulcrum load benchmark: SQLite then PostgreSQL, one run, ratios against a baseline measured
# in the same run. See BENCHMARKS.md for what is measured and why.
#
#   bench/load.sh                      build (cargo build --release) and run everything
#   FULCRUM_BIN=/path/fulcrum bench/load.sh   use that binary, no build
#
# Targets, interleaved in every round (baseline, viewer, profile, baseline, ...):
#   baseline  GET /healthz
#   viewer    POST /graphql, the wandb SDK's Viewer query, authenticated with the bench key
#   profile   POST /graphql, anonymous: the web UI's public profile query for the bench user,
#             whose intro is first set to a ~10 kB Markdown document (bench.py intro)
#
# Tunables (defaults are the documented method; change them only for a quick smoke test):
#   BENCH_BACKENDS="sqlite postgres"  BENCH_TARGETS="baseline viewer profile"
#   BENCH_DURATION=10  BENCH_WARMUP=3  BENCH_ROUNDS=3  BENCH_CONNS="32 4"
#   BENCH_EXTRA_KEYS=200  BENCH_SEED_BUDGET_S=20  BENCH_DEADLINE_S=480
#   BENCH_PG_HOST=127.0.0.1  BENCH_PG_PORT=5432  BENCH_PG_USER=postgres
#
# BENCH_SEED_BUDGET_S caps the extra-key seeding per backend (observed: ~5-6 s for 200 keys) so
# that the whole measured part stays under BENCH_DEADLINE_S (480 s, enforced with `timeout`;
# the build before it is not counted; a full run takes ~7 min of wrk plus ~40 s of set-up).
#
# Output: progress and a Markdown summary on stdout, log lines on stderr;
# bench/results/latest.json (+ the raw per-run records in bench/results/latest.jsonl).
# Exit status: 0 only if every request of every run (warm-ups included) got HTTP 200 with the
# expected body (the bench viewer; the bench user with its rendered intro) and wrk saw no
# socket errors; 2 if some run or backend was invalid; 1 on
# failure; 124 if the deadline was hit (partial results are still written).
# Everything listens on / connects to 127.0.0.1 only. Servers are stopped by pid and the
# PostgreSQL database is dropped on every exit path (trap).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
HELPER="$BENCH_DIR/bench.py"
LUA="$BENCH_DIR/wrk.lua"
RESULTS_DIR="$BENCH_DIR/results"

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-"32 4"}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
TARGETS=${BENCH_TARGETS:-"baseline viewer profile"}
EXTRA_KEYS=${BENCH_EXTRA_KEYS:-200}
SEED_BUDGET_S=${BENCH_SEED_BUDGET_S:-20}
DEADLINE_S=${BENCH_DEADLINE_S:-480}
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}

log() { printf '[load.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

[[ $PG_HOST == 127.0.0.1 ]] || fail "BENCH_PG_HOST must be 127.0.0.1 (everything stays local)"
for n in "$DURATION" "$WARMUP" "$ROUNDS" "$EXTRA_KEYS" "$SEED_BUDGET_S" "$DEADLINE_S"; do
  [[ $n =~ ^[0-9]+$ ]] || fail "numeric BENCH_* setting expected, got '$n'"
done
[[ " $TARGETS " == " baseline "* ]] || fail "BENCH_TARGETS must start with baseline, got '$TARGETS'"
for t in $TARGETS; do
  [[ $t == baseline || $t == viewer || $t == profile ]] || fail "unknown target '$t' in BENCH_TARGETS (baseline viewer profile)"
done
command -v python3 >/dev/null || fail "python3 is required"
command -v timeout >/dev/null || fail "timeout (coreutils) is required"

# ------------------------------------------------------------------ phase 1: build and tools
# Not time-bounded (a cold release build takes minutes on 2 cores); the benchmark proper then
# re-executes itself under `timeout` so that the measured part is bounded.
if [[ -z ${_BENCH_TIMED:-} ]]; then
  if [[ -n ${FULCRUM_BIN:-} ]]; then
    BIN=$FULCRUM_BIN
    [[ -x $BIN ]] || fail "FULCRUM_BIN=$BIN is not an executable file"
    log "using FULCRUM_BIN=$BIN (no build)"
  else
    command -v cargo >/dev/null || fail "cargo not found (or set FULCRUM_BIN)"
    log "cargo build --release (in $REPO)"
    (cd "$REPO" && cargo build --release) || fail "cargo build --release failed"
    BIN="$REPO/target/release/fulcrum"
    [[ -x $BIN ]] || fail "build finished but $BIN is missing"
  fi
  BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

  if ! command -v wrk >/dev/null; then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null || fail "wrk is missing and we are not root (install wrk)"
      SUDO="sudo"
    fi
    log "installing wrk"
    if ! $SUDO apt-get install -y wrk; then
      log "apt-get install failed; running apt-get update and retrying"
      $SUDO apt-get update && $SUDO apt-get install -y wrk || fail "cannot install wrk"
    fi
  fi
  command -v wrk >/dev/null || fail "wrk still not found after installing"

  export _BENCH_TIMED=1 _BENCH_BIN="$BIN"
  # timeout puts itself and this script in a new process group and sends TERM to the whole
  # group at the deadline; our trap then stops the server and drops the database.
  exec timeout --kill-after=30 "$DEADLINE_S" bash "${BASH_SOURCE[0]}" "$@"
fi

# ------------------------------------------------------------------ phase 2: the benchmark
BIN=$_BENCH_BIN
unset _BENCH_TIMED _BENCH_BIN

# Only the settings chosen here reach Fulcrum: drop every FULCRUM_* variable from the caller
# (FULCRUM_DATABASE_URL would silently turn the SQLite pass into something else).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^FULCRUM_' || true)
# The default is 100 keys per account; the seeding below needs 1 + EXTRA_KEYS.
export FULCRUM_MAX_KEYS_PER_USER=$(( EXTRA_KEYS + 10 > 100 ? EXTRA_KEYS + 10 : 100 ))
export PGCONNECT_TIMEOUT=5 BENCH_PG_PORT=$PG_PORT BENCH_PG_USER=$PG_USER

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fulcrum-bench.XXXXXX")
# Run from the scratch dir so that no ./fulcrum.toml is picked up.
cd "$WORK"
mkdir -p "$RESULTS_DIR"
RAW="$WORK/records.jsonl"
: >"$RAW"

SERVER_PID=""
SERVER_PIDFILE=""
PG_DB=""
CURRENT_BACKEND=""
SUMMARY_DONE=""
RUN_START=$(date +%s)

server_alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1) || return 1
  [[ $state != Z ]]
}

stop_server() {
  local pid=$SERVER_PID
  if [[ -z $pid && -n $SERVER_PIDFILE && -s $SERVER_PIDFILE ]]; then
    pid=$(<"$SERVER_PIDFILE")
  fi
  [[ -n $pid ]] || return 0
  # Guard against pid reuse: only signal our own fulcrum serve process.
  if server_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- " serve "; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do server_alive "$pid" || break; sleep 0.05; done
    if server_alive "$pid"; then
      log "server $pid ignored TERM for 5 s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  SERVER_PID=""
  SERVER_PIDFILE=""
}

psql_admin() {
  timeout 20 psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -X -q -At \
    -v ON_ERROR_STOP=1 -c "$1"
}

drop_db() {
  [[ -n $PG_DB ]] || return 0
  if psql_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null; then
    log "dropped database $PG_DB"
  else
    log "WARNING: could not drop database $PG_DB; drop it by hand"
  fi
  PG_DB=""
}

summarise() {
  python3 "$HELPER" summarise --in "$RAW" --json "$RESULTS_DIR/latest.json"
  cp "$RAW" "$RESULTS_DIR/latest.jsonl"
  SUMMARY_DONE=1
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ $rc -ne 0 && $rc -ne 2 && -n $CURRENT_BACKEND && -n ${SERVER_LOG:-} && -s $SERVER_LOG ]]; then
    log "last lines of the $CURRENT_BACKEND server log, per-request lines left out:"
    grep -v ' served ' "$SERVER_LOG" | tail -n 15 >&2
  fi
  stop_server
  drop_db
  if [[ -z $SUMMARY_DONE && -s $RAW ]]; then
    local reason="exit status $rc"
    [[ $rc -eq 143 ]] && reason="TERM (deadline BENCH_DEADLINE_S=$DEADLINE_S s reached, or interrupted)"
    [[ $rc -eq 130 ]] && reason="interrupted (INT)"
    python3 "$HELPER" emit --out "$RAW" type=meta aborted=true \
      "abort_reason=$reason during ${CURRENT_BACKEND:-setup}" 2>/dev/null
    log "run did not complete; partial results follow"
    summarise || true
  fi
  if [[ $rc -ne 0 && $rc -ne 2 && -d $WORK ]]; then
    # Server logs carry one line per request (hundreds of MB is possible): keep the tails.
    mkdir -p "$RESULTS_DIR/failed-logs"
    local f
    for f in "$WORK"/*.log; do
      [[ -e $f ]] && tail -n 300 "$f" >"$RESULTS_DIR/failed-logs/$(basename "$f")"
    done
    log "server log tails kept in $RESULTS_DIR/failed-logs/"
  fi
  [[ -n ${WORK:-} && -d $WORK ]] && rm -rf "$WORK"
  log "finished in $(( $(date +%s) - RUN_START )) s (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

emit() { python3 "$HELPER" emit --out "$RAW" "$@"; }

# ------------------------------------------------------------------ meta
mem_gib=$(awk '/^MemTotal:/ {printf "%.1f", $2/1048576}' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
git_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty_src=false
git_dirty_paths=$(git -C "$REPO" status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null \
  | awk '{print $NF}' | head -n 20 | paste -sd' ' - || true)
[[ -n $git_dirty_paths ]] && git_dirty_src=true
emit type=meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "nproc=$(nproc)" "mem_gib=$mem_gib" \
  "cpu_model=$cpu_model" "kernel=$(uname -sr)" "wrk_version=$(wrk -v 2>&1 | head -n1 | awk '{print $2}')" \
  "fulcrum_version=$("$BIN" --version 2>/dev/null || echo unknown)" "binary=$BIN" \
  "git_commit=$git_commit" "git_dirty_src=$git_dirty_src" "git_dirty_paths=$git_dirty_paths" \
  "targets=$TARGETS" "duration_s=$DURATION" \
  "warmup_s=$WARMUP" "rounds=$ROUNDS" "conns=$CONNS" "extra_keys_target=$EXTRA_KEYS" \
  "loadavg_start=$(cut -d" " -f1-3 /proc/loadavg)"
log "binary $BIN ($("$BIN" --version 2>/dev/null || echo '?')), commit $git_commit, uncommitted: ${git_dirty_paths:-none}"
log "targets: $TARGETS"
log "machine: $(nproc) CPUs ($cpu_model), ${mem_gib} GiB; deadline ${DEADLINE_S} s"

# ------------------------------------------------------------------ one backend
run_backend() {
  local backend=$1
  CURRENT_BACKEND=$backend
  local data dburl="" t0 t1 key out pid cold idle_rss hwm conns r i created seed_note=""
  data=$(mktemp -d "$WORK/data-$backend.XXXXXX")
  SERVER_LOG="$WORK/server-$backend.log"
  log "=== $backend ==="

  if [[ $backend == postgres ]]; then
    command -v psql >/dev/null || { emit type=backend backend=postgres "error=psql not found"; log "psql not found: PostgreSQL skipped"; return 0; }
    if ! psql_admin "SELECT 1" >/dev/null 2>"$WORK/psql.err"; then
      local msg; msg=$(tr '\n' ' ' <"$WORK/psql.err")
      emit type=backend backend=postgres "error=PostgreSQL at $PG_HOST:$PG_PORT not reachable as $PG_USER: $msg"
      log "PostgreSQL not reachable ($msg): PostgreSQL skipped"
      return 0
    fi
    PG_DB="fulcrum_bench_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    psql_admin "CREATE DATABASE $PG_DB" >/dev/null || fail "CREATE DATABASE $PG_DB failed"
    dburl="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
    log "created database $PG_DB"
  fi

  local store=(--data-dir "$data")
  [[ -n $dburl ]] && store+=(--database-url "$dburl")
  admin() { timeout 60 "$BIN" admin "${store[@]}" "$@"; }

  # --- seed: one user, its key, then up to EXTRA_KEYS more keys for the same user
  t0=$(date +%s.%N)
  printf 'benchpassword\n' | admin create-user --username bench --email bench@example.com >/dev/null \
    || fail "$backend: admin create-user failed"
  key=$(admin create-key --username bench --name bench) || fail "$backend: admin create-key failed"
  [[ -n $key && $key != *$'\n'* && $key != *' '* ]] || fail "$backend: create-key printed something unexpected: $key"
  created=0
  local seed_start=$SECONDS
  for (( i = 1; i <= EXTRA_KEYS; i++ )); do
    if (( SECONDS - seed_start >= SEED_BUDGET_S )); then
      seed_note="extra-key seeding stopped after ${SEED_BUDGET_S} s with $created of $EXTRA_KEYS keys"
      log "$seed_note"
      break
    fi
    admin create-key --username bench --name "extra-$i" >/dev/null || fail "$backend: create-key extra-$i failed"
    created=$(( created + 1 ))
  done
  t1=$(date +%s.%N)
  local seeding_s; seeding_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  log "$backend: seeded 1 user, $(( created + 1 )) API keys in ${seeding_s} s"

  # --- cold start
  local port; port=$(python3 "$HELPER" free-port)
  SERVER_PIDFILE="$WORK/server-$backend.pid"
  out=$(python3 "$HELPER" spawn --pidfile "$SERVER_PIDFILE" --log "$SERVER_LOG" --port "$port" \
        --cwd "$WORK" --timeout 30 -- "$BIN" serve --listen "127.0.0.1:$port" "${store[@]}") \
    || fail "$backend: server did not start"
  [[ $out =~ \"pid\":\ ([0-9]+) ]] || fail "spawn printed: $out"
  pid=${BASH_REMATCH[1]}; SERVER_PID=$pid
  [[ $out =~ \"cold_start_ms\":\ ([0-9.]+) ]] || fail "spawn printed: $out"
  cold=${BASH_REMATCH[1]}
  log "$backend: server pid $pid on 127.0.0.1:$port, cold start ${cold} ms"

  # --- idle RSS
  sleep 1
  out=$(python3 "$HELPER" rss --pid "$pid") || fail "$backend: server died while idle"
  [[ $out =~ \"vm_rss_kib\":\ ([0-9]+) ]] || fail "rss printed: $out"
  idle_rss=${BASH_REMATCH[1]}

  # --- one checked Viewer request before the load
  export BENCH_AUTH="Basic $(printf 'api:%s' "$key" | base64 -w0)"
  python3 "$HELPER" check-viewer --port "$port" --username bench >/dev/null \
    || fail "$backend: the Viewer query did not answer as expected"

  # --- the profile page: store the ~10 kB intro with the bench key (updateIntro renders and
  # sanitizes it once), then one checked anonymous request before the load
  local intro_fields=()
  if [[ " $TARGETS " == *" profile "* ]]; then
    out=$(python3 "$HELPER" set-intro --port "$port") || fail "$backend: updateIntro failed"
    [[ $out =~ \"intro_bytes\":\ ([0-9]+) ]] && intro_fields+=("intro_bytes=${BASH_REMATCH[1]}")
    [[ $out =~ \"intro_html_bytes\":\ ([0-9]+) ]] && intro_fields+=("intro_html_bytes=${BASH_REMATCH[1]}")
    [[ $out =~ \"intro_sha256\":\ \"([0-9a-f]+)\" ]] && intro_fields+=("intro_sha256=${BASH_REMATCH[1]}")
    out=$(python3 "$HELPER" check-profile --port "$port" --username bench) \
      || fail "$backend: the public profile query did not answer as expected"
    [[ $out =~ \"profile_response_bytes\":\ ([0-9]+) ]] && intro_fields+=("profile_response_bytes=${BASH_REMATCH[1]}")
    log "$backend: intro set (${intro_fields[*]})"
  fi

  # --- load
  local base_url="http://127.0.0.1:$port/healthz" gql_url="http://127.0.0.1:$port/graphql"
  local tmo=$(( DURATION > WARMUP ? DURATION : WARMUP )); tmo=$(( tmo + 25 ))
  wrk_run() { # target conns seconds round [--warmup]
    local target=$1 c=$2 secs=$3 round=$4; shift 4
    local url=$base_url
    [[ $target != baseline ]] && url=$gql_url
    # On PostgreSQL also account the CPU of the database's backend processes (local server).
    [[ -n $PG_DB ]] && set -- "$@" --pg-db "$PG_DB"
    BENCH_MODE=$target python3 "$HELPER" wrk --pid "$pid" --out "$RAW" --backend "$backend" \
      --pass "c$c" --target "$target" --round "$round" --timeout "$tmo" "$@" -- \
      -t2 "-c$c" "-d${secs}s" --timeout 10s --latency -s "$LUA" "$url"
  }
  for conns in $CONNS; do
    log "$backend: -t2 -c$conns: ${WARMUP} s warm-up per target, then $ROUNDS interleaved rounds of ${DURATION} s"
    for t in $TARGETS; do wrk_run "$t" "$conns" "$WARMUP" 0 --warmup; done
    for (( r = 1; r <= ROUNDS; r++ )); do
      for t in $TARGETS; do wrk_run "$t" "$conns" "$DURATION" "$r"; done
    done
  done

  out=$(python3 "$HELPER" rss --pid "$pid") || fail "$backend: server died after the load"
  [[ $out =~ \"vm_hwm_kib\":\ ([0-9]+) ]] || fail "rss printed: $out"
  hwm=${BASH_REMATCH[1]}

  emit type=backend "backend=$backend" "cold_start_ms=$cold" "idle_rss_kib=$idle_rss" \
    "peak_rss_kib=$hwm" "keys_total=$(( created + 1 ))" "seeding_s=$seeding_s" \
    "seeding_note=$seed_note" "database=${PG_DB:-sqlite file in a fresh temp data dir}" \
    ${intro_fields[@]+"${intro_fields[@]}"}
  stop_server
  drop_db
  unset BENCH_AUTH
  CURRENT_BACKEND=""
}

for b in $BACKENDS; do
  case $b in
    sqlite|postgres) run_backend "$b" ;;
    *) fail "unknown backend '$b' in BENCH_BACKENDS (sqlite, postgres)" ;;
  esac
done

echo
summarise
echo
log "results: $RESULTS_DIR/latest.json"
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["all_valid"] else 2)' \
  "$RESULTS_DIR/latest.json" || { log "INVALID: a backend failed or some run had non-200 responses or socket errors (see notes)"; exit 2; }
