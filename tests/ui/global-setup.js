// Starts a private `promptops serve` (fresh SQLite database in a temporary folder, a free
// port) and seeds it through the real API and CLI: project `shop` (development, staging,
// production), users alice (editor) and bob (approver) beside the admin, prompts
// support.answer 1.0.0 and 1.1.0 and billing.refund 1.0.0 with labels, and a production
// policy asking for one approval (the author and the requester never count). The server's
// address and the users are handed to the tests in PROMPTOPS_UI_* variables; the function
// this returns stops the server (Playwright's global teardown).

import { spawn, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { users, PROJECT } from "./helpers/users.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, "artifacts");

/** $PROMPTOPS_BIN, else /tmp/e2e-bin/promptops, else the workspace's debug build. */
export function binary() {
  const candidates = process.env.PROMPTOPS_BIN
    ? [process.env.PROMPTOPS_BIN]
    : ["/tmp/e2e-bin/promptops", path.resolve(here, "..", "..", "target", "debug", "promptops")];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`no promptops binary: tried ${candidates.join(", ")} (set PROMPTOPS_BIN)`);
  return found;
}

/** A port nobody listens on now (the system picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, server, output) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) {
      throw new Error(`promptops serve exited with ${server.exitCode}:\n${output()}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`promptops serve did not answer ${url}/healthz in 60 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The environment less any PROMPTOPS_* setting the caller's shell may carry. */
function withoutPromptopsSettings(env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("PROMPTOPS_")));
}

/** A /v1 call: its JSON answer; a non-2xx answer is an error naming the call. */
async function api(url, method, route, body, token) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url + route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export default async function globalSetup() {
  const bin = binary();
  const dir = mkdtempSync(path.join(tmpdir(), "promptops-ui-"));
  const serverDir = path.join(dir, "server");
  const repo = path.join(dir, "repo");
  const config = path.join(dir, "config");
  mkdirSync(serverDir);
  mkdirSync(config, { mode: 0o700 });
  mkdirSync(artifacts, { recursive: true });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(path.join(artifacts, "server.log"));
  let output = "";
  const database = `sqlite://${path.join(serverDir, "registry.db")}`;
  const server = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--database-url", database], {
    cwd: serverDir, // no promptops.toml here or above: the settings are these
    env: {
      ...withoutPromptopsSettings(process.env),
      PROMPTOPS_ADMIN_PASSWORD: users.admin.password,
      PROMPTOPS_ALERT_INTERVAL_SECS: "0",
      PROMPTOPS_LOG: process.env.PROMPTOPS_LOG ?? "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (chunk) => {
    output += chunk.toString();
    log.write(chunk);
  };
  server.stdout.on("data", collect);
  server.stderr.on("data", collect);
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", () => server.kill("SIGKILL"));

  try {
    await waitForHealth(url, server, () => output);
    await seed({ bin, url, repo, config });
  } catch (error) {
    await stop();
    throw error;
  }

  process.env.PROMPTOPS_UI_URL = url;
  process.env.PROMPTOPS_UI_BIN = bin;
  return stop;
}

/** The seed: the project over the API, everything else with the CLI as its users would. */
async function seed({ bin, url, repo, config }) {
  const cliEnv = {
    ...withoutPromptopsSettings(process.env),
    PROMPTOPS_REGISTRY: url,
    PROMPTOPS_CONFIG_DIR: config,
    PROMPTOPS_FORMAT: "text",
    NO_COLOR: "1",
  };
  const cli = (args, input) => {
    try {
      return execFileSync(bin, args, { cwd: repo, env: cliEnv, input, encoding: "utf8", stdio: "pipe" });
    } catch (error) {
      throw new Error(`promptops ${args.join(" ")} failed (${error.status}):\n${error.stdout}${error.stderr}`);
    }
  };

  // The project and its environments (no CLI command makes a project).
  const admin = await api(url, "POST", "/v1/auth/login", { user: "admin", password: users.admin.password });
  await api(
    url,
    "POST",
    "/v1/projects",
    { name: PROJECT, environments: ["development", "staging", "production"] },
    admin.access_token,
  );

  // A repository like a team's: promptops.toml, prompts/, policies/.
  const fixtures = path.join(here, "fixtures");
  mkdirSync(repo);
  cpSync(path.join(fixtures, "promptops.toml"), path.join(repo, "promptops.toml"));
  cpSync(path.join(fixtures, "prompts"), path.join(repo, "prompts"), { recursive: true });
  cpSync(path.join(fixtures, "policies"), path.join(repo, "policies"), { recursive: true });

  cli(["login", "--user", "admin", "--password-stdin"], `${users.admin.password}\n`);
  for (const name of ["alice", "bob"]) {
    cli(["user", "add", name, "--role", `${PROJECT}=${users[name].role}`, "--password-stdin"], `${users[name].password}\n`);
  }

  // Versions and labels, before the policy gates production.
  cli(["validate"]);
  cli(["push"]);
  for (const env of ["development", "staging", "production"]) {
    cli(["promote", "support.answer@1.0.0", "--to", env, "--reason", "first release"]);
  }
  cli(["promote", "billing.refund@1.0.0", "--to", "development"]);
  cpSync(path.join(fixtures, "v2", "prompts"), path.join(repo, "prompts"), { recursive: true });
  cli(["push"]);
  for (const env of ["development", "staging"]) {
    cli(["promote", "support.answer@1.1.0", "--to", env, "--reason", "shorter answers"]);
  }

  cli(["policy", "check"]);
  cli(["policy", "push"]);
  cli(["logout"]);

  // What the suite relies on, checked now so a broken seed is reported as one.
  const labels = await api(url, "GET", `/v1/projects/${PROJECT}/prompts/support.answer/labels`, undefined, admin.access_token);
  writeFileSync(path.join(artifacts, "seed.json"), JSON.stringify({ url, labels }, null, 2));
}
