// The real Langfuse JS/TS SDK (@langfuse/client 5.x) against a real `promptops serve`:
// an application switches by changing its base URL and keys, and gets governed prompts
// whose compile() gives what `promptops render` gives. Run: `node --test` in this folder
// (PROMPTOPS_BIN names the binary; default target/debug/promptops).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LangfuseClient } from "@langfuse/client";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..", "..");
const fixtures = path.resolve(here, "..", "fixtures");
const v1 = path.join(fixtures, "v1", "prompts", "support");
const v2 = path.join(fixtures, "v2", "prompts", "support");
const bin =
  process.env.PROMPTOPS_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, "target"), "debug", "promptops");
const ADMIN_PASSWORD = "langfuse-suite-admin-password";
const ANSWER_VARS = { name: "Ann", topic: "billing", question: "Why was I charged twice?" };
const CHAT_VARS = { company: "Acme", topic: "billing", question: "Can I get a refund?" };

/** One `promptops serve` in a folder of its own, on a port the system picks. */
class Server {
  static async start() {
    const server = new Server();
    server.dir = mkdtempSync(path.join(tmpdir(), "promptops-langfuse-js-"));
    server.output = "";
    server.process = spawn(bin, ["serve", "--addr", "127.0.0.1:0"], {
      cwd: server.dir,
      env: {
        ...process.env,
        PROMPTOPS_ADMIN_PASSWORD: ADMIN_PASSWORD,
        PROMPTOPS_ALERT_INTERVAL_SECS: "0",
        PROMPTOPS_LOG: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (chunk) => (server.output += chunk.toString());
    server.process.stdout.on("data", collect);
    server.process.stderr.on("data", collect);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = server.output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) {
        server.url = found[1];
        break;
      }
      if (server.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`promptops serve did not start:\n${server.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const login = await server.call("POST", "/v1/auth/login", { user: "admin", password: ADMIN_PASSWORD }, null);
    server.admin = login.access_token;
    return server;
  }

  /** A /v1 call as the admin: its JSON answer (an error for a non-2xx). */
  async call(method, route, body, token = this.admin) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(this.url + route, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async promote(project, id, environment, version) {
    await this.call("POST", `/v1/projects/${project}/prompts/${id}/promote`, { environment, version });
  }

  /** A new API key of `project`: { publicKey: its prefix, secretKey: the key }. */
  async key(project, role = "editor") {
    const made = await this.call("POST", "/v1/keys", { name: `js-${process.hrtime.bigint()}`, project, role });
    return { publicKey: made.api_key.prefix, secretKey: made.key };
  }

  /** `project` with support.answer 1.0.0 (dev, staging, prod) and 1.1.0 (dev),
   * support.chat and support.branchy 1.0.0 (prod); an editor key. */
  async seed(project) {
    await this.call("POST", "/v1/projects", { name: project });
    for (const file of readdirSync(v1).sort()) {
      const id = `support.${path.basename(file, ".yaml")}`;
      await this.call("POST", `/v1/projects/${project}/prompts/${id}/versions`, {
        source: readFileSync(path.join(v1, file), "utf8"),
      });
      for (const env of ["dev", "staging", "prod"]) await this.promote(project, id, env, "1.0.0");
    }
    await this.call("POST", `/v1/projects/${project}/prompts/support.answer/versions`, {
      source: readFileSync(path.join(v2, "answer.yaml"), "utf8"),
    });
    await this.promote(project, "support.answer", "dev", "1.1.0");
    return this.key(project);
  }

  async stop() {
    if (this.process.exitCode === null) {
      const exited = new Promise((r) => this.process.once("exit", r));
      this.process.kill("SIGTERM");
      await exited;
    }
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What `promptops render` gives: the one renderer the answers must agree with. */
function render(file, vars) {
  const args = ["render", file, "--format", "json"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}=${v}`);
  return JSON.parse(execFileSync(bin, args, { encoding: "utf8" })).rendered;
}

const registry = await Server.start();
after(() => registry.close());
let projects = 0;

function client(server, keys) {
  return new LangfuseClient({ ...keys, baseUrl: server.url });
}

test("a text prompt by the default label (production) compiles like promptops render", async () => {
  const lf = client(registry, await registry.seed(`js${++projects}`));
  const prompt = await lf.prompt.get("support.answer");
  assert.equal(prompt.version, 1);
  assert.deepEqual(prompt.labels, ["staging", "production"]);
  assert.deepEqual(prompt.tags, ["support", "langfuse"]);
  assert.deepEqual(prompt.config, { model: "gpt-4o-mini", provider: "openai", temperature: 0.2 });
  assert.equal(prompt.commitMessage, "First version.");
  assert.equal(prompt.compile(ANSWER_VARS), render(path.join(v1, "answer.yaml"), ANSWER_VARS));
  assert.equal(prompt.isFallback, false);
});

test("a text prompt by label and by version", async () => {
  const lf = client(registry, await registry.seed(`js${++projects}`));
  const dev = await lf.prompt.get("support.answer", { label: "dev" });
  assert.equal(dev.version, 2);
  assert.deepEqual(dev.labels, ["dev", "latest"]);
  assert.equal(dev.compile(ANSWER_VARS), render(path.join(v2, "answer.yaml"), ANSWER_VARS));
  assert.equal((await lf.prompt.get("support.answer", { label: "latest" })).version, 2);
  const first = await lf.prompt.get("support.answer", { version: 1 });
  assert.equal(first.compile(ANSWER_VARS), render(path.join(v1, "answer.yaml"), ANSWER_VARS));
  const folder = await lf.prompt.get("support/answer", { version: 2 });
  assert.deepEqual([folder.name, folder.version], ["support/answer", 2]);
});

test("a chat prompt compiles to the rendered messages", async () => {
  const lf = client(registry, await registry.seed(`js${++projects}`));
  const chat = await lf.prompt.get("support.chat", { type: "chat" });
  assert.equal(chat.version, 1);
  assert.deepEqual(chat.compile(CHAT_VARS), render(path.join(v1, "chat.yaml"), CHAT_VARS));
  const byVersion = await lf.prompt.get("support.chat", { type: "chat", version: 1 });
  assert.deepEqual(byVersion.compile(CHAT_VARS), chat.compile(CHAT_VARS));
});

test("an unknown prompt is a 404 and the fallback serves", async () => {
  const lf = client(registry, await registry.seed(`js${++projects}`));
  await assert.rejects(lf.prompt.get("support.nothing", { maxRetries: 0 }), (e) => {
    assert.equal(e.statusCode, 404);
    assert.equal(e.body.error, "LangfuseNotFoundError");
    assert.match(e.body.message, /`support\.nothing` not found/);
    return true;
  });
  const fallback = await lf.prompt.get("support.nothing", { fallback: "Hi {{name}}", maxRetries: 0 });
  assert.equal(fallback.isFallback, true);
  assert.equal(fallback.compile({ name: "Ann" }), "Hi Ann");
  await assert.rejects(lf.prompt.get("support.branchy", { maxRetries: 0 }), (e) => {
    assert.equal(e.statusCode, 422);
    assert.match(e.body.message, /`\{% if %\}` is a template tag/);
    return true;
  });
});

test("create, update, and a label move a policy blocks", async () => {
  const project = `js${++projects}`;
  const lf = client(registry, await registry.seed(project));
  const created = await lf.prompt.create({
    name: "sales/pitch",
    prompt: "Sell {{product}} to {{who}}.",
    config: { model: "openai:gpt-4o" },
    labels: ["dev"],
  });
  assert.deepEqual([created.version, created.labels], [1, ["dev", "latest"]]);
  assert.equal(created.compile({ product: "tea", who: "Ann" }), "Sell tea to Ann.");
  const chat = await lf.prompt.create({
    name: "sales/chat",
    type: "chat",
    prompt: [
      { role: "system", content: "You sell {{product}}." },
      { role: "user", content: "{{question}}" },
    ],
    config: { model: "openai:gpt-4o-mini" },
  });
  assert.deepEqual(chat.compile({ product: "tea", question: "How much?" }), [
    { role: "system", content: "You sell tea." },
    { role: "user", content: "How much?" },
  ]);
  const moved = await lf.prompt.update({ name: "sales/pitch", version: 1, newLabels: ["staging"] });
  assert.deepEqual(moved.labels, ["dev", "staging", "latest"]);
  await registry.call("PUT", `/v1/projects/${project}/policies/prod`, { source: "approvals:\n  - count: 1\n" });
  await assert.rejects(lf.prompt.update({ name: "sales/pitch", version: 1, newLabels: ["production"] }), (e) => {
    assert.equal(e.statusCode, 409);
    assert.equal(e.body.error, "PromotionBlockedError");
    assert.match(e.message, /cannot go to prod/);
    assert.equal(e.body.request.status, "open");
    return true;
  });
  const open = await registry.call("GET", `/v1/projects/${project}/requests?status=open`);
  assert.deepEqual(open.map((r) => [r.prompt_id, r.environment]), [["sales.pitch", "prod"]]);
});

test("a fresh cached copy is served without asking; an expired one while refreshing", async () => {
  const project = `js${++projects}`;
  const lf = client(registry, await registry.seed(project));
  assert.equal((await lf.prompt.get("support.answer", { cacheTtlSeconds: 60 })).version, 1);
  assert.equal((await lf.prompt.get("support.answer", { label: "staging", cacheTtlSeconds: 1 })).version, 1);
  await registry.promote(project, "support.answer", "prod", "1.1.0");
  await registry.promote(project, "support.answer", "staging", "1.1.0");
  assert.equal((await lf.prompt.get("support.answer", { cacheTtlSeconds: 60 })).version, 1, "from the cache");
  assert.equal((await lf.prompt.get("support.answer", { cacheTtlSeconds: 0 })).version, 2, "no cache");
  await new Promise((r) => setTimeout(r, 1100));
  const stale = await lf.prompt.get("support.answer", { label: "staging", cacheTtlSeconds: 1 });
  assert.equal(stale.version, 1, "expired: served while the SDK refreshes it");
  const deadline = Date.now() + 10_000;
  while ((await lf.prompt.get("support.answer", { label: "staging", cacheTtlSeconds: 1 })).version !== 2) {
    assert.ok(Date.now() < deadline, "the refresh never landed");
    await new Promise((r) => setTimeout(r, 100));
  }
});

test("with the registry down the cached copy, then the fallback, serve", async () => {
  const server = await Server.start();
  try {
    const lf = client(server, await server.seed("outage"));
    const cached = await lf.prompt.get("support.answer", { cacheTtlSeconds: 1 });
    const expected = cached.compile(ANSWER_VARS);
    await server.stop();
    await new Promise((r) => setTimeout(r, 1100));
    const again = await lf.prompt.get("support.answer", { cacheTtlSeconds: 1, maxRetries: 0, fetchTimeoutMs: 2000 });
    assert.equal(again.compile(ANSWER_VARS), expected);
    assert.equal(again.isFallback, false);
    const fallback = await lf.prompt.get("support.chat", {
      type: "chat",
      maxRetries: 0,
      fetchTimeoutMs: 2000,
      fallback: [{ role: "user", content: "{{question}}" }],
    });
    assert.equal(fallback.isFallback, true);
    assert.deepEqual(fallback.compile({ question: "Hi?" }), [{ role: "user", content: "Hi?" }]);
    await assert.rejects(lf.prompt.get("support.chat", { type: "chat", maxRetries: 0, fetchTimeoutMs: 2000 }));
  } finally {
    await server.close();
  }
});

test("a public key that is not the secret key's prefix is refused with the fix", async () => {
  const project = `js${++projects}`;
  const keys = await registry.seed(project);
  const other = await registry.key(project, "viewer");
  const lf = client(registry, { publicKey: other.publicKey, secretKey: keys.secretKey });
  await assert.rejects(lf.prompt.get("support.answer", { maxRetries: 0 }), (e) => {
    assert.equal(e.statusCode, 401);
    assert.match(e.body.message, new RegExp(`set the public key to \`${keys.publicKey}\``));
    return true;
  });
});
