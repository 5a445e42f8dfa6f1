#!/usr/bin/env bash
# Fuzz the registry's HTTP API against its own OpenAPI document with Schemathesis.
#
# What it does:
#   1. Makes sure Schemathesis is installed in a venv under ~/.cache/promptops-fuzz/venv
#      (pip install on first use; nothing else is installed, nothing is built).
#   2. Starts `promptops serve` in a fresh temp dir (SQLite) on a free 127.0.0.1 port.
#   3. Seeds it so fuzzing reaches real rows: `promptops init demo`, `push`,
#      `promote support.answer --to dev`, and one eval run attached to support.answer@1.0.0.
#   4. Runs `schemathesis run` with every check, all phases (examples, coverage, fuzzing,
#      stateful with inferred links); path/query/body values are drawn half the time from
#      the seeded names (project demo, prompt support.answer, envs, version 1.0.0, run 1).
#   5. Stops the server; exits non-zero if Schemathesis reported any failure or error.
#
# Usage:
#   scripts/fuzz-api.sh [extra schemathesis run args...]
#
# Environment:
#   PROMPTOPS_BIN        the binary (default: target/release/promptops, else target/debug/promptops;
#                        a default candidate without the `serve` subcommand is skipped)
#   FUZZ_MAX_EXAMPLES    test cases per operation and phase (default 300)
#   FUZZ_WORKERS         schemathesis workers (default 2)
#   FUZZ_SEED            fixed seed for a reproducible run (default: random)
#   FUZZ_KEEP=1          keep the temp dir (server log, reports) even on success
#   FUZZ_CREDENTIAL=key  fuzz with an API key (admin of demo) instead of the admin's session:
#                        the Langfuse-compatible routes (/api/public/…) take keys only
#   SCHEMATHESIS_SPEC    pip requirement (default schemathesis==4.32.5; the config below is 4.x syntax)
#   FUZZ_VENV            venv location (default ~/.cache/promptops-fuzz/venv)
#
# Reports (JUnit + NDJSON) and the server log are written to the temp dir, which is kept
# (and printed) whenever the run fails.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max_examples="${FUZZ_MAX_EXAMPLES:-300}"
workers="${FUZZ_WORKERS:-2}"
spec="${SCHEMATHESIS_SPEC:-schemathesis==4.32.5}"
venv="${FUZZ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/promptops-fuzz/venv}"

# --- the binary --------------------------------------------------------------------------
bin="${PROMPTOPS_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in "$repo_root/target/release/promptops" "$repo_root/target/debug/promptops"; do
    # Skip a stale build that predates the registry server.
    if [ -x "$candidate" ] && "$candidate" help serve >/dev/null 2>&1; then bin="$candidate"; break; fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "fuzz-api: no promptops binary (set PROMPTOPS_BIN or build target/release/promptops)" >&2
  exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

# --- schemathesis ------------------------------------------------------------------------
st="$venv/bin/schemathesis"
want_version="${spec#*==}"
if [ ! -x "$st" ] || { [ "$want_version" != "$spec" ] && \
     ! "$st" --version 2>/dev/null | grep -qF "version $want_version"; }; then
  echo "fuzz-api: installing $spec into $venv"
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install --quiet "$spec"
fi
echo "fuzz-api: $("$st" --version), binary $bin"

# --- server ------------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/promptops-fuzz.XXXXXX")"
server_pid=""
status=1
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ] && [ "${FUZZ_KEEP:-0}" != "1" ]; then
    rm -rf "$work"
  else
    echo "fuzz-api: kept $work (server.log, report/)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
mkdir -p "$work/server" "$work/report"
# Clear PROMPTOPS_* settings that would point the server at another database.
(cd "$work/server" && exec env -u PROMPTOPS_DATABASE_URL -u PROMPTOPS_CONFIG \
   PROMPTOPS_ADMIN_PASSWORD=fuzz-admin-password "$bin" serve --addr "127.0.0.1:$port" >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "fuzz-api: server exited:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { echo "fuzz-api: server not ready on $base" >&2; exit 1; }
echo "fuzz-api: server on $base (pid $server_pid, dir $work/server)"

# --- seed --------------------------------------------------------------------------------
# Every route but login needs credentials: the fuzzer acts as the first admin.
token=$(curl -fsS -X POST -H 'Content-Type: application/json' \
  -d '{"user":"admin","password":"fuzz-admin-password"}' "$base/v1/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export PROMPTOPS_REGISTRY="$base" PROMPTOPS_TOKEN="$token" PROMPTOPS_FORMAT=text
(cd "$work" && "$bin" init demo >/dev/null)
(cd "$work/demo" && "$bin" push && "$bin" promote support.answer --to dev)
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
  -d '{"passed":3,"failed":1,"errors":0,"summary":{"pass_rate":0.75},"report":{"results":{"results":[{"success":true},{"success":true},{"success":true},{"success":false,"failureReason":1}]}}}' \
  "$base/v1/projects/demo/prompts/support.answer/versions/1.0.0/evals"

credential="$token"
if [ "${FUZZ_CREDENTIAL:-session}" = key ]; then
  credential=$(cd "$work/demo" && "$bin" key create --name fuzz --role admin 2>/dev/null | tail -1)
fi

# A dictionary of real prompt sources for POST .../versions: the seeded file as is
# (-> 200 unchanged) and bumped to 1.0.1 (-> 201 created). libFuzzer syntax, one per line.
python3 - "$work/demo/prompts/support/answer.yaml" "$work/sources.dict" <<'PY'
import sys
src = open(sys.argv[1], encoding="utf-8").read()
def esc(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(esc(src) + "\n")
    out.write(esc(src.replace("version: 1.0.0", "version: 1.0.1", 1)) + "\n")
PY

cat >"$work/schemathesis.toml" <<'TOML'
[dictionaries]
projects = { values = ["demo"] }
ids = { values = ["support.answer"] }
envs = { values = ["dev", "staging", "prod"] }
versions = { values = ["1.0.0", "1.0.1"] }
runs = { values = [1] }
sources = { from-file = "sources.dict" }

[parameters]
"path.project" = { dictionary = "projects", probability = 0.5 }
"path.id" = { dictionary = "ids", probability = 0.5 }
"path.name" = { dictionary = "ids", probability = 0.5 }
"path.prompt_name" = { dictionary = "ids", probability = 0.5 }
"path.env" = { dictionary = "envs", probability = 0.5 }
"path.version" = { dictionary = "versions", probability = 0.5 }
"path.run" = { dictionary = "runs", probability = 0.5 }
"query.from" = { dictionary = "versions", probability = 0.5 }
"query.to" = { dictionary = "versions", probability = 0.5 }
"query.env" = { dictionary = "envs", probability = 0.5 }
"body.environment" = { dictionary = "envs", probability = 0.5 }
"body.version" = { dictionary = "versions", probability = 0.5 }
"body.to" = { dictionary = "versions", probability = 0.5 }
"body.expected_from" = { dictionary = "versions", probability = 0.3 }
"body.source" = { dictionary = "sources", probability = 0.5 }

[phases.stateful.inference]
algorithms = ["location-headers", "dependency-analysis"]
TOML

# --- fuzz --------------------------------------------------------------------------------
# Every check but "schema-valid requests are accepted" (ST202): a prompt file's validity
# (YAML that decodes to a prompt, declared variables, semver that increases) cannot be
# said in JSON Schema, so well-typed but meaningless bodies are rightly refused with 422.
# Logging out, and ending a user's sessions, would end the fuzzer's own session and
# turn every later request into a 401: those two are left to the hardening tests. The
# watch stream never ends by design (an open event stream): every request to it would
# be a timeout; its answers and refusals are crates/server/tests/delivery.rs's.
args=(
  --url "$base"
  --exclude-path-regex '^/v1/(auth/logout|users/[^/]+/sessions/end|projects/[^/]+/environments/[^/]+/watch)$'
  --checks all
  --exclude-checks positive_data_acceptance
  --phases examples,coverage,fuzzing,stateful
  --max-examples "$max_examples"
  --workers "$workers"
  --continue-on-failure
  --header "Authorization: Bearer $credential"
  --request-timeout 10
  --suppress-health-check too_slow,filter_too_much
  --report junit,ndjson
  --report-dir "$work/report"
  --no-color
)
[ -n "${FUZZ_SEED:-}" ] && args+=(--seed "$FUZZ_SEED")

set +e
(cd "$work" && "$st" --config-file "$work/schemathesis.toml" run "$base/openapi.json" "${args[@]}" "$@")
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "fuzz-api: FAILED (schemathesis exit $status); server log: $work/server.log" >&2
else
  echo "fuzz-api: ok"
fi
exit "$status"
