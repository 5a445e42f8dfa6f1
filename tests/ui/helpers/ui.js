// Small steps the spec repeats: signing in and out, finding a page section, setting a
// filter whatever control it is, saving a screenshot, calling the JSON API.

import { expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { users } from "./users.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifacts = path.resolve(here, "..", "artifacts");

export const baseURL = () => {
  const url = process.env.PROMPTOPS_UI_URL;
  if (!url) throw new Error("PROMPTOPS_UI_URL is not set: run the suite with `npx playwright test` (global-setup.js starts the server)");
  return url;
};

/** Signs `who` in through the login form; returns the login page's response. */
export async function signIn(page, who) {
  const user = users[who];
  const response = await page.goto("/login");
  await page.getByLabel("User name").fill(user.name);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/login(\?|$)/);
  const header = page.getByRole("banner");
  await expect(header).toContainText(user.name);
  await expect(header.getByRole("button", { name: "Sign out" })).toBeVisible();
  return response;
}

export async function signOut(page) {
  await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("banner").getByRole("button", { name: "Sign out" })).toHaveCount(0);
}

/** The <section> (or other landmark) a heading named `name` opens. */
export function section(page, name) {
  const heading = page.getByRole("heading", { name, exact: true });
  return page.locator("section, [role=region]").filter({ has: heading }).last();
}

/** The form control whose accessible name is exactly `name` (as Chromium computes it:
 * a select wrapped in its <label> is named by the label's text alone, where
 * getByLabel's text match would also see the selected option). */
export function control(scope, name) {
  const named = (role) => scope.getByRole(role, { name, exact: true });
  return named("combobox").or(named("listbox")).or(named("textbox")).or(named("searchbox"));
}

/** Fills an input or picks a select's option (by value or label, exact first). */
export async function setField(locator, value) {
  const tag = await locator.evaluate((el) => el.tagName);
  if (tag !== "SELECT") {
    await locator.fill(value);
    return;
  }
  const options = await locator
    .locator("option")
    .evaluateAll((os) => os.map((o) => ({ value: o.value, label: (o.label || o.textContent).trim() })));
  const pick =
    options.find((o) => o.value === value || o.label === value) ??
    options.find((o) => o.value.includes(value) || o.label.includes(value));
  if (!pick) throw new Error(`no option "${value}" in ${JSON.stringify(options)}`);
  await locator.selectOption(pick.value);
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/** A /v1 call with `who`'s bearer token (fetched once per user). */
const tokens = {};
export async function api(method, route, body, who = "admin") {
  if (!tokens[who]) {
    const login = await fetch(`${baseURL()}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: users[who].name, password: users[who].password }),
    });
    if (!login.ok) throw new Error(`login as ${who}: ${login.status} ${await login.text()}`);
    tokens[who] = (await login.json()).access_token;
  }
  const headers = { authorization: `Bearer ${tokens[who]}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(baseURL() + route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** What `promptops validate` says of `source` as prompts/<module>/<name>.yaml: its
 * findings as {line, column, severity, message}, the positions the UI must agree with. */
export function cliFindings(id, source) {
  const dir = mkdtempSync(path.join(tmpdir(), "promptops-ui-validate-"));
  try {
    const [module, ...rest] = id.split(".");
    const file = path.join(dir, "prompts", module, `${rest.join(".")}.yaml`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, source);
    let out;
    try {
      out = execFileSync(process.env.PROMPTOPS_UI_BIN, ["validate", "--root", path.join(dir, "prompts"), file], {
        encoding: "utf8",
        stdio: "pipe",
        env: { ...process.env, NO_COLOR: "1", PROMPTOPS_FORMAT: "text" },
      });
    } catch (error) {
      out = `${error.stdout}`;
    }
    const findings = [];
    for (const m of out.matchAll(/^.*?:(\d+):(\d+): (error|warning)\[(\w+)\]: (.*)$/gm)) {
      findings.push({ line: Number(m[1]), column: Number(m[2]), severity: m[3], code: m[4], message: m[5] });
    }
    return findings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
