// The web UI of `promptops serve`, end to end in a real Chromium, against the registry
// global-setup.js seeded (project shop: support.answer 1.0.0 in production, 1.1.0 in
// staging; billing.refund 1.0.0 in development; production needs one approval).
//
// The journey is serial (each step builds on the last): alice signs in, finds the prompt,
// edits it (a broken file is refused with positioned diagnostics, the fixed one is
// published), asks for production, and cannot approve her own change; bob approves it
// from his queue and production moves; the diff and the audit log show what happened.
// The checks after it (security headers, cookies, CSRF, small screens, keyboard) stand
// alone.

import { test, expect } from "@playwright/test";
import { users, PROJECT } from "../helpers/users.js";
import { api, baseURL, cliFindings, control, screenshot, section, setField, signIn, signOut } from "../helpers/ui.js";

const ID = "support.answer";
const promptPath = `/p/${PROJECT}/prompts/${ID}`;

test.use({ baseURL: baseURL() });

/** The version line of a prompt file. */
const versionOf = (source) => source.match(/^version:\s*["']?([^\s"']+)/m)?.[1];

/** Semver a > b (numbers only: the editor bumps a release version). */
function newer(a, b) {
  const [x, y] = [a, b].map((v) => v.split(/[.+-]/).slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return false;
}

/** The version `env` serves, as the JSON API says. */
async function served(env) {
  const labels = await api("GET", `/v1/projects/${PROJECT}/prompts/${ID}/labels`);
  expect(labels.status).toBe(200);
  return labels.body.find((l) => l.environment === env)?.version;
}

/** The row (table row or list item) of an environment in the Environments section. */
function environmentRow(page, env) {
  return section(page, "Environments")
    .locator("tr, li, dl > div")
    .filter({ hasText: new RegExp(`\\b${env}\\b`) })
    .first();
}

test.describe.serial("the journey: edit, request, approve, move", () => {
  let newVersion; // what alice publishes from the editor
  let requestNumber; // the promotion request she opens

  test("alice signs in: the header names her and her roles", async ({ page }) => {
    await page.goto("/login");
    await expect(page.getByLabel("User name")).toBeVisible();
    await expect(page.getByLabel("Password")).toHaveAttribute("type", "password");
    await screenshot(page, "login");
    await signIn(page, "alice");
    const header = page.getByRole("banner");
    await expect(header).toContainText("alice");
    await expect(header).toContainText("editor");
  });

  test("projects link to their prompt lists; search and filters narrow the list", async ({ page }) => {
    await signIn(page, "alice");
    await page.goto("/");
    const project = page.getByRole("link", { name: PROJECT, exact: true });
    await expect(project).toBeVisible();
    await screenshot(page, "projects");
    await project.click();
    await expect(page).toHaveURL(new RegExp(`/p/${PROJECT}/?$`));

    const answer = page.getByRole("link", { name: "support.answer", exact: true });
    const refund = page.getByRole("link", { name: "billing.refund", exact: true });
    await expect(answer).toBeVisible();
    await expect(refund).toBeVisible();
    await screenshot(page, "prompt-list");

    const filter = page.getByRole("button", { name: "Filter" });
    const narrowed = async (field, value, shown, hidden) => {
      await page.goto(`/p/${PROJECT}`);
      await setField(control(page, field), value);
      await filter.click();
      await expect(page.getByRole("link", { name: shown, exact: true }), `${field} = ${value}`).toBeVisible();
      await expect(page.getByRole("link", { name: hidden, exact: true }), `${field} = ${value}`).toHaveCount(0);
    };
    await narrowed("Search", "refund", "billing.refund", "support.answer");
    await narrowed("Tag", "rag", "support.answer", "billing.refund");
    await narrowed("Owner", "billing-team", "billing.refund", "support.answer");
    await narrowed("Environment", "production", "support.answer", "billing.refund");
    await narrowed("Risk tier", "high", "billing.refund", "support.answer");

    // Everything was seeded moments ago: the narrowest window still shows both.
    await page.goto(`/p/${PROJECT}`);
    const within = control(page, "Changed within");
    await expect(within).toBeVisible();
    if ((await within.evaluate((el) => el.tagName)) === "SELECT") {
      const values = await within.locator("option").evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
      expect(values.length, "Changed within offers windows").toBeGreaterThan(0);
      await within.selectOption(values[0]);
    } else {
      await within.fill("1d");
    }
    await filter.click();
    await expect(answer).toBeVisible();
    await expect(refund).toBeVisible();
  });

  test("the prompt page shows environments, versions, label history, requests, evals", async ({ page }) => {
    await signIn(page, "alice");
    await page.goto(`/p/${PROJECT}`);
    await page.getByRole("link", { name: ID, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${promptPath}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(ID);

    await expect(environmentRow(page, "production")).toContainText("1.0.0");
    await expect(environmentRow(page, "staging")).toContainText("1.1.0");
    await expect(environmentRow(page, "development")).toContainText("1.1.0");
    const versions = section(page, "Versions");
    await expect(versions.getByRole("link", { name: "1.0.0", exact: true })).toBeVisible();
    await expect(versions.getByRole("link", { name: "1.1.0", exact: true })).toBeVisible();
    await expect(section(page, "Label history")).toContainText("production");
    await expect(section(page, "Pending requests")).toBeVisible();
    await expect(section(page, "Evals")).toBeVisible();
    await expect(page.getByRole("link", { name: "New version" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Request promotion" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Compare" })).toBeVisible();
    await screenshot(page, "prompt");

    await versions.getByRole("link", { name: "1.1.0", exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${promptPath}/v/1\\.1\\.0$`));
    const h1 = page.getByRole("heading", { level: 1 });
    await expect(h1).toContainText(ID);
    await expect(h1).toContainText("1.1.0");
    await expect(page.locator("main")).toContainText("three sentences");
    await screenshot(page, "version");
  });

  test("the editor refuses a broken file with positioned diagnostics, then publishes the fixed one", async ({ page }) => {
    await signIn(page, "alice");
    await page.goto(promptPath);
    await page.getByRole("link", { name: "New version" }).click();
    await expect(page).toHaveURL(new RegExp(`${promptPath}/edit$`));

    const file = page.getByLabel("Prompt file");
    const prefilled = await file.inputValue();
    expect(prefilled).toContain(`id: ${ID}`);
    expect(prefilled, "prefilled with the latest version's text").toContain("three sentences");
    newVersion = versionOf(prefilled);
    expect(newVersion, "the version is bumped past 1.1.0").toBeTruthy();
    expect(newer(newVersion, "1.1.0"), `${newVersion} > 1.1.0`).toBe(true);
    const fixed = prefilled.replace("in at most three sentences", "in at most two sentences");
    expect(fixed).not.toBe(prefilled);

    const diagnostics = page.getByRole("region", { name: "Diagnostics" }).or(page.getByRole("list", { name: "Diagnostics" }));
    const expectDiagnosticAt = async (source, what) => {
      const findings = cliFindings(ID, source).filter((f) => f.severity === "error");
      expect(findings.length, `promptops validate finds the ${what}`).toBeGreaterThan(0);
      await expect(diagnostics.first()).toBeVisible();
      for (const f of findings) {
        await expect(diagnostics.first(), `the ${what} at the place the CLI names`).toContainText(
          `line ${f.line}, column ${f.column}`,
        );
      }
      return findings;
    };

    // 1. No owner: Validate names the missing field where `promptops validate` does.
    const noOwner = fixed.replace(/^owner:.*\n/m, "");
    expect(noOwner).not.toBe(fixed);
    await file.fill(noOwner);
    await page.getByRole("button", { name: "Validate" }).click();
    await expectDiagnosticAt(noOwner, "missing owner");
    await expect(diagnostics.first()).toContainText("owner");
    await expect(file, "the text being edited is kept").toHaveValue(noOwner);
    await screenshot(page, "editor-errors");

    // 2. YAML that does not parse: Publish refuses it, with the line, and publishes nothing.
    const badYaml = fixed.replace(/^description: (.*)$/m, "description: [$1");
    expect(badYaml).not.toBe(fixed);
    await file.fill(badYaml);
    await page.getByRole("button", { name: "Publish" }).click();
    await expectDiagnosticAt(badYaml, "YAML error");
    await expect(page).not.toHaveURL(/\/v\//);
    expect((await api("GET", `/v1/projects/${PROJECT}/prompts/${ID}/versions/${newVersion}`)).status).toBe(404);

    // 3. Fixed: Publish lands on the new version's page.
    await file.fill(fixed);
    await page.getByRole("button", { name: "Validate" }).click();
    await expect(diagnostics.first().getByText(/line \d+, column \d+/)).toHaveCount(0);
    await page.getByRole("button", { name: "Publish" }).click();
    await expect(page).toHaveURL(new RegExp(`${promptPath}/v/${newVersion.replaceAll(".", "\\.")}(\\?.*)?$`));
    await expect(page.getByRole("status").filter({ hasText: "Published" })).toBeVisible();
    const h1 = page.getByRole("heading", { level: 1 });
    await expect(h1).toContainText(ID);
    await expect(h1).toContainText(newVersion);
    const published = await api("GET", `/v1/projects/${PROJECT}/prompts/${ID}/versions/${newVersion}`);
    expect(published.status).toBe(200);
    expect(JSON.stringify(published.body)).toContain("two sentences");
  });

  test("alice asks for production and cannot approve her own change", async ({ page }) => {
    await signIn(page, "alice");
    await page.goto(promptPath);
    await setField(control(page, "Environment"), "production");
    await setField(control(page, "Version"), newVersion);
    await page.getByRole("button", { name: "Request promotion" }).click();
    await expect(page).toHaveURL(new RegExp(`/p/${PROJECT}/requests/\\d+(\\?.*)?$`));
    requestNumber = Number(new URL(page.url()).pathname.match(/\/requests\/(\d+)$/)[1]);
    await expect(page.getByRole("status").filter({ hasText: "waits for approval" })).toBeVisible();

    await expect(page.getByText("You authored this — someone else must approve")).toBeVisible();
    const approve = page.getByRole("button", { name: "Approve" });
    if ((await approve.count()) > 0) await expect(approve).toBeDisabled();
    await screenshot(page, "request");

    // Production still serves 1.0.0; the prompt page lists the open request.
    expect(await served("production")).toBe("1.0.0");
    await page.goto(promptPath);
    await expect(environmentRow(page, "production")).toContainText("1.0.0");
    await expect(section(page, "Pending requests").locator(`a[href$="/requests/${requestNumber}"]`)).toBeVisible();
  });

  test("bob approves it from his queue and production moves", async ({ page }) => {
    await signIn(page, "alice");
    await signOut(page);
    await signIn(page, "bob");
    await expect(page.getByRole("banner")).toContainText("approver");

    await page.goto(`/p/${PROJECT}/requests`);
    const link = page.locator(`a[href$="/p/${PROJECT}/requests/${requestNumber}"]`);
    await expect(link).toBeVisible();
    await screenshot(page, "requests");
    await link.first().click();
    await expect(page).toHaveURL(new RegExp(`/p/${PROJECT}/requests/${requestNumber}$`));
    await expect(page.getByRole("heading", { level: 1 })).toContainText(`${ID}@${newVersion}`);
    await expect(page.getByRole("button", { name: "Reject" })).toBeVisible();
    await page.getByLabel("Comment").fill("Read the diff: two sentences is fine.");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect(page).toHaveURL(new RegExp(`/p/${PROJECT}/requests/${requestNumber}(\\?.*)?$`));
    await expect(page.getByRole("status").filter({ hasText: "Approved" })).toBeVisible();
    await expect(section(page, "Decisions")).toContainText("bob");
    await expect(section(page, "Decisions")).toContainText("two sentences is fine");
    await screenshot(page, "request-approved");

    await page.goto(promptPath);
    await expect(environmentRow(page, "production")).toContainText(newVersion);
    await expect(section(page, "Label history")).toContainText(newVersion);
    expect(await served("production")).toBe(newVersion);
  });

  test("the Compare form opens the diff of two versions", async ({ page }) => {
    await signIn(page, "bob");
    await page.goto(promptPath);
    await setField(control(page, "From"), "1.1.0");
    await setField(control(page, "To"), newVersion);
    await page.getByRole("button", { name: "Compare" }).click();
    await expect(page).toHaveURL(new RegExp(`${promptPath}/diff\\?from=1\\.1\\.0&to=${newVersion.replaceAll(".", "\\.")}$`));
    await expect(page.getByRole("heading", { level: 1, name: "Diff" })).toBeVisible();
    await expect(page.locator("main")).toContainText("three sentences");
    await expect(page.locator("main")).toContainText("two sentences");
    await screenshot(page, "diff");

    await page.goto(`${promptPath}/diff?from=1.0.0&to=1.1.0`);
    await expect(page.getByRole("heading", { level: 1, name: "Diff" })).toBeVisible();
  });

  test("the audit log verifies its chain and shows the promotion and the approval", async ({ page }) => {
    await signIn(page, "admin");
    await page.goto("/audit");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Audit log");
    await expect(page.locator("main")).toContainText(/verified/i);
    const event = (actor, action, target) =>
      page.getByRole("row").filter({ hasText: actor }).filter({ hasText: action }).filter({ hasText: target });
    await expect(event("alice", "promotion.requested", "request:shop/")).toHaveCount(1);
    await expect(event("bob", "promotion.approved", "request:shop/")).toHaveCount(1);
    await expect(event("bob", "label.moved", "label:shop/support.answer/production")).toHaveCount(1);
    await expect(event("bob", "promotion.completed", "request:shop/")).toHaveCount(1);
    await screenshot(page, "audit");
  });

  test("the dashboard renders", async ({ page }) => {
    await signIn(page, "alice");
    const response = await page.goto(`/p/${PROJECT}/dashboard`);
    expect(response.status()).toBe(200);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await screenshot(page, "dashboard");
  });
});

test.describe("security, small screens and the keyboard", () => {
  test("the session cookie is HttpOnly and SameSite=Strict; pages send a CSP without inline scripts", async ({ page }) => {
    const loginPage = await page.goto("/login");
    const before = new Map((await page.context().cookies()).map((c) => [c.name, c.value]));
    await signIn(page, "alice");
    const cookies = await page.context().cookies();
    const session = cookies.filter((c) => before.get(c.name) !== c.value);
    expect(session.length, "signing in sets a session cookie").toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.httpOnly, `${cookie.name} is HttpOnly`).toBe(true);
      expect(cookie.sameSite, `${cookie.name} is SameSite=Strict`).toBe("Strict");
    }

    const promptPage = await page.goto(promptPath);
    for (const [name, response] of [
      ["/login", loginPage],
      [promptPath, promptPage],
    ]) {
      const csp = response.headers()["content-security-policy"];
      expect(csp, `${name} sends a Content-Security-Policy`).toBeTruthy();
      const directives = Object.fromEntries(
        csp
          .split(";")
          .map((d) => d.trim().split(/\s+/))
          .filter((d) => d[0])
          .map(([k, ...v]) => [k.toLowerCase(), v]),
      );
      const scripts = directives["script-src"] ?? directives["default-src"];
      expect(scripts, `${name}: the CSP restricts scripts (script-src or default-src): ${csp}`).toBeTruthy();
      expect(scripts, `${name}: no 'unsafe-inline' for scripts: ${csp}`).not.toContain("'unsafe-inline'");
    }
  });

  test("a form POST without the CSRF token is refused with 403", async ({ page, request }) => {
    await signIn(page, "alice");
    await page.goto(`${promptPath}/edit`);
    // The editor's form as the browser would send it on Validate (no side effect).
    const form = await page.getByRole("button", { name: "Validate" }).evaluate((button) => {
      const f = button.form;
      const fields = [];
      for (const [k, v] of new FormData(f, button)) fields.push([k, String(v)]);
      // Attributes, not f.action: the form's `action` button shadows that property.
      const url = button.getAttribute("formaction") ?? f.getAttribute("action") ?? "";
      const method = button.getAttribute("formmethod") ?? f.getAttribute("method") ?? "get";
      return { action: new URL(url, document.baseURI).href, method: method.toUpperCase(), fields };
    });
    expect(form.method).toBe("POST");
    const isToken = ([k]) => /csrf|xsrf|token/i.test(k);
    expect(form.fields.some(isToken), `the form carries a CSRF token field: ${form.fields.map(([k]) => k)}`).toBe(true);
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const origin = new URL(baseURL()).origin;
    const post = (fields) =>
      request.post(form.action, {
        headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
        data: new URLSearchParams(fields).toString(),
        maxRedirects: 0,
      });

    const withToken = await post(form.fields);
    expect(withToken.status(), "the same POST with its token is accepted").toBeLessThan(400);
    const withoutToken = await post(form.fields.filter((f) => !isToken(f)));
    expect(withoutToken.status()).toBe(403);
    const wrongToken = await post(form.fields.map(([k, v]) => [k, isToken([k]) ? `x${v}` : v]));
    expect(wrongToken.status()).toBe(403);
  });

  test("on a 390×844 screen the prompt list fits without sideways scrolling", async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, baseURL: baseURL() });
    const page = await context.newPage();
    try {
      await signIn(page, "alice");
      await page.goto(`/p/${PROJECT}`);
      await expect(page.getByRole("link", { name: ID, exact: true })).toBeVisible();
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({
        scrollWidth: document.scrollingElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      expect(innerWidth, "the page declares a device-width viewport").toBe(390);
      expect(scrollWidth, `content ${scrollWidth}px wide in a ${innerWidth}px screen`).toBeLessThanOrEqual(innerWidth + 1);
      await screenshot(page, "prompt-list-mobile");
    } finally {
      await context.close();
    }
  });

  test("Tab from the top of the login page reaches User name first among the fields", async ({ page }) => {
    await page.goto("/login");
    const onField = () =>
      page.evaluate(() => {
        const el = document.activeElement;
        return !!el && ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.type !== "hidden";
      });
    // An autofocused field counts as reached first; otherwise Tab until one has focus.
    for (let i = 0; i < 40 && !(await onField()); i++) await page.keyboard.press("Tab");
    await expect(page.getByLabel("User name")).toBeFocused();
  });
});
