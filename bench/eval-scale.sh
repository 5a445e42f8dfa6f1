#!/usr/bin/env bash
# The scale run of bench/eval.sh (--scale): promptops on N cases (default 100,000) with
# tests from a JSONL file and inline in the YAML, j=64, a 0 ms mock model, every report
# format, each under /usr/bin/time; promptfoo on 20,000 cases in the same run (through
# the kit's eval-vs-promptfoo.sh, which also checks the two agree row by row).
# Prints wall, CPU per case and peak RSS for each, and checks peak RSS <= 64 MB.
# Usage: bench/eval-scale.sh PROMPTOPS_BIN BENCH_KIT N J
set -euo pipefail
BIN="$1" KIT="$2" N="$3" J="$4"
PF_N="${PF_N:-20000}"
WORK=$(mktemp -d)
trap 'kill "$MOCK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
node "$KIT/mock-llm.js" --port 0 --delay-ms 0 --port-file "$WORK/port" > /dev/null 2>&1 &
MOCK=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
python3 - "$WORK" "$N" "$PORT" "$J" <<'PY'
import json, sys
work, n, port, j = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
head = f"""description: scale
prompts:
  - 'Classify item {{{{i}}}} please'
providers:
  - id: openai:chat:mock-model
    config:
      apiBaseUrl: 'http://127.0.0.1:{port}/v1'
      apiKey: 'sk-mock-not-a-real-key'
      temperature: 0
evaluateOptions:
  maxConcurrency: {j}
  cache: false
"""
asserts = lambda i: [{"type": "equals", "value": f"LABEL-{i}"}, {"type": "contains", "value": str(i)}, {"type": "regex", "value": "^LABEL-[0-9]+$"}]
with open(f"{work}/tests.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"description": f"case {i}", "vars": {"i": i}, "assert": asserts(i)}) + "\n")
open(f"{work}/jsonl.yaml", "w").write(head + "tests: file://tests.jsonl\n")
with open(f"{work}/inline.yaml", "w") as f:
    f.write(head + "tests:\n")
    for i in range(n):
        f.write(f"  - description: case {i}\n    vars:\n      i: {i}\n    assert:\n"
                f"      - type: equals\n        value: LABEL-{i}\n      - type: contains\n        value: '{i}'\n"
                f"      - type: regex\n        value: '^LABEL-[0-9]+$'\n")
PY
status=0
measure() { # name config
  local out="$WORK/$1"
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$out.time" "$BIN" eval -c "$2" -j "$J" --no-cache --no-table --no-progress-bar \
    -o "$out.json" -o "$out.csv" -o "$out.junit.xml" -o "$out.md" -o "$out.html" > "$out.log" 2>&1 || true
  end=$(date +%s.%N)
  python3 - "$1" "$N" "$start" "$end" "$out.time" "$out.json" <<'PY' || status=1
import json, sys
name, n, start, end, timef, outf = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
user, system, rss_kb = open(timef).read().split()[-3:]
cpu = float(user) + float(system)
rows = json.load(open(outf))["results"]["results"]
passed = sum(1 for r in rows if r["success"])
rss = int(rss_kb) / 1024
print(f"promptops {name:6} {n} cases: wall {end - start:6.2f} s  CPU {cpu / n * 1e6:5.1f} us/case  peak RSS {rss:5.1f} MB  rows {len(rows)} passed {passed}")
ok = rss <= 64 and len(rows) == n and passed == n
print(("  ok    " if ok else "  MISS  ") + f"peak RSS {rss:.0f} MB at {n} cases (target <= 64 MB), every row written and passed")
sys.exit(0 if ok else 1)
PY
}
measure jsonl "$WORK/jsonl.yaml"
measure inline "$WORK/inline.yaml"
kill "$MOCK" 2>/dev/null || true
echo "promptfoo on $PF_N cases (same mock, j=$J, 0 ms), through $KIT/eval-vs-promptfoo.sh:"
PROMPTOPS_BIN="$BIN" WORK="$WORK/pf" "$KIT/eval-vs-promptfoo.sh" -n "$PF_N" -j "$J" -d 0 > "$WORK/pf.log" 2>&1 || status=1
grep -E "^tool |^promptfoo |^promptops |^RESULT" "$WORK/pf.log" || { tail -20 "$WORK/pf.log"; status=1; }
exit $status
