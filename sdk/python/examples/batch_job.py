"""A batch job: renders one prompt for every row of a JSON Lines file, from the same
bundle the serverless handler loads, and writes one JSON line per row.

    promptops bundle --env prod -o prompts.bundle
    python batch_job.py prompts.bundle rows.jsonl > rendered.jsonl

Each input line is an object of variables (``{"article": ..., "question": ...}``). A
row whose variables do not fit the prompt is written with its error and counted; the
job goes on. The exit code is 1 when any row failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from promptops import Client, RenderError


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("bundle", help="a file made by `promptops bundle`")
    args.add_argument("rows", help="JSON Lines: one object of variables per line")
    args.add_argument("--prompt", default="support.answer")
    args.add_argument("--env", default="prod")
    opts = args.parse_args()

    client = Client.from_bundle(opts.bundle)
    prompt = client.get(opts.prompt, env=opts.env)
    done = failed = 0
    with open(opts.rows, encoding="utf-8") as rows:
        for number, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            out = {"row": number, "prompt": f"{prompt.id}@{prompt.version}"}
            try:
                out["rendered"] = prompt.render(json.loads(line))
                done += 1
            except (RenderError, json.JSONDecodeError) as e:
                out["error"] = str(e)
                failed += 1
            sys.stdout.write(json.dumps(out) + "\n")
    print(f"{done} rendered, {failed} failed ({prompt.id}@{prompt.version})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
