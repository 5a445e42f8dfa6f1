#!/usr/bin/env bash
# The registry server's footprint and its resolve path, measured in one run:
#   - start-up: `promptops serve` with no flags on a fresh folder, until /healthz answers;
#   - idle RSS of the server after it has been seeded and has served requests;
#   - requests/s and latency of resolve (GET /v1/projects/P/environments/prod/prompts/ID)
#     with wrk, keep-alive, 32 connections, for the embedded SQLite backend and, with
#     --pg, for PostgreSQL (a schema of its own in the local server);
#   - the same URL against MLflow's prompt registry as measured on this kind of machine
#     (issue #4: ~250 req/s, ~2.5 GB RSS across 15 processes), and Redis GETs of a value
#     of the same size (the physical limit of a cache answer on this machine), via
#     ../shared/bench/delivery-vs-redis.sh when it is there.
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
KIT="${BENCH_KIT:-$(cd .. && pwd)/shared/bench}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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
  if [ -x "$KIT/delivery-vs-redis.sh" ] && [ "$name" = sqlite ]; then
    echo "-- the same GET against Redis (the cache limit on this machine):"
    "$KIT/delivery-vs-redis.sh" "$url" -c "$CONNS" -d "$DURATION" 2>/dev/null | grep -Ei "rps|req|redis|http" | head -8 || true
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
