#!/usr/bin/env bash
# promptops eval vs promptfoo 0.123.1, in one run, on the shared bench kit
# (../shared/bench: a mock LLM speaking the OpenAI wire format, and the comparison
# script). Prints wall, CPU, peak RSS, the ratio to promptfoo and whether every
# per-test outcome agrees, for the two configurations issue #3 sets targets for:
#   N=5000, j=64, 20 ms model: wall <= 1.3 x the latency bound (N*delay/j)
#   N=5000, j=64,  0 ms model: >= 20 x faster than promptfoo, <= 100 us CPU/case
#   peak RSS <= 64 MB in both.
#   --scale: 100,000 cases (tests from JSONL, and inline in the YAML), j=64, 0 ms model,
#   every report format: peak RSS <= 64 MB whatever the size, CPU per case; promptfoo
#   runs 20,000 cases in the same run for comparison (its memory grows with the suite).
# Usage: bench/eval.sh [-n N] [-j J]     (promptfoo is installed on first use, ~1 min)
#        bench/eval.sh --suites           compare verdicts on every bench/suites/*.yaml
#        bench/eval.sh --scale [-n 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=5000
J=64
SUITES=0
SCALE=0
N_SET=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N="$2"; N_SET=1; shift 2 ;;
    -j) J="$2"; shift 2 ;;
    --suites) SUITES=1; shift ;;
    --scale) SCALE=1; shift ;;
    *) echo "usage: bench/eval.sh [-n N] [-j J] | --suites | --scale [-n N]" >&2; exit 2 ;;
  esac
done
KIT="${BENCH_KIT:-$(cd .. && pwd)/shared/bench}"
if [ ! -x "$KIT/eval-vs-promptfoo.sh" ]; then
  echo "bench kit not found at $KIT (set BENCH_KIT)" >&2
  exit 2
fi
cargo build --release --quiet -p promptops
BIN="$PWD/target/release/promptops"
status=0
if [ "$SUITES" = 1 ]; then
  for suite in bench/suites/*.yaml; do
    WORK=$(mktemp -d)
    echo "== $suite"
    PROMPTOPS_BIN="$BIN" WORK="$WORK" "$KIT/eval-vs-promptfoo.sh" --config "$PWD/$suite" -j 4 > "$WORK/bench.log" 2>&1 || status=1
    grep -E "^ promptfoo:|^ promptops:|^success differs|^RESULT" "$WORK/bench.log" || { tail -20 "$WORK/bench.log"; status=1; }
  done
  exit $status
fi
if [ "$SCALE" = 1 ]; then
  [ "$N_SET" = 1 ] || N=100000
  exec bench/eval-scale.sh "$BIN" "$KIT" "$N" "$J"
fi
for DELAY in 20 0; do
  WORK=$(mktemp -d)
  echo "== N=$N j=$J model delay ${DELAY} ms"
  if ! PROMPTOPS_BIN="$BIN" WORK="$WORK" "$KIT/eval-vs-promptfoo.sh" -n "$N" -j "$J" -d "$DELAY" > "$WORK/bench.log" 2>&1; then
    status=1
  fi
  grep -E "^tool |^promptfoo |^promptops |^ideal|^ratio|^RESULT" "$WORK/bench.log" || { cat "$WORK/bench.log"; status=1; }
  python3 - "$WORK/bench.log" "$N" "$J" "$DELAY" <<'PY' || status=1
import re, sys
log, n, j, delay = open(sys.argv[1]).read(), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = {m.group(1): m.group(2).split() for m in re.finditer(r"^(promptfoo|promptops)\s+(.*)$", log, re.M)}
po, pf = rows.get("promptops"), rows.get("promptfoo")
if not po:
    sys.exit("no promptops row")
wall, cpu, rss = float(po[0]), float(po[1]), float(po[2])
checks = []
if delay:
    bound = n * delay / 1000 / j
    checks.append((f"wall {wall:.3f} s = {wall / bound:.2f} x the latency bound {bound:.3f} s (target <= 1.3 x)", wall <= 1.3 * bound))
else:
    checks.append((f"engine CPU {cpu / n * 1e6:.0f} us per case (target <= 100 us)", cpu / n <= 100e-6))
    if pf:
        ratio = float(pf[0]) / wall
        checks.append((f"{ratio:.1f} x faster than promptfoo on wall (target >= 20 x)", ratio >= 20))
checks.append((f"peak RSS {rss:.0f} MB (target <= 64 MB)", rss <= 64))
checks.append(("every per-test outcome agrees with promptfoo", "RESULT: all per-test outcomes agree" in log))
for text, ok in checks:
    print(("  ok    " if ok else "  MISS  ") + text)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
done
exit $status
