"""Each example runs once, against one bundle made by the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_serverless_handler_and_the_batch_job_share_a_bundle(registry, tmp_path):
    bundle = tmp_path / "prompts.bundle"
    registry.cli(["bundle", "--env", "prod", "-o", str(bundle)])
    registry.stop()  # the examples never need the registry

    event = {"article": "Refunds take 5 days.", "question": "How long do refunds take?"}
    done = run([str(EXAMPLES / "serverless_handler.py"), json.dumps(event)],
               {"PROMPTOPS_BUNDLE": str(bundle)})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["prompt"] == "support.answer@1.0.0"
    assert body["messages"][1] == {"role": "user", "content": "How long do refunds take?"}
    assert "Refunds take 5 days." in body["messages"][0]["content"]

    bad = run([str(EXAMPLES / "serverless_handler.py"), json.dumps({"article": "x"})],
              {"PROMPTOPS_BUNDLE": str(bundle)})
    assert json.loads(bad.stdout)["statusCode"] == 400

    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "\n".join(json.dumps({"article": f"Article {i}", "question": f"Q{i}?"}) for i in range(50))
        + "\n" + json.dumps({"article": "no question"}) + "\n",
        encoding="utf-8",
    )
    batch = run([str(EXAMPLES / "batch_job.py"), str(bundle), str(rows)])
    assert batch.returncode == 1, batch.stderr  # one row failed
    out = [json.loads(line) for line in batch.stdout.splitlines()]
    assert len(out) == 51
    assert out[7]["rendered"][1]["content"] == "Q7?"
    # The same prompt, rendered the same, in both.
    assert out[0]["prompt"] == body["prompt"]
    assert "question" in out[50]["error"]
    assert "50 rendered, 1 failed" in batch.stderr
