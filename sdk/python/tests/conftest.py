"""What the tests share: a real ``promptops serve`` on an ephemeral port, started from a
fresh ``promptops init`` project, and the CLI run as its first admin (as the Rust SDK's
end-to-end tests do, crates/cli/tests/support/mod.rs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
ADMIN_PASSWORD = "first-admin-password"

GREETING = """\
id: support.greeting
version: 1.0.0
owner: support-platform
description: Greets a customer by name.
model: openai:gpt-4o-mini
template: "Hello {{ name }}, welcome to {{ company }}!"
variables:
  name: string
  company: {type: string, default: Acme}
"""


def promptops_bin() -> str:
    """``PROMPTOPS_BIN``, else the workspace's debug build (what ``cargo test`` made)."""
    path = os.environ.get("PROMPTOPS_BIN") or str(ROOT / "target" / "debug" / "promptops")
    if not Path(path).is_file():
        pytest.fail(
            f"no promptops binary at {path}: run `cargo build -p promptops` "
            "or set PROMPTOPS_BIN"
        )
    return path


class Registry:
    """A running registry with support.answer (chat) 1.0.0 and 1.1.0 published, 1.0.0
    in prod, support.greeting (text) 1.0.0 in prod, and a viewer's API key."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = promptops_bin()
        subprocess.run([self.bin, "init", "demo"], cwd=tmp, check=True, capture_output=True)
        self.repo = tmp / "demo"
        self.config = tmp / "config"
        self.config.mkdir()
        self.log = tmp / "server.log"
        self.process: Optional[subprocess.Popen] = None
        self.url = self.start()
        self.cli(["login", "--user", "admin", "--password-stdin"], stdin=ADMIN_PASSWORD + "\n")
        answer = self.repo / "prompts/support/answer.yaml"
        v1 = answer.read_text()
        self.cli(["push"])
        answer.write_text(
            v1.replace("version: 1.0.0", "version: 1.1.0").replace(
                "Answer only", "Answer briefly, only"
            )
        )
        self.cli(["push"])
        # The file is 1.0.0 again: `promptops render` of it is what prod serves first.
        answer.write_text(v1)
        (self.repo / "prompts/support/greeting.yaml").write_text(GREETING)
        self.cli(["push"])
        self.promote("support.answer", "1.0.0")
        self.promote("support.greeting", "1.0.0")
        self.key = self.cli(["key", "create", "--name", "app", "--role", "viewer"]).strip()

    def start(self) -> str:
        env = dict(os.environ, PROMPTOPS_ADMIN_PASSWORD=ADMIN_PASSWORD)
        env.pop("PROMPTOPS_JWT_SECRET", None)
        self.process = subprocess.Popen(
            [self.bin, "serve", "--addr", "127.0.0.1:0"],
            cwd=self.repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"),
            text=True,
        )
        assert self.process.stdout is not None
        seen = ""
        for line in self.process.stdout:
            seen += line
            # "promptops registry listening on http://127.0.0.1:PORT (...)"
            if "listening on" in line:
                return next(w for w in line.split() if w.startswith("http://"))
        raise RuntimeError(f"the server stopped before listening: {seen}{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def cli(self, args: List[str], stdin: Optional[str] = None) -> str:
        env = dict(
            os.environ,
            NO_COLOR="1",
            PROMPTOPS_REGISTRY=self.url,
            PROMPTOPS_CONFIG_DIR=str(self.config),
            PROMPTOPS_CACHE="0",
        )
        env.pop("PROMPTOPS_TOKEN", None)
        done = subprocess.run(
            [self.bin, *args], cwd=self.repo, env=env, input=stdin, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise AssertionError(
                f"promptops {args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout

    def cli_json(self, args: List[str]) -> Any:
        return json.loads(self.cli([*args, "--format", "json"]))

    def promote(self, id: str, version: str, env: str = "prod") -> None:
        self.cli(["promote", id, "--to", env, "--version", version])

    def api(self, path: str, key: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture
def registry():
    tmp = Path(tempfile.mkdtemp(prefix="promptops-py-"))
    reg = Registry(tmp)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def shared_registry():
    """One registry for tests that only read."""
    tmp = Path(tempfile.mkdtemp(prefix="promptops-py-"))
    reg = Registry(tmp)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def answer_vars() -> Dict[str, str]:
    return {"article": "Refunds take 5 days.", "question": "How long do refunds take?"}
