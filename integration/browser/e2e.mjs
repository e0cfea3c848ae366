// End-to-end test of the `envctl serve` web page in Debian's headless
// Chromium, driven by playwright-core: log in, request a tenant, watch it
// become ready, extend it, hibernate it and wake it with the Wake button,
// destroy it, with screenshots along the way.
//
// Environment: BASE_URL (http://127.0.0.1:PORT), TOKEN, TENANT, STACK,
// SCREENSHOT_DIR; optional RUN_TIMEOUT_MS (default 180000) for each run,
// CHROMIUM (default /usr/bin/chromium).
// Exits 0 when every step passed, 1 with a message naming the step otherwise.

import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!value) {
    console.error(`e2e: set ${name} (see the top of integration/browser/e2e.mjs)`);
    process.exit(2);
  }
  return value;
}

const BASE_URL = setting("BASE_URL").replace(/\/$/, "");
const TOKEN = setting("TOKEN");
const TENANT = setting("TENANT");
const STACK = setting("STACK");
const SCREENSHOT_DIR = setting("SCREENSHOT_DIR");
// The PUBLIC_URL the stack publishes, when it does: shown as a link.
const PUBLIC_URL = process.env.PUBLIC_URL || "";
const RUN_TIMEOUT_MS = Number(setting("RUN_TIMEOUT_MS", "180000"));
const CHROMIUM = setting("CHROMIUM", "/usr/bin/chromium");
const STEP_TIMEOUT_MS = 15000;
const DAY_MS = 86400000;

const started = Date.now();
const log = (message) => console.log(`e2e [${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

class StepFailed extends Error {}

/// Polls `probe` until it returns a truthy value (returned) or `timeoutMs`
/// passes (fails with `what`, and the last thing seen: `seen()` if given).
/// `fatal` may return a message that ends the wait at once (a run that failed
/// instead of finishing).
async function until(what, probe, { timeoutMs = STEP_TIMEOUT_MS, fatal, seen } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  for (let delay = 100; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await probe();
      if (value) return value;
      last = seen ? seen() : JSON.stringify(value);
    } catch (err) {
      last = err.message.split("\n")[0];
    }
    if (fatal) {
      const why = await fatal().catch(() => null);
      if (why) throw new StepFailed(`${what}: ${why}`);
    }
    if (Date.now() > deadline) {
      throw new StepFailed(`${what}: not so after ${timeoutMs / 1000}s (last seen: ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

const profile = mkdtempSync(join(tmpdir(), "envctl-chromium-"));
mkdirSync(SCREENSHOT_DIR, { recursive: true });
const consoleErrors = [];
const pageErrors = [];
let context;
let page;

async function screenshot(name) {
  const path = join(SCREENSHOT_DIR, name);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot ${path}`);
}

const byTestId = (id) => page.getByTestId(id);
const attr = (id, name) => byTestId(id).first().getAttribute(name, { timeout: 1000 });
const text = (id) => byTestId(id).first().textContent({ timeout: 1000 });

/// Waits for the run view to show `status` for the tenant, failing early when
/// the run ends otherwise.
async function waitForTenantStatus(status) {
  let seen = null;
  const progress = new Set();
  await until(`tenant ${TENANT} shows status '${status}' in its run view`,
    async () => {
      progress.add(await attr("run-counts", "data-done").catch(() => null));
      return (seen = await attr("detail-status", "data-status")) === status;
    },
    {
      timeoutMs: RUN_TIMEOUT_MS,
      seen: () => `status '${seen}'`,
      fatal: async () => {
        const run = await attr("run-status", "data-status");
        if (!["failed", "cancelled", "interrupted"].includes(run)) return null;
        const lines = await byTestId("run-log").locator("li").allTextContents();
        return `the run ended '${run}'; its log:\n  ${lines.slice(-20).join("\n  ")}`;
      },
    });
  log(`steps done seen while waiting for '${status}': ${[...progress].filter((n) => n !== null).join(", ")}`);
}

/// Waits until the run view's run finished with `succeeded`, its counts add
/// up and the final timeline picture is loaded.
async function waitForFinishedRun(operation) {
  await until(`the ${operation} run shows 'succeeded'`,
    async () => (await attr("run-status", "data-status")) === "succeeded", { timeoutMs: RUN_TIMEOUT_MS });
  await until(`the ${operation} run shows all its steps done`, async () => {
    const done = Number(await attr("run-counts", "data-done"));
    const total = Number(await attr("run-counts", "data-total"));
    return total > 0 && done === total;
  });
  await until(`the timeline picture of the finished ${operation} run is loaded`, async () => {
    const loaded = await attr("run-timeline", "data-loaded-for");
    if (!loaded || !loaded.endsWith(":succeeded")) return false;
    return byTestId("run-timeline").evaluate((img) => img.complete && img.naturalWidth > 0);
  });
}

async function main() {
  log(`chromium ${CHROMIUM}, page ${BASE_URL}, tenant ${TENANT} of stack ${STACK}`);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("response", (response) => {
    if (response.status() >= 400) consoleErrors.push(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
  });

  // 1. Log in with the token.
  await page.goto(BASE_URL);
  await byTestId("login-token").waitFor({ state: "visible" });
  await byTestId("login-token").fill(TOKEN);
  await byTestId("login-submit").click();
  await until("the header shows who is logged in", async () => (await text("whoami-name")).trim());
  const me = { name: (await text("whoami-name")).trim(), role: (await text("whoami-role")).trim() };
  log(`logged in as ${me.name} (${me.role})`);
  const storage = await page.evaluate(() => localStorage.length + sessionStorage.length);
  if (storage !== 0) throw new StepFailed(`the page stored ${storage} items in web storage; it must keep nothing`);
  if (page.url().includes(TOKEN)) throw new StepFailed("the token appears in the page's address");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "envctl_session");
  if (!session || !session.httpOnly) throw new StepFailed(`no HttpOnly envctl_session cookie after login: ${JSON.stringify(cookies)}`);

  // 2. Request the tenant.
  await until(`the stack list offers ${STACK}`,
    async () => (await byTestId("request-stack").locator("option").evaluateAll((os) => os.map((o) => o.value))).includes(STACK));
  await byTestId("request-stack").selectOption(STACK);
  const ttl = await byTestId("request-ttl").inputValue();
  if (!ttl) throw new StepFailed("the TTL field is not filled from the stack's default");
  await byTestId("request-name").fill(TENANT);
  await byTestId("request-note").fill("browser end-to-end test");
  await byTestId("request-submit").click();
  log(`requested ${TENANT} (ttl ${ttl})`);

  // 3. Its run view: watch it reach ready.
  await until("the run view opens", async () => byTestId("run-view").isVisible(), {
    fatal: async () => {
      const error = (await text("request-error")).trim();
      return error ? `the page shows the error '${error}'` : null;
    },
  });
  await until(`the run view is about ${TENANT}`, async () => (await text("detail-name")) === TENANT);
  await until("the run view shows a create run", async () => (await attr("run-operation", "data-operation")) === "create");
  await waitForTenantStatus("ready");
  await waitForFinishedRun("create");
  log(`ready: ${(await text("run-counts")).trim()}; ${(await text("run-budget-status")).trim()}`);
  await screenshot("1-ready-run-view.png");

  // 4. Extend it by 1d from the tenants table.
  const before = await attr("detail-expires", "datetime");
  if (!before) throw new StepFailed("the run view shows no expiry for a tenant with a TTL");
  await byTestId("back-to-list").click();
  const row = byTestId(`tenant-row-${TENANT}`);
  await row.waitFor({ state: "visible" });
  await until("the table shows the tenant ready",
    async () => (await row.getByTestId("tenant-status").getAttribute("data-status")) === "ready");
  await until("the table shows the same expiry",
    async () => (await row.getByTestId("tenant-expires").getAttribute("datetime")) === before);
  // How to reach it and what it costs, at a glance: the status badge says
  // its state in words, PUBLIC_URL is a safe link, API_URL (javascript:) is none.
  const badge = (await row.getByTestId("tenant-status").innerText()).trim();
  if (!badge.endsWith("ready")) throw new StepFailed(`the status badge reads '${badge}', expected the word ready`);
  if (PUBLIC_URL) {
    const link = row.getByTestId("url-PUBLIC_URL");
    await until("the table links the tenant's PUBLIC_URL", async () => (await link.count()) === 1);
    const href = await link.getAttribute("href");
    const rel = await link.getAttribute("rel");
    if (href !== `${PUBLIC_URL}/`) throw new StepFailed(`the link goes to '${href}', expected ${PUBLIC_URL}/`);
    if (rel !== "noopener noreferrer") throw new StepFailed(`the link's rel is '${rel}'`);
    if ((await row.getByTestId("url-API_URL").count()) !== 0) {
      throw new StepFailed("a javascript: API_URL was rendered as a link");
    }
  }
  const cost = (await row.getByTestId("tenant-cost").innerText()).trim();
  if (!/\$\d/.test(cost)) throw new StepFailed(`the cost cell reads '${cost}', expected an amount in dollars`);
  log(`at a glance: ${badge}; cost ${cost.replace(/\s+/g, " ")}`);
  await byTestId(`row-extend-${TENANT}`).click();
  await byTestId("extend-dialog").waitFor({ state: "visible" });
  const by = await byTestId("extend-by").inputValue();
  if (by !== "1d") throw new StepFailed(`the extend dialog proposes '${by}', expected '1d'`);
  await byTestId("extend-confirm").click();
  await until("the extend dialog closes", async () => !(await byTestId("extend-dialog").isVisible()), {
    fatal: async () => {
      const error = (await text("extend-error")).trim();
      return error ? `the dialog shows the error '${error}'` : null;
    },
  });
  const after = await until("the table shows a later expiry", async () => {
    const shown = await row.getByTestId("tenant-expires").getAttribute("datetime");
    return shown && shown !== before ? shown : false;
  });
  const moved = Date.parse(after) - Date.parse(before);
  if (Math.abs(moved - DAY_MS) > 60000) {
    throw new StepFailed(`the expiry moved from ${before} to ${after} (${moved} ms), expected one day later`);
  }
  log(`extended: ${before} -> ${after}`);
  await screenshot("2-extended-list.png");

  // 4b. Hibernate it through the API (as a schedule would), then wake it
  // with the page's Wake button and watch it come back ready.
  const hibernate = await page.evaluate(async (name) => {
    const r = await fetch(`/api/tenants/${name}/hibernate`,
      { method: "POST", headers: { Accept: "application/json" }, credentials: "same-origin" });
    return r.status;
  }, TENANT);
  if (hibernate !== 202) throw new StepFailed(`POST .../hibernate answered ${hibernate}, expected 202`);
  await until("the table shows the tenant hibernated with a Wake button",
    async () => (await row.getByTestId("tenant-status").getAttribute("data-status")) === "hibernated"
      && (await byTestId(`row-wake-${TENANT}`).count()) === 1, { timeoutMs: RUN_TIMEOUT_MS });
  await byTestId(`row-wake-${TENANT}`).click();
  await until("the table shows the tenant ready again after Wake",
    async () => (await row.getByTestId("tenant-status").getAttribute("data-status")) === "ready",
    { timeoutMs: RUN_TIMEOUT_MS });
  if ((await byTestId(`row-wake-${TENANT}`).count()) !== 0) {
    throw new StepFailed("a woken tenant still offers a Wake button");
  }
  log("hibernated through the API, woken with the page's Wake button");

  // 5. Destroy it: confirm the dialog, then watch the destroy run.
  await byTestId(`row-destroy-${TENANT}`).click();
  await byTestId("destroy-dialog").waitFor({ state: "visible" });
  const question = await byTestId("destroy-dialog").textContent();
  if (!question.includes(TENANT)) throw new StepFailed(`the destroy dialog does not name ${TENANT}: ${question}`);
  await byTestId("destroy-confirm").click();
  await until("the destroy run view opens", async () => (await byTestId("run-view").isVisible())
    && (await attr("run-operation", "data-operation")) === "destroy", {
    fatal: async () => {
      const error = (await text("destroy-error")).trim();
      return error ? `the dialog shows the error '${error}'` : null;
    },
  });
  await waitForTenantStatus("destroyed");
  await waitForFinishedRun("destroy");
  log(`destroyed: ${(await text("run-counts")).trim()}`);
  await screenshot("3-destroyed-run-view.png");

  // The table agrees (a destroyed tenant is listed as such, or not at all).
  await byTestId("back-to-list").click();
  await byTestId("tenants-table").waitFor({ state: "visible" });
  await until("the table no longer shows the tenant as alive", async () => {
    if ((await row.count()) === 0) return true;
    return (await row.getByTestId("tenant-status").getAttribute("data-status")) === "destroyed";
  });
  // No action buttons for a destroyed tenant.
  if ((await byTestId(`row-destroy-${TENANT}`).count()) !== 0) {
    throw new StepFailed("a destroyed tenant still offers a Destroy button");
  }

  if (pageErrors.length) throw new StepFailed(`the page threw: ${pageErrors.join("; ")}`);
}

let failed = false;
try {
  await main();
  log("passed: logged in, requested, ready, extended, hibernated and woken, destroyed");
} catch (err) {
  failed = true;
  console.error(`e2e FAILED: ${err instanceof StepFailed ? err.message : err.stack}`);
  if (page) {
    console.error(`e2e: page address ${page.url()}`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, "failure.png"), fullPage: true })
      .then(() => console.error(`e2e: screenshot of the failure in ${join(SCREENSHOT_DIR, "failure.png")}`))
      .catch(() => {});
  }
} finally {
  if (consoleErrors.length || pageErrors.length) {
    const out = failed ? console.error : console.log;
    out(`e2e: the page's console errors (${consoleErrors.length + pageErrors.length}):`);
    for (const line of [...pageErrors, ...consoleErrors]) out(`  ${line}`);
  }
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
