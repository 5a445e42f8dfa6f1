#!/usr/bin/env python3
"""Times `promptops validate` over N generated prompt files (default 10,000).

Prints the median wall time of several runs, CPU time, peak RSS and the target
(under 1 second on 2 cores, release build). Exits 1 when a run reports findings,
so a generator or validator regression cannot pass as a fast run.
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time

TEMPLATE = """id: {module}.{name}
version: {major}.{minor}.0
parent: {major}.0.0
owner: team-{module}
description: Generated prompt {i} for the validate benchmark.
model:
  provider: openai
  name: gpt-4o-mini
  params: {{temperature: 0.{t}, max_tokens: 512}}
  compatibility: {{"anthropic:claude-3-5-sonnet": works}}
{body}
variables:
  customer: {{type: string, description: The customer's name.}}
  question: {{type: string, required: true}}
  history: {{type: list, default: []}}
tags: [bench, {module}]
metrics: {{baseline_accuracy: 0.9, max_cost_per_call_usd: 0.002, max_latency_ms: 2000}}
compliance:
  risk_tier: {tier}
  intended_use: Answer support questions.
  accountable_owner: owner@example.com
  human_oversight: Weekly review of sampled answers.
  fairness_assessment: Checked across customer segments.
  data_sources: [help-centre]
changelog: Generated.
"""

TEXT_BODY = """template: |
  You are a careful support agent for case {i}.
  {{% for turn in history %}}{{{{ turn }}}}
  {{% endfor %}}Customer {{{{ customer }}}} asks: {{{{ question }}}}
  Answer in at most three sentences."""

CHAT_BODY = """messages:
  - role: system
    content: |
      You are a careful support agent for case {i}.
      {{% for turn in history %}}{{{{ turn }}}}
      {{% endfor %}}
  - role: user
    content: "Customer {{{{ customer }}}} asks: {{{{ question }}}}\""""


def generate(root, n):
    for i in range(n):
        module = f"m{i % 100:02d}"
        name = f"p{i:05d}"
        body = (TEXT_BODY if i % 2 else CHAT_BODY).format(i=i)
        text = TEMPLATE.format(module=module, name=name, major=1 + i % 3, minor=1 + i % 7,
                               t=i % 10, body=body, i=i, tier=("low", "medium", "high")[i % 3])
        d = os.path.join(root, "prompts", module)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".yaml"), "w") as f:
            f.write(text)


def run_once(binary, root):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([binary, "validate", "--format", "json", "prompts"], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu, after.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/promptops")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target-s", type=float, default=1.0)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    root = tempfile.mkdtemp(prefix="promptops-bench-")
    try:
        t0 = time.perf_counter()
        generate(root, args.n)
        print(f"generated {args.n} prompt files in {time.perf_counter() - t0:.2f} s ({root})")
        walls, cpus, rss = [], [], 0.0
        run_once(binary, root)  # warm the page cache
        for _ in range(args.runs):
            proc, wall, cpu, peak = run_once(binary, root)
            if proc.returncode != 0:
                sys.stdout.write(proc.stdout.decode()[:2000])
                sys.stderr.write(proc.stderr.decode()[:2000])
                print(f"FAIL: validate exited {proc.returncode}; the generated files should be clean")
                return 1
            walls.append(wall)
            cpus.append(cpu)
            rss = max(rss, peak)
        wall = statistics.median(walls)
        cpu = statistics.median(cpus)
        print(f"promptops validate, {args.n} files, {os.cpu_count()} cores, median of {args.runs} runs:")
        print(f"  wall      {wall:.3f} s   (min {min(walls):.3f}, max {max(walls):.3f})")
        print(f"  cpu       {cpu:.3f} s   ({cpu / args.n * 1e6:.0f} us of CPU per file)")
        print(f"  files/s   {args.n / wall:,.0f}")
        print(f"  peak RSS  {rss:.0f} MiB")
        verdict = "OK" if wall < args.target_s else "OVER TARGET"
        print(f"  target    < {args.target_s:.1f} s wall: {verdict} ({args.target_s / wall:.1f}x headroom)")
        return 0 if wall < args.target_s else 2
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
