#!/usr/bin/env bash
# The registry server's footprint and its resolve path, measured in one run:
#   - start-up: `promptops serve` with no flags on a fresh folder, until /healthz answers;
#   - idle RSS of the server after it has been seeded and has served requests;
#   - requests/s and latency of resolve (GET /v1/projects/P/environments/prod/prompts/ID)
#     with wrk, keep-alive, 32 connections, for the embedded SQLite backend and, with
#     --pg, for PostgreSQL (a schema of its own in the local server);
#   - the same URL against MLflow's prompt registry as measured on this kind of machine
#     (issue #4: ~250 req/s, ~2.5 GB RSS across 15 processes);
#   - in the same run, three figures side by side: our resolve (viewer key), Redis GETs
#     of a value of the same size (../shared/bench/delivery-vs-redis.sh, when it is
#     there) and bench/bare-server, a minimal axum binary answering the same bytes (the
#     physical reference for the tail: wrk shares the two cores with the server).
#     Targets: ours >= 1.0x Redis in requests/s, our p99 <= 1.25x the bare server's.
# Usage: bench/registry.sh [--pg] [-d SECONDS] [-c CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=10
CONNS=32
PG=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pg) PG=1; shift ;;
    -d) DURATION="$2"; shift 2 ;;
    -c) CONNS="$2"; shift 2 ;;
    *) echo "usage: bench/registry.sh [--pg] [-d SECONDS] [-c CONNECTIONS]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
# PROMPTOPS_BIN measures another build (an older commit's, to compare) as it is.
if [ -n "${PROMPTOPS_BIN:-}" ]; then
  BIN="$PROMPTOPS_BIN"
else
  cargo build --release --quiet -p promptops
  BIN="$PWD/target/release/promptops"
fi
cargo build --release --quiet -p promptops-bench-bare
BARE="$PWD/target/release/promptops-bench-bare"
KIT="${BENCH_KIT:-$(cd .. && pwd)/shared/bench}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ours, Redis and the bare server, back to back, with the same body and connections.
same_run() {
  local url="$1" key="$2" work="$3" bport bpid
  echo "-- same run: ours vs Redis GET vs a bare axum server ($CONNS connections, ${DURATION} s each)"
  if [ -x "$KIT/delivery-vs-redis.sh" ]; then
    WORK="$work/kit" "$KIT/delivery-vs-redis.sh" "$url" -c "$CONNS" -d "$DURATION" \
      -H "Authorization: Bearer $key" > "$work/kit.txt" 2>/dev/null || { echo "delivery-vs-redis.sh failed"; cat "$work/kit.txt"; }
    grep -E "^(ours|redis|ratio)" "$work/kit.txt" || true
  else
    echo "($KIT/delivery-vs-redis.sh not found: no Redis figure)"
  fi
  curl -s -H "Authorization: Bearer $key" "$url" > "$work/body.json"
  bport=$(free_port)
  "$BARE" "$work/body.json" "127.0.0.1:$bport" & bpid=$!
  until curl -sf "http://127.0.0.1:$bport/" >/dev/null; do sleep 0.01; done
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$bport/" > "$work/bare.txt"
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
  python3 - "$work/kit.txt" "$work/bare.txt" <<'PY'
import re, sys
def ms(t):
    v, u = re.match(r"([0-9.]+)(us|ms|s)", t).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
kit = open(sys.argv[1]).read()
bare = open(sys.argv[2]).read()
b_rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", bare).group(1))
b_p50 = ms(re.search(r"^\s+50%\s+(\S+)", bare, re.M).group(1))
b_p99 = ms(re.search(r"^\s+99%\s+(\S+)", bare, re.M).group(1))
print(f"{'bare: wrk -t2 against bench/bare-server':<34} {b_rps:>12.2f} {b_p50:>10.3f} {b_p99:>10.3f}")
ours = re.search(r"^ours:.*?\s([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*$", kit, re.M)
redis = re.search(r"^redis:.*?\s([0-9.]+)\s+([0-9.]+|n/a)\s+([0-9.]+|n/a)\s*$", kit, re.M)
if ours:
    o_rps, o_p99 = float(ours.group(1)), float(ours.group(3))
    if redis:
        r_rps = float(redis.group(1))
        verdict = "meets" if o_rps >= r_rps else "MISSES"
        print(f"ours / redis, requests/s: {o_rps / r_rps:.2f}x ({verdict} the 1.0x target)")
    verdict = "meets" if o_p99 <= 1.25 * b_p99 else "MISSES"
    print(f"ours / bare, p99: {o_p99 / b_p99:.2f}x ({verdict} the 1.25x target); ours / bare, requests/s: {o_rps / b_rps:.2f}x")
PY
}

run_backend() {
  local name="$1"; shift
  local work port url pid start ready
  work=$(mktemp -d)
  port=$(free_port)
  (cd "$work" && "$BIN" init demo >/dev/null)
  start=$(date +%s%N)
  (cd "$work" && PROMPTOPS_ADMIN_PASSWORD=bench-admin-password exec "$BIN" serve --addr "127.0.0.1:$port" "$@" > serve.log 2>&1) &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    sleep 0.01
  done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  export PROMPTOPS_REGISTRY="http://127.0.0.1:$port" PROMPTOPS_CONFIG_DIR="$work/config" PROMPTOPS_LOG=warn
  echo bench-admin-password | "$BIN" login --user admin --password-stdin >/dev/null
  (cd "$work/demo" && "$BIN" push >/dev/null && "$BIN" promote support.answer --to prod --version 1.0.0 >/dev/null)
  # An app reads with a viewer API key, as in production.
  local key
  key=$(cd "$work/demo" && "$BIN" key create --name bench --role viewer 2>/dev/null)
  url="http://127.0.0.1:$port/v1/projects/demo/environments/prod/prompts/support.answer"
  curl -sf -H "Authorization: Bearer $key" "$url" >/dev/null
  echo "== $name"
  echo "start-up to first /healthz answer: ${ready} ms"
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $key" "$url" > "$work/wrk.log"
  local rps p50 p99 bytes
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.log")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.log")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.log")
  bytes=$(curl -s -H "Authorization: Bearer $key" "$url" | wc -c)
  sleep 2
  local rss
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  echo "resolve: ${rps} req/s, p50 ${p50}, p99 ${p99} (wrk, keep-alive, $CONNS connections, ${DURATION} s, ${bytes}-byte body)"
  echo "idle RSS after the load: ${rss} MB (one process)"
  python3 - "$rps" "$rss" <<'PY'
import sys
rps, rss = float(sys.argv[1]), float(sys.argv[2])
print(f"vs MLflow prompt registry (~250 req/s, ~2500 MB): {rps / 250:.0f}x the requests/s, {2500 / rss:.0f}x less memory")
PY
  if [ "$name" = sqlite ]; then
    same_run "$url" "$key" "$work"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}

run_backend sqlite
if [ "$PG" = 1 ]; then
  SCHEMA="bench_$$"
  PGURL="${PROMPTOPS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
  run_backend postgres --database-url "$PGURL" --database-schema "$SCHEMA"
  psql "$PGURL" -qc "DROP SCHEMA \"$SCHEMA\" CASCADE" >/dev/null 2>&1 || true
fi
