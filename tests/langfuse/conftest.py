"""A real `promptops serve` for the Langfuse SDK tests, and what they need around it.

The server is the binary in PROMPTOPS_BIN (else target/debug/promptops, or the one in
CARGO_TARGET_DIR), on SQLite in a temporary folder, on a port the system picks. Each
test seeds a project of its own (`registry.seed()`), so tests that move labels or
stop servers never disturb each other, and gets a key of its own (the Langfuse
Python SDK shares one prompt cache per public key).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIXTURES = HERE / "fixtures"
ADMIN_PASSWORD = "langfuse-suite-admin-password"


def promptops_bin() -> Path:
    if os.environ.get("PROMPTOPS_BIN"):
        return Path(os.environ["PROMPTOPS_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "promptops"


class Server:
    """One `promptops serve` process in a folder of its own."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="promptops-langfuse-")
        self.log = Path(self.dir.name) / "server.log"
        env = dict(
            os.environ,
            PROMPTOPS_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PROMPTOPS_ALERT_INTERVAL_SECS="0",
            PROMPTOPS_LOG="warn",
        )
        binary = promptops_bin()
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist: build it (cargo build) or set PROMPTOPS_BIN")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "serve", "--addr", "127.0.0.1:0"],
                cwd=self.dir.name,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = self._wait_for_address()
        self.admin = self._login()

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"promptops serve exited:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"promptops serve did not start:\n{self.log.read_text()}")

    def _login(self) -> str:
        answer = self.call("POST", "/v1/auth/login", {"user": "admin", "password": ADMIN_PASSWORD}, token=None)
        return answer["access_token"]

    def call(self, method: str, path: str, body: Optional[dict] = None, *, token: Optional[str] = "admin") -> Any:
        """A /v1 call as the admin; the JSON answer, or an HTTPError."""
        request = urllib.request.Request(self.url + path, method=method)
        if token == "admin":
            token = self.admin
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, data=data, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        self.dir.cleanup()

    # ----- seeding ------------------------------------------------------------------

    def publish(self, project: str, file: Path) -> None:
        prompt_id = "support." + file.stem
        self.call("POST", f"/v1/projects/{project}/prompts/{prompt_id}/versions", {"source": file.read_text()})

    def promote(self, project: str, prompt_id: str, env: str, version: str) -> None:
        self.call("POST", f"/v1/projects/{project}/prompts/{prompt_id}/promote", {"environment": env, "version": version})

    def key(self, project: str, role: str = "editor") -> tuple[str, str]:
        """A new API key of `project`: (public key = its prefix, secret key = the key)."""
        made = self.call("POST", "/v1/keys", {"name": f"sdk-{time.monotonic_ns()}", "project": project, "role": role})
        return made["api_key"]["prefix"], made["key"]

    def seed(self, project: str) -> tuple[str, str]:
        """`project` with support.answer 1.0.0 (dev, staging, prod) and 1.1.0 (dev),
        support.chat 1.0.0 (prod) and support.branchy 1.0.0 (prod); an editor key."""
        self.call("POST", "/v1/projects", {"name": project})
        for file in sorted((FIXTURES / "v1" / "prompts" / "support").glob("*.yaml")):
            self.publish(project, file)
            for env in ["dev", "staging", "prod"]:
                self.promote(project, "support." + file.stem, env, "1.0.0")
        self.publish(project, FIXTURES / "v2" / "prompts" / "support" / "answer.yaml")
        self.promote(project, "support.answer", "dev", "1.1.0")
        return self.key(project)


@pytest.fixture(scope="session")
def registry():
    server = Server()
    yield server
    server.close()


@pytest.fixture
def fresh_registry():
    """A server of the test's own, which it may stop."""
    server = Server()
    yield server
    server.close()


_projects = iter(range(1, 1_000_000))


@pytest.fixture
def project(registry: Server) -> str:
    """The name of a project of the test's own (`registry.seed(project)` fills it)."""
    return f"p{next(_projects)}"


def render(file: Path, variables: dict[str, str]) -> Any:
    """What `promptops render` gives: the one renderer the Langfuse answers must agree with."""
    args = [str(promptops_bin()), "render", str(file), "--format", "json"]
    for k, v in variables.items():
        args += ["--var", f"{k}={v}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["rendered"]


def basic(public: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()

