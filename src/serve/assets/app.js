// The web page of `envctl serve`: log in, request tenants, watch their runs,
// extend and destroy them. Plain DOM code, no framework and no build step.
// The token is sent once to POST /api/login and never kept here: the server
// remembers the session with an HttpOnly cookie.

const REFRESH_MS = 3000;
const TIMELINE_REFRESH_MS = 3000;
const LOG_LINES_KEPT = 200;

const $ = (id) => document.getElementById(id);

// ---- state ---------------------------------------------------------------

const state = {
  me: null, // {name, role}
  stacks: null, // {stacks, default, max_ttl}
  tenants: [],
  detail: null, // the tenant of the detail view, with runs
  route: { view: "list" },
  run: null, // the run watched in the detail view
  events: null, // its EventSource
  rollouts: [],
  rollout: null, // the rollout of the rollout view
  rolloutEvents: null, // its EventSource
  timelineTimer: null,
  refreshing: false,
  ttlEdited: false,
};

// ---- the API ---------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message}). Is envctl serve running?`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || `${method} ${path} failed with HTTP ${response.status}`;
    if (response.status === 401 && path !== "/api/login") showLogin(message);
    throw new ApiError(response.status, message);
  }
  return data;
}

const tenantPath = (name) => `/api/tenants/${encodeURIComponent(name)}`;
const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;

// ---- small DOM helpers -----------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/// Runs `render` (which replaces elements) and gives the keyboard focus back
/// to the element with the same data-testid, so refreshes don't steal it.
function keepingFocus(render) {
  const id = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.testid : null;
  render();
  if (id && document.activeElement === document.body) {
    const again = document.querySelector(`[data-testid="${CSS.escape(id)}"]`);
    if (again) again.focus();
  }
}

function show(el, visible) {
  el.hidden = !visible;
}

let noticeTimer = null;
function notice(message) {
  const el = $("notice");
  el.textContent = message;
  show(el, Boolean(message));
  clearTimeout(noticeTimer);
  if (message) noticeTimer = setTimeout(() => show(el, false), 8000);
}

// ---- formatting ------------------------------------------------------------

/// Milliseconds as the CLI writes them: 850ms, 4.2s, 42s, 1m05s, 15m, 1h05m.
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  ms = Math.max(0, Math.floor(ms));
  const S = 1000, M = 60 * S, H = 60 * M;
  const pad = (n) => String(n).padStart(2, "0");
  if (ms === 0) return "0s";
  if (ms < S) return `${ms}ms`;
  if (ms < 10 * S) {
    const tenths = Math.floor((ms % S) / 100);
    return tenths ? `${Math.floor(ms / S)}.${tenths}s` : `${Math.floor(ms / S)}s`;
  }
  if (ms < M) return `${Math.floor(ms / S)}s`;
  if (ms < H) {
    const s = Math.floor((ms % M) / S);
    return s ? `${Math.floor(ms / M)}m${pad(s)}s` : `${Math.floor(ms / M)}m`;
  }
  const m = Math.floor((ms % H) / M);
  return m ? `${Math.floor(ms / H)}h${pad(m)}m` : `${Math.floor(ms / H)}h`;
}

/// How far `iso` is from now, in at most two units: "in 6 d 23 h", "5 min ago".
export function fmtRelative(iso, now = Date.now()) {
  const diff = Date.parse(iso) - now;
  let rest = Math.abs(diff);
  const units = [["d", 86400000], ["h", 3600000], ["min", 60000], ["s", 1000]];
  const parts = [];
  for (const [unit, size] of units) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length === 0 && unit === "s")) {
      parts.push(`${n} ${unit}`);
      rest -= n * size;
    } else if (parts.length === 1) {
      break; // "in 2 d", not "in 2 d 0 h"
    }
  }
  const text = parts.join(" ");
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

export function fmtAbsolute(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short",
  });
}

/// Statuses are shown as a word with a symbol; the colour only repeats it.
const STATUS_SYMBOL = {
  ready: "✓", succeeded: "✓", creating: "↻", destroying: "↻", running: "↻", queued: "…",
  failed: "✗", interrupted: "✗", cancelled: "⊘", destroyed: "—",
  hibernated: "☾", hibernating: "↻", waking: "↻",
  pending: "…", applying: "↻", gating: "↻", rolling_back: "↻", unchanged: "=", skipped: "⊘",
  rolled_back: "↶", rollback_failed: "✗", paused: "‖", aborted: "⊘", stopped: "✗",
};

function statusBadge(status, testid) {
  return h("span", { class: `badge status-${status}`, "data-status": status, "data-testid": testid },
    h("span", { "aria-hidden": "true" }, STATUS_SYMBOL[status] || "•"), " ", status);
}

/// The latest scheduled drift check: a badge (drifted or in sync, with a
/// symbol; the colour only repeats it), the summary line and the nodes
/// that are not in sync.
function driftFacts(d) {
  if (!d) return [document.createTextNode("not checked (the server's drift_check is off, or has not run yet)")];
  const status = d.drifted ? "drifted" : "in-sync";
  const badge = h("span", { class: `badge drift-${status}`, "data-testid": "detail-drift-badge", "data-drifted": String(d.drifted) },
    h("span", { "aria-hidden": "true" }, d.drifted ? "⚠" : "✓"), " ", d.drifted ? "drifted" : "in sync");
  const when = h("span", { class: "muted" }, ` checked ${fmtRelative(d.checked_at)}: ${d.summary}`);
  const out = [badge, when];
  if (d.nodes.length) out.push(h("ul", { "data-testid": "detail-drift-nodes" }, ...d.nodes.map((n) => h("li", {}, n))));
  return out;
}

/// A stored URL is untrusted: only an absolute http(s) URL becomes a link
/// (opened without giving the tenant's page a handle on this one).
export function webUrl(text) {
  let url;
  try { url = new URL(text); } catch { return null; }
  return ["http:", "https:"].includes(url.protocol) && url.host ? url : null;
}

function urlLinks(urls, testid) {
  const links = (urls || []).map((u) => ({ name: u.name, url: webUrl(u.url) })).filter((u) => u.url);
  if (links.length === 0) return h("span", { class: "muted", "data-testid": testid }, "—");
  return h("ul", { class: "links", "data-testid": testid }, links.map((u) =>
    h("li", {}, h("a", {
      href: u.url.href, rel: "noopener noreferrer", target: "_blank",
      title: u.name, "data-testid": `url-${u.name}`,
    }, u.url.host + (u.url.pathname === "/" ? "" : u.url.pathname)))));
}

export function fmtMoney(amount, currency) {
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

function costCell(cost, testid) {
  if (!cost) return h("span", { class: "muted", "data-testid": testid }, "—");
  const month = `${fmtMoney(cost.monthly, cost.currency)}/month`;
  return h("span", { "data-testid": testid, title: `prices as of ${cost.prices_as_of}` }, month,
    h("div", { class: "muted small" }, `${fmtMoney(cost.accrued, cost.currency)} so far`));
}

const BUDGET_TEXT = { on_track: "on track", at_risk: "at risk", over: "over budget" };
const BUDGET_SYMBOL = { on_track: "✓", at_risk: "!", over: "✗" };
const VERDICT_TEXT = {
  within_budget: "finished within budget", over_budget: "finished over budget",
  failed: "failed", cancelled: "cancelled",
};
const VERDICT_CLASS = { within_budget: "on_track", over_budget: "over", failed: "over", cancelled: "at_risk" };

const isFinished = (run) => run && !["queued", "running"].includes(run.status);

// ---- who may do what -------------------------------------------------------

function mayChange(tenant) {
  if (!state.me) return false;
  if (state.me.role === "operator") return true;
  return state.me.role === "requester" && tenant.owner === state.me.name;
}

const mayRequest = () => state.me && ["operator", "requester"].includes(state.me.role);

/// The action buttons of a tenant (for the table and the detail view).
function tenantActions(tenant, where) {
  if (!mayChange(tenant) || ["destroyed", "destroying"].includes(tenant.status)) return [];
  const busy = Boolean(tenant.active_run && !isFinished(tenant.active_run));
  const buttons = [];
  if (tenant.expires_at) {
    buttons.push(h("button", {
      type: "button", class: "secondary",
      "data-testid": `${where}-extend-${tenant.name}`,
      "aria-label": `Extend ${tenant.name}`,
      onclick: () => openExtend(tenant),
    }, "Extend"));
  }
  if (tenant.status === "hibernated") {
    buttons.push(h("button", {
      type: "button",
      "data-testid": `${where}-wake-${tenant.name}`,
      "aria-label": `Wake ${tenant.name}`,
      disabled: busy, title: busy ? "A run is in progress" : null,
      onclick: () => wakeTenant(tenant),
    }, "Wake"));
  }
  const why = tenant.protected ? "Protected: an operator must unprotect it first"
    : busy ? "A run is in progress" : null;
  buttons.push(h("button", {
    type: "button", class: "danger",
    "data-testid": `${where}-destroy-${tenant.name}`,
    "aria-label": `Destroy ${tenant.name}`,
    disabled: Boolean(why), title: why,
    onclick: () => openDestroy(tenant),
  }, "Destroy"));
  if (where === "detail" && state.me.role === "operator") {
    buttons.push(h("button", {
      type: "button", class: "secondary",
      "data-testid": `detail-protect-${tenant.name}`,
      onclick: () => toggleProtect(tenant),
    }, tenant.protected ? "Unprotect" : "Protect"));
  }
  return buttons;
}

function expiryCell(tenant, testid) {
  if (tenant.status === "destroyed") return h("span", { "data-testid": testid }, "—");
  if (!tenant.expires_at) return h("span", { "data-testid": testid }, "never");
  const expired = Date.parse(tenant.expires_at) <= Date.now();
  return h("time", { datetime: tenant.expires_at, "data-testid": testid, class: expired ? "expired" : null },
    fmtAbsolute(tenant.expires_at), " ",
    h("span", { class: "muted" }, `(${expired ? "expired " : ""}${fmtRelative(tenant.expires_at)})`));
}

// ---- session -----------------------------------------------------------------

function showLogin(message) {
  const sessionEnded = state.me !== null;
  state.me = null;
  stopRunWatch();
  show($("session"), false);
  show($("list-view"), false);
  show($("tenant-view"), false);
  show($("login-view"), true);
  $("login-error").textContent = sessionEnded && message ? "Your session has ended; log in again." : "";
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("login-token").focus();
}

async function loggedIn(me) {
  state.me = me;
  notice("");
  $("whoami-name").textContent = me.name;
  $("whoami-role").textContent = me.role;
  show($("session"), true);
  show($("login-view"), false);
  show($("request-section"), mayRequest());
  show($("viewer-note"), !mayRequest());
  try {
    state.stacks = await api("GET", "/api/stacks");
    fillStacks();
  } catch (err) {
    if (err.status !== 401) $("request-error").textContent = err.message;
  }
  await route();
}

async function onLogin(event) {
  event.preventDefault();
  const input = $("login-token");
  const token = input.value.trim();
  $("login-error").textContent = "";
  try {
    const me = await api("POST", "/api/login", { token });
    input.value = "";
    await loggedIn(me);
  } catch (err) {
    $("login-error").textContent = err.status === 401
      ? `That token was not accepted: ${err.message}`
      : err.message;
  }
}

async function onLogout() {
  try {
    await api("POST", "/api/logout");
  } catch {
    // logged out either way
  }
  showLogin("");
  notice("You are logged out.");
}

// ---- request form --------------------------------------------------------------

function fillStacks() {
  const select = $("request-stack");
  const chosen = select.value;
  select.replaceChildren();
  for (const stack of state.stacks.stacks) {
    select.append(h("option", { value: stack.name }, `${stack.name} (${stack.environment})`));
  }
  select.value = chosen || state.stacks.default || (state.stacks.stacks[0] || {}).name || "";
  $("request-ttl-hint").textContent =
    `How long before it is removed, such as 12h or 7d; at most ${state.stacks.max_ttl}.`;
  stackChanged();
}

function stackChanged() {
  if (!state.stacks) return;
  const stack = state.stacks.stacks.find((s) => s.name === $("request-stack").value);
  const lives = (stack && stack.ttl) || `${state.stacks.max_ttl} (the longest allowed)`;
  $("request-stack-hint").textContent = stack
    ? `Lives ${lives} unless you say otherwise; should be ready within ${stack.budget}.`
    : "What the tenant is made of.";
  if (!state.ttlEdited) $("request-ttl").value = (stack && stack.ttl) || "";
}

async function onRequest(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("request-error");
  error.textContent = "";
  const body = { name: $("request-name").value.trim(), stack: $("request-stack").value };
  const ttl = $("request-ttl").value.trim();
  const note = $("request-note").value.trim();
  if (ttl) body.ttl = ttl;
  if (note) body.note = note;
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { tenant, run } = await api("POST", "/api/tenants", body);
    form.reset();
    state.ttlEdited = false;
    fillStacks();
    notice(`Tenant ${tenant.name} requested; it is being created.`);
    location.hash = `#/tenants/${encodeURIComponent(tenant.name)}/runs/${encodeURIComponent(run.id)}`;
  } catch (err) {
    if (err.status !== 401) error.textContent = err.message;
  } finally {
    submit.disabled = false;
  }
}

// ---- tenants table -------------------------------------------------------------

async function refreshTenants() {
  const [{ tenants }, costs, { rollouts }, { pools }] = await Promise.all([
    api("GET", "/api/tenants"), api("GET", "/api/costs"), api("GET", "/api/rollouts"),
    api("GET", "/api/pools")]);
  state.tenants = tenants;
  state.rollouts = rollouts;
  renderTenants();
  renderOwners(costs);
  renderRollouts();
  renderPools(pools);
}

// ---- warm pools ---------------------------------------------------------------------

/// One row per pool: `2 of 2` available, members being made, claimed, hits,
/// misses and the idle members' cost; the section shows only when a stack
/// on offer has a pool.
function renderPools(pools) {
  const rows = pools.map((p) =>
    h("tr", { "data-testid": `pool-row-${p.pool}` },
      h("th", { scope: "row" }, p.pool),
      h("td", { "data-testid": "pool-available" }, `${p.available} of ${p.size}`),
      h("td", {}, String(p.creating)),
      h("td", {}, String(p.claimed)),
      h("td", { "data-testid": "pool-hits" }, String(p.hits)),
      h("td", { "data-testid": "pool-misses" }, String(p.misses)),
      h("td", {}, fmtMoney(p.idle_cost_per_day, p.currency))));
  $("pools-body").replaceChildren(...rows);
  show($("pools-section"), rows.length > 0);
}

// ---- rollouts ---------------------------------------------------------------------

const rolloutPath = (id) => `/api/rollouts/${encodeURIComponent(id)}`;
const FINAL_TENANT = ["succeeded", "unchanged", "skipped", "failed", "rolled_back", "rollback_failed"];

/// `7 of 10 done: 5 succeeded, 1 rolled back, 1 unchanged`.
function rolloutCounts(r) {
  const total = r.tenants.length;
  const done = r.tenants.filter((t) => FINAL_TENANT.includes(t.status)).length;
  const parts = Object.entries(r.counts)
    .filter(([status]) => status !== "pending")
    .map(([status, n]) => `${n} ${status.replace("_", " ")}`);
  return `${done} of ${total} done${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

function renderRollouts() {
  const rows = state.rollouts.map((r) =>
    h("tr", { "data-testid": `rollout-row-${r.id}` },
      h("th", { scope: "row" }, h("a", { href: `#/rollouts/${encodeURIComponent(r.id)}` }, r.id)),
      h("td", {}, statusBadge(r.status, "rollout-row-status")),
      h("td", {}, r.stack.split("/").pop()),
      h("td", { "data-testid": "rollout-row-counts" }, rolloutCounts(r)),
      h("td", {}, r.created_by || "—"),
      h("td", {}, new Date(r.created_at).toLocaleString())));
  keepingFocus(() => $("rollouts-body").replaceChildren(...rows));
  show($("rollouts-empty"), rows.length === 0);
}

function rolloutActions(r) {
  if (!state.me || state.me.role !== "operator") return [];
  const act = (label, action, testid) => h("button", {
    type: "button", "data-testid": testid,
    onclick: async () => {
      try {
        renderRollout(await api("POST", `${rolloutPath(r.id)}/${action}`));
        watchRollout(r.id);
      } catch (err) { reportError(err); }
    },
  }, label);
  const out = [];
  if (r.status === "running" && r.driven_here) out.push(act("Pause", "pause", "rollout-pause"));
  if (r.status === "paused" || (r.status === "running" && !r.driven_here)) {
    out.push(act("Resume", "resume", "rollout-resume"));
  }
  if (r.status === "running" || r.status === "paused") out.push(act("Abort", "abort", "rollout-abort"));
  return out;
}

function renderRollout(r) {
  state.rollout = r;
  document.title = `envctl — rollout ${r.id}`;
  $("rollout-id").textContent = r.id;
  $("rollout-status").replaceChildren(statusBadge(r.status, "rollout-status-badge"));
  $("rollout-stack").textContent = r.stack;
  $("rollout-counts").textContent = rolloutCounts(r);
  $("rollout-plan").textContent = `canary ${r.canary}, then batches of ${r.batch}; `
    + `stops after ${r.max_failures} failure(s); soak ${r.soak_seconds}s`;
  $("rollout-by").textContent = `${r.created_by || "—"} at ${new Date(r.created_at).toLocaleString()}`;
  $("rollout-message").textContent = r.message || "—";
  $("rollout-actions").replaceChildren(...rolloutActions(r));
  const waves = new Map();
  for (const t of r.tenants) {
    if (!waves.has(t.wave)) waves.set(t.wave, []);
    waves.get(t.wave).push(t);
  }
  const tables = [...waves.entries()].map(([wave, tenants]) =>
    h("div", { class: "table-wrap", "data-testid": `rollout-wave-${wave}` },
      h("h3", {}, wave === 0 && r.canary > 0 ? "Canary" : `Wave ${wave}`),
      h("table", {},
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Tenant"), h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col" }, "Revision"), h("th", { scope: "col" }, "Why"))),
        h("tbody", {}, ...tenants.map((t) =>
          h("tr", { "data-testid": `rollout-tenant-${t.tenant}` },
            h("th", { scope: "row" }, h("a", { href: `#/tenants/${encodeURIComponent(t.tenant)}` }, t.tenant)),
            h("td", {}, statusBadge(t.status, "rollout-tenant-status")),
            h("td", {}, t.from_revision == null ? "—"
              : `${t.from_revision} → ${t.to_revision == null ? "…" : t.to_revision}`),
            h("td", { class: "small" }, t.message || "")))))));
  keepingFocus(() => $("rollout-waves").replaceChildren(...tables));
}

function stopRolloutWatch() {
  if (state.rolloutEvents) state.rolloutEvents.close();
  state.rolloutEvents = null;
}

/// Follows the rollout live; when the stream ends, the regular refresh
/// takes over.
function watchRollout(id) {
  stopRolloutWatch();
  const source = new EventSource(`${rolloutPath(id)}/events`);
  state.rolloutEvents = source;
  const take = (event) => {
    if (state.route.rollout === id) renderRollout(JSON.parse(event.data));
  };
  source.addEventListener("snapshot", take);
  source.addEventListener("end", (event) => { take(event); stopRolloutWatch(); });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) stopRolloutWatch();
  };
}

async function refreshRollout() {
  const id = state.route.rollout;
  if (state.rolloutEvents) return; // the stream keeps it current
  const r = await api("GET", rolloutPath(id));
  if (state.route.rollout !== id) return;
  renderRollout(r);
  if (r.driven_here || (r.status === "running" && !state.rolloutEvents)) watchRollout(id);
}

function renderOwners(costs) {
  const rows = (costs.owners || []).map((o) =>
    h("tr", { "data-testid": `owner-row-${o.owner}` },
      h("th", { scope: "row" }, o.owner),
      h("td", {}, String(o.tenants)),
      h("td", { "data-testid": "owner-monthly" }, fmtMoney(o.monthly, o.currency)),
      h("td", { "data-testid": "owner-accrued" }, fmtMoney(o.accrued, o.currency))));
  $("owners-body").replaceChildren(...rows);
  $("owners-note").textContent = `Estimated from list prices as of ${costs.prices_as_of}; `
    + "a month is 730 hours at the current rate.";
}

function renderTenants() {
  const hide = $("hide-destroyed").checked;
  const rank = (t) => (t.status === "destroyed" ? 1 : 0);
  const rows = state.tenants
    .filter((t) => !(hide && t.status === "destroyed"))
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
    .map((t) => {
      const run = t.active_run && !isFinished(t.active_run) ? t.active_run : null;
      const href = `#/tenants/${encodeURIComponent(t.name)}`;
      return h("tr", { "data-testid": `tenant-row-${t.name}`, class: t.status === "destroyed" ? "gone" : null },
        h("th", { scope: "row" }, h("a", { href, "data-testid": `tenant-link-${t.name}` }, t.name),
          t.note ? h("div", { class: "muted small" }, t.note) : null),
        h("td", {}, statusBadge(t.status, "tenant-status"),
          run ? h("div", { class: "small" },
            h("a", { href: `${href}/runs/${encodeURIComponent(run.id)}` },
              `${run.operation}: ${run.progress ? `${run.progress.done} of ${run.progress.total} done` : run.status}`)) : null),
        h("td", { "data-testid": "tenant-owner" }, t.owner || "—"),
        h("td", {}, urlLinks(t.urls, "tenant-links")),
        h("td", {}, costCell(t.cost, "tenant-cost")),
        h("td", {}, expiryCell(t, "tenant-expires")),
        h("td", { "data-testid": "tenant-protected" }, t.protected ? "yes" : "no"),
        h("td", {}, h("div", { class: "actions" }, tenantActions(t, "row"))));
    });
  keepingFocus(() => $("tenants-body").replaceChildren(...rows));
  show($("tenants-empty"), rows.length === 0);
  $("tenants-updated").textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every few seconds.`;
}

// ---- detail and run view ---------------------------------------------------------

async function refreshDetail() {
  const name = state.route.tenant;
  const detail = await api("GET", tenantPath(name));
  if (state.route.tenant !== name) return;
  state.detail = detail;
  renderDetail();
  // Which run to watch: the one in the address, else the active or latest one.
  const runs = sortedRuns(detail.runs || []);
  const wanted = state.route.run
    || (detail.active_run && detail.active_run.id)
    || (runs[0] && runs[0].id);
  if (!wanted) {
    show($("run-none"), true);
    show($("run-body"), false);
  } else if (!state.run || state.run.id !== wanted) {
    const run = runs.find((r) => r.id === wanted)
      || (detail.active_run && detail.active_run.id === wanted ? detail.active_run : null)
      || await api("GET", runPath(wanted));
    watchRun(run);
  } else if (!state.events) {
    // Not streaming (finished, or the stream broke): take what the server says.
    const fresh = runs.find((r) => r.id === wanted);
    if (fresh) renderRun(fresh);
  }
}

function sortedRuns(runs) {
  return [...runs].sort((a, b) => (b.started_at || "").localeCompare(a.started_at || ""));
}

function renderDetail() {
  const t = state.detail;
  $("detail-name").textContent = t.name;
  document.title = `envctl — ${t.name}`;
  $("detail-status").replaceChildren(statusBadge(t.status, "detail-status-badge"));
  $("detail-status").dataset.status = t.status;
  $("detail-owner").textContent = t.owner || "—";
  $("detail-links").replaceChildren(urlLinks(t.urls, "detail-links-list"));
  const c = t.cost;
  $("detail-cost").textContent = c
    ? `${fmtMoney(c.hourly, c.currency)}/hour now (${fmtMoney(c.monthly, c.currency)}/month); `
      + `${fmtMoney(c.running_monthly, c.currency)}/month running, `
      + `${fmtMoney(c.hibernated_monthly, c.currency)}/month hibernated; `
      + `${fmtMoney(c.accrued, c.currency)} accrued since creation (prices as of ${c.prices_as_of})`
    : "—";
  $("detail-stack").textContent = t.stack || "—";
  $("detail-environment").textContent = t.environment || "—";
  const expires = $("detail-expires");
  if (t.status === "destroyed") {
    expires.removeAttribute("datetime");
    expires.textContent = "— (destroyed)";
  } else if (t.expires_at) {
    expires.setAttribute("datetime", t.expires_at);
    const expired = Date.parse(t.expires_at) <= Date.now();
    expires.textContent = `${fmtAbsolute(t.expires_at)} (${expired ? "expired " : ""}${fmtRelative(t.expires_at)})`;
  } else {
    expires.removeAttribute("datetime");
    expires.textContent = "never";
  }
  $("detail-protected").textContent = t.protected ? "yes: it cannot be destroyed" : "no";
  $("detail-note").textContent = t.note || "—";
  $("detail-drift").replaceChildren(...driftFacts(t.drift));
  keepingFocus(() => $("detail-actions").replaceChildren(...tenantActions(t, "detail")));

  const current = state.run && state.run.id;
  keepingFocus(() => $("runs-body").replaceChildren(...sortedRuns(t.runs || []).map((r) =>
    h("tr", { class: r.id === current ? "current" : null },
      h("td", {}, h("a", {
        href: `#/tenants/${encodeURIComponent(t.name)}/runs/${encodeURIComponent(r.id)}`,
        "aria-current": r.id === current ? "true" : null,
        "data-testid": `run-link-${r.id}`,
      }, r.id.slice(0, 8))),
      h("td", {}, r.operation),
      h("td", {}, statusBadge(r.status, "runs-status")),
      h("td", {}, fmtAbsolute(r.started_at)),
      h("td", {}, r.finished_at ? fmtAbsolute(r.finished_at) : "—")))));
}

function watchRun(run) {
  stopRunWatch();
  state.run = run;
  $("run-log").replaceChildren();
  show($("run-none"), false);
  show($("run-body"), true);
  renderRun(run);
  refreshTimeline();
  // Also for a finished run: its stream replays the last snapshot, the log and `end`.
  openEvents(run.id);
  if (isFinished(run)) return;
  state.timelineTimer = setInterval(() => {
    if (document.visibilityState === "visible") refreshTimeline();
  }, TIMELINE_REFRESH_MS);
}

function openEvents(id) {
  const source = new EventSource(`${runPath(id)}/events`);
  state.events = source;
  source.addEventListener("snapshot", (e) => {
    if (!state.run || state.run.id !== id) return;
    state.run = { ...state.run, status: state.run.status === "queued" ? "running" : state.run.status, progress: JSON.parse(e.data) };
    renderRun(state.run);
  });
  source.addEventListener("log", (e) => {
    if (state.run && state.run.id === id) appendLog(JSON.parse(e.data).line);
  });
  source.addEventListener("end", (e) => {
    source.close();
    if (state.events === source) state.events = null;
    if (!state.run || state.run.id !== id) return;
    const wasRunning = !isFinished(state.run);
    state.run = JSON.parse(e.data);
    clearInterval(state.timelineTimer);
    state.timelineTimer = null;
    renderRun(state.run);
    refreshTimeline();
    if (wasRunning) {
      notice(`${state.run.operation} of ${state.run.tenant} ${state.run.status}.`);
      refreshDetail().catch(reportError);
    }
  });
  source.addEventListener("error", () => {
    // EventSource retries by itself while CONNECTING; CLOSED means the server
    // refused the stream (401, 404). A finished run has nothing more to say.
    // Either way fall back to plain refreshes.
    if (state.events !== source) return;
    if (source.readyState === EventSource.CLOSED || isFinished(state.run)) {
      source.close();
      state.events = null;
      api("GET", runPath(id)).then((run) => {
        if (state.run && state.run.id === id) {
          state.run = run;
          renderRun(run);
        }
      }).catch(reportError);
    }
  });
}

function stopRunWatch() {
  if (state.events) state.events.close();
  state.events = null;
  clearInterval(state.timelineTimer);
  state.timelineTimer = null;
  state.run = null;
}

function renderRun(run) {
  const p = run.progress || {};
  $("run-title").textContent = `Progress of the ${run.operation} run`;
  $("run-operation").textContent = run.operation === "destroy" ? "Destroy" : "Create";
  $("run-operation").dataset.operation = run.operation;
  $("run-status").replaceChildren(statusBadge(run.status, "run-status-badge"));
  $("run-status").dataset.status = run.status;
  $("run-times").textContent = `started ${fmtAbsolute(run.started_at)}`
    + (run.finished_at ? `, finished ${fmtAbsolute(run.finished_at)}` : "");

  const bar = $("run-progress");
  const total = p.total || 0;
  if (total > 0) {
    bar.max = total;
    bar.value = p.done || 0;
  } else {
    bar.removeAttribute("value"); // indeterminate until the plan is known
  }
  const parts = [`${p.done ?? 0} of ${total} done`, `${p.running ?? 0} running`];
  if (p.failed) parts.push(`${p.failed} failed`);
  $("run-counts").textContent = parts.join(" · ");
  $("run-counts").dataset.done = p.done ?? 0;
  $("run-counts").dataset.total = total;

  $("run-elapsed").textContent = fmtMs(p.elapsed_ms);
  $("run-eta").textContent = isFinished(run) ? "none: finished"
    : p.eta_ms === null || p.eta_ms === undefined ? "not known yet"
      : `about ${fmtMs(p.eta_ms)} (done after about ${fmtMs((p.elapsed_ms || 0) + p.eta_ms)})`;
  $("run-budget").textContent = fmtMs(p.budget_ms);

  const verdict = p.verdict;
  const key = verdict ? VERDICT_CLASS[verdict] : p.budget_status;
  const text = verdict ? VERDICT_TEXT[verdict] : BUDGET_TEXT[p.budget_status];
  const symbol = verdict ? BUDGET_SYMBOL[VERDICT_CLASS[verdict]] : BUDGET_SYMBOL[p.budget_status];
  $("run-budget-status").replaceChildren(text
    ? h("span", { class: `badge budget-${key}` }, h("span", { "aria-hidden": "true" }, symbol || "•"), " ", text)
    : "—");
  $("run-budget-status").dataset.status = verdict || p.budget_status || "";
}

function appendLog(line) {
  const log = $("run-log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(h("li", {}, line));
  while (log.childElementCount > LOG_LINES_KEPT) log.firstElementChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

/// Reloads the timeline picture without blanking it while the new one loads.
function refreshTimeline() {
  const run = state.run;
  if (!run) return;
  const url = `${runPath(run.id)}/timeline.svg?v=${Date.now()}`;
  const img = $("run-timeline");
  $("run-timeline-link").href = `${runPath(run.id)}/timeline.svg`;
  img.alt = `Timeline of the ${run.operation} run of ${run.tenant}: one bar per resource.`;
  const next = new Image();
  next.onload = () => {
    if (state.run && state.run.id === run.id) {
      img.src = url;
      img.dataset.loadedFor = `${run.id}:${run.status}`;
    }
  };
  next.src = url;
}

// ---- extend, destroy, protect ------------------------------------------------------

let dialogTenant = null;

function openDialog(dialog, tenant) {
  dialogTenant = tenant;
  for (const el of dialog.querySelectorAll(".dialog-tenant")) el.textContent = tenant.name;
  dialog.querySelector(".error").textContent = "";
  dialog.showModal();
}

function openExtend(tenant) {
  const dialog = $("extend-dialog");
  $("extend-current").textContent = tenant.expires_at
    ? `It now expires ${fmtAbsolute(tenant.expires_at)} (${fmtRelative(tenant.expires_at)}).`
    : "It never expires.";
  $("extend-by").value = "1d";
  const max = state.stacks && state.stacks.max_ttl;
  $("extend-hint").textContent = `A duration such as 12h, 1d or 7d${max ? `; at most ${max} from now in all` : ""}.`;
  openDialog(dialog, tenant);
  $("extend-by").select();
}

async function onExtend(event) {
  event.preventDefault();
  const tenant = dialogTenant;
  const by = $("extend-by").value.trim();
  try {
    const updated = await api("POST", `${tenantPath(tenant.name)}/extend`, { by });
    $("extend-dialog").close();
    notice(`${updated.name} now expires ${fmtAbsolute(updated.expires_at)} (${fmtRelative(updated.expires_at)}).`);
    await refreshCurrent();
  } catch (err) {
    if (err.status !== 401) $("extend-error").textContent = err.message;
  }
}

function openDestroy(tenant) {
  openDialog($("destroy-dialog"), tenant);
  $("destroy-dialog").querySelector("button.cancel").focus();
}

async function onDestroy(event) {
  event.preventDefault();
  const tenant = dialogTenant;
  try {
    const { run } = await api("DELETE", tenantPath(tenant.name));
    $("destroy-dialog").close();
    notice(`Destroying ${tenant.name}.`);
    location.hash = `#/tenants/${encodeURIComponent(tenant.name)}/runs/${encodeURIComponent(run.id)}`;
  } catch (err) {
    if (err.status !== 401) $("destroy-error").textContent = err.message;
  }
}

async function toggleProtect(tenant) {
  try {
    await api("POST", `${tenantPath(tenant.name)}/protect`, { protected: !tenant.protected });
    await refreshCurrent();
  } catch (err) {
    if (err.status !== 401) notice(err.message);
  }
}

/// Asks the server to wake a hibernated tenant (a run; the list shows it `waking`).
async function wakeTenant(tenant) {
  try {
    await api("POST", `${tenantPath(tenant.name)}/wake`);
    await refreshCurrent();
  } catch (err) {
    if (err.status !== 401) notice(err.message);
  }
}

// ---- routing and refreshing ----------------------------------------------------------

/// `#/` is the list; `#/tenants/NAME` and `#/tenants/NAME/runs/ID` the detail view.
function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "rollouts" && parts[1]) return { view: "rollout", rollout: parts[1] };
  if (parts[0] === "tenants" && parts[1]) {
    return { view: "tenant", tenant: parts[1], run: parts[2] === "runs" ? parts[3] : null };
  }
  return { view: "list" };
}

async function route() {
  if (!state.me) return;
  const next = parseRoute();
  const sameTenant = next.view === "tenant" && state.route.tenant === next.tenant;
  const sameRollout = next.view === "rollout" && state.route.rollout === next.rollout;
  state.route = next;
  show($("list-view"), next.view === "list");
  show($("tenant-view"), next.view === "tenant");
  show($("rollout-view"), next.view === "rollout");
  if (!sameRollout) stopRolloutWatch();
  if (next.view === "list" || next.view === "rollout") {
    stopRunWatch();
    state.detail = null;
    document.title = "envctl — tenants";
  } else if (!sameTenant) {
    stopRunWatch();
    state.detail = null;
  }
  try {
    await refreshCurrent();
  } catch (err) {
    reportError(err);
  }
}

async function refreshCurrent() {
  if (!state.me) return;
  if (state.route.view === "list") await refreshTenants();
  else if (state.route.view === "rollout") await refreshRollout();
  else await refreshDetail();
}

function reportError(err) {
  if (err && err.status === 401) return; // the login form is already shown
  if (err && err.status === 404 && state.route.view === "rollout") {
    notice(`There is no rollout ${state.route.rollout}.`);
    return;
  }
  if (err && err.status === 404 && state.route.view === "tenant") {
    notice(`There is no tenant ${state.route.tenant}.`);
    return;
  }
  console.error(err);
  notice(err && err.message ? err.message : String(err));
}

async function tick() {
  if (!state.me || document.visibilityState !== "visible" || state.refreshing) return;
  if (document.querySelector("dialog[open]")) return; // don't move things under an open dialog
  state.refreshing = true;
  try {
    await refreshCurrent();
  } catch (err) {
    reportError(err);
  } finally {
    state.refreshing = false;
  }
}

// ---- start -------------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("request-form").addEventListener("submit", onRequest);
  $("request-stack").addEventListener("change", stackChanged);
  $("request-ttl").addEventListener("input", () => { state.ttlEdited = true; });
  $("hide-destroyed").addEventListener("change", renderTenants);
  $("extend-form").addEventListener("submit", onExtend);
  $("destroy-form").addEventListener("submit", onDestroy);
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.querySelector("button.cancel").addEventListener("click", () => dialog.close());
  }
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", tick);
  setInterval(tick, REFRESH_MS);
}

async function start() {
  wire();
  try {
    await loggedIn(await api("GET", "/api/whoami"));
  } catch (err) {
    if (err.status !== 401) showLogin(err.message);
  }
}

if (typeof document !== "undefined") start();
