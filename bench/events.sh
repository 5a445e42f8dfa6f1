#!/usr/bin/env bash
# Execution-event ingest, measured: events stored end to end per second while the
# registry is written, against the issue's floor of 10,000 events/s sustained on this
# machine, and registry publish latency idle vs under that load (events must never wait
# behind the registry's write lock). See bench/events_load.py for how each figure is made.
# With --otlp the same load runs again with OTLP export on, to a local collector
# stand-in (bench/otlp_sink.py) that counts the execution spans it receives.
# Usage: bench/events.sh [--pg] [--otlp] [-d SECONDS] [--senders N] [--batch B]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=10
SENDERS=4
BATCH=1000
PG=0
OTLP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pg) PG=1; shift ;;
    --otlp) OTLP=1; shift ;;
    -d) DURATION="$2"; shift 2 ;;
    --senders) SENDERS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    *) echo "usage: bench/events.sh [--pg] [--otlp] [-d SECONDS] [--senders N] [--batch B]" >&2; exit 2 ;;
  esac
done
if [ -n "${PROMPTOPS_BIN:-}" ]; then
  BIN="$PROMPTOPS_BIN"
else
  cargo build --release --quiet -p promptops
  BIN="$PWD/target/release/promptops"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_backend() {
  local name="$1"; shift
  local work port pid token
  work=$(mktemp -d)
  port=$(free_port)
  (cd "$work" && PROMPTOPS_ADMIN_PASSWORD=bench-admin-password PROMPTOPS_LOG=warn exec "$BIN" serve --addr "127.0.0.1:$port" "$@" > serve.log 2>&1) &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    sleep 0.01
  done
  token=$(curl -sf -H 'Content-Type: application/json' -d '{"user":"admin","password":"bench-admin-password"}' \
    "http://127.0.0.1:$port/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "http://127.0.0.1:$port/v1/projects"
  echo "== $name ($(nproc) cores; the load generator shares them with the server)"
  python3 bench/events_load.py "http://127.0.0.1:$port" "$token" bench \
    --seconds "$DURATION" --senders "$SENDERS" --batch "$BATCH"
  local rss
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  echo "server RSS after the load: ${rss} MB"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}

run_backend sqlite
if [ "$OTLP" = 1 ]; then
  SINK_PORT=$(free_port)
  python3 bench/otlp_sink.py "$SINK_PORT" &
  SINK=$!
  sleep 0.3
  OTEL_BSP_SCHEDULE_DELAY=1000 run_backend "sqlite, exporting over OTLP" --otlp-endpoint "http://127.0.0.1:$SINK_PORT"
  # The server flushed what it had queued when it stopped; the sink prints its counts.
  kill -TERM "$SINK"; wait "$SINK" 2>/dev/null || true
fi
if [ "$PG" = 1 ]; then
  SCHEMA="bench_events_$$"
  PGURL="${PROMPTOPS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
  run_backend postgres --database-url "$PGURL" --database-schema "$SCHEMA"
  psql "$PGURL" -qc "DROP SCHEMA \"$SCHEMA\" CASCADE" >/dev/null 2>&1 || true
fi
