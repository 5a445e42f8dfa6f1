#!/usr/bin/env bash
# Cross-check promptops eval against promptfoo 0.123.1 on real configs from promptfoo's own
# examples/ folder (adapted copies under bench/promptfoo-examples/<example>/, each with its
# upstream path + commit in a header comment; see docs/research/promptfoo-examples.md).
# Every promptfooconfig*.yaml in every example dir is run through the shared bench kit's
# eval-vs-promptfoo.sh (both tools, same mock LLM, same -j), and the two JSON outputs are
# compared row by row (row = promptIdx x testIdx x provider id).
#
# Usage: bench/promptfoo-examples.sh [-j J] [EXAMPLE...]
#   PROMPTOPS_BIN  promptops binary (default: target/release/promptops; this script never builds)
#   BENCH_KIT      the shared bench kit (default: ../shared/bench next to the repo)
#   OUT            where each run's files go (default: a new temp dir); OUT/<example>[.<variant>]/
# Columns: rows (promptfoo's rows, plus rows only promptops produced), agree (same success on both
# sides, both-fail included), disagree (success differs, or the row is missing on one side),
# both-fail (success false on both sides), pf_pass (rows promptfoo passes), asrt_diff (assertions
# whose pass differs, from compare-results.py).
set -uo pipefail
cd "$(dirname "$0")/.."
J=4
EXAMPLES=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) J="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) EXAMPLES+=("$1"); shift ;;
  esac
done
KIT="${BENCH_KIT:-$(cd .. && pwd)/shared/bench}"
if [ ! -x "$KIT/eval-vs-promptfoo.sh" ]; then
  echo "bench kit not found at $KIT (set BENCH_KIT)" >&2
  exit 2
fi
export PROMPTOPS_BIN="${PROMPTOPS_BIN:-$PWD/target/release/promptops}"
if [ ! -x "$PROMPTOPS_BIN" ]; then
  echo "promptops binary not found at $PROMPTOPS_BIN (build it, or set PROMPTOPS_BIN)" >&2
  exit 2
fi
OUT="${OUT:-$(mktemp -d -t promptfoo-examples.XXXXXX)}"
mkdir -p "$OUT"
ROOT="$PWD/bench/promptfoo-examples"
if [ ${#EXAMPLES[@]} -eq 0 ]; then
  for d in "$ROOT"/*/; do EXAMPLES+=("$(basename "$d")"); done
fi
SUMMARY="$OUT/summary.tsv"
: > "$SUMMARY"
for ex in "${EXAMPLES[@]}"; do
  for cfg in "$ROOT/$ex"/promptfooconfig*.yaml; do
    [ -f "$cfg" ] || continue
    base="$(basename "$cfg" .yaml)"
    name="$ex"
    [ "$base" != promptfooconfig ] && name="$ex${base#promptfooconfig}"
    work="$OUT/$name"
    rm -rf "$work"; mkdir -p "$work"
    echo "== $name" >&2
    WORK="$work" COMPARE_LIMIT=0 "$KIT/eval-vs-promptfoo.sh" --config "$cfg" -j "$J" > "$work/run.log" 2>&1
    rc=$?
    python3 - "$name" "$work" "$rc" >> "$SUMMARY" <<'PY'
import json, os, re, sys
name, work, rc = sys.argv[1], sys.argv[2], sys.argv[3]
def rows(p):
    try:
        d = json.load(open(p))
    except Exception:
        return None
    out = {}
    for r in d.get("results", {}).get("results", []):
        k = (r.get("promptIdx"), r.get("testIdx"), (r.get("provider") or {}).get("id"))
        out[k] = bool(r.get("success"))
    return out
pf, po = rows(os.path.join(work, "pf.json")), rows(os.path.join(work, "po.json"))
asrt = "-"
try:
    m = re.search(r"assertion-level differences: (\d+)", open(os.path.join(work, "run.log")).read())
    if m: asrt = m.group(1)
except Exception:
    pass
if pf is None or po is None:
    note = "no pf.json" if pf is None else "no po.json"
    print("\t".join([name, str(len(pf or {})), "0", str(len(pf or po or {})), "0",
                     str(sum((pf or {}).values())), asrt, f"exit {rc}: {note}"]))
    sys.exit()
keys = set(pf) | set(po)
agree = sum(1 for k in keys if k in pf and k in po and pf[k] == po[k])
both_fail = sum(1 for k in keys if k in pf and k in po and not pf[k] and not po[k])
print("\t".join([name, str(len(keys)), str(agree), str(len(keys) - agree), str(both_fail),
                 str(sum(pf.values())), asrt, f"exit {rc}"]))
PY
    tail -1 "$SUMMARY" >&2
  done
done
python3 - "$SUMMARY" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
hdr = ["example", "rows", "agree", "disagree", "both-fail", "pf_pass", "asrt_diff", "run"]
w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(hdr)]
fmt = lambda r: "  ".join(c.ljust(w[i]) if i in (0, 7) else c.rjust(w[i]) for i, c in enumerate(r))
print(fmt(hdr))
for r in rows: print(fmt(r))
tot = ["TOTAL"] + [str(sum(int(r[i]) for r in rows if r[i].isdigit())) for i in range(1, 7)] + [""]
print(fmt(tot))
PY
echo "per-run files: $OUT/<example>/ (pf.json, po.json, compare.txt, run.log)" >&2
