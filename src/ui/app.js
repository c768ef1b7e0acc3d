// jobwheel's dashboard: a client of the public API with the user's own
// token (kept in this tab's sessionStorage only). No build step, no
// dependencies; every value from the API is put in the page as text.
"use strict";

const store = sessionStorage;
const main = document.getElementById("main");
let timer = null; // the polling of the page shown
let carried = ""; // an error to show on the page the next route() draws

// ---- DOM ------------------------------------------------------------------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike the attribute
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const show = (...kids) => { main.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false && k !== "")); };
function flash(text) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.add("show");
  setTimeout(() => s.classList.remove("show"), 2500);
}
function showError(text) {
  const e = document.getElementById("error");
  e.textContent = text || "";
  e.hidden = !text;
}
const time = (t) => (t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "—");
const badge = (s) => h("span", { class: `badge s-${s}` }, s);
function duration(run) {
  if (!run.started_at || !run.finished_at) return "—";
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
  return ms < 10000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
function schedule(job) {
  if (job.cron) return job.cron;
  if (job.interval_seconds) return `every ${job.interval_seconds}s`;
  if (job.run_at) return `once at ${time(job.run_at)}`;
  return "on trigger";
}
function progressOf(run) {
  const p = run.progress;
  if (!p || !p.total) return p && p.message ? p.message : "";
  const pct = Math.round((100 * (p.processed || 0)) / p.total);
  return h("span", {}, h("progress", { max: p.total, value: p.processed || 0, "aria-label": `progress ${pct}%` }),
           ` ${pct}%`, p.message ? ` ${p.message}` : "");
}
function table(heads, rows) {
  return h("div", { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, heads.map(([t, cls]) => h("th", { scope: "col", class: cls }, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: heads.length, class: "muted" }, "Nothing here yet.")))));
}

// ---- the API --------------------------------------------------------------
class ApiError extends Error {}
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = store.getItem("jw.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const tenant = store.getItem("jw.tenant");
  if (tenant) headers["x-tenantid"] = tenant;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(`jobwheel cannot be reached (${e.message})`);
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!r.ok) {
    // the API's own words: detail, then every field it names
    let msg = `${r.status} ${data && data.title ? data.title : r.statusText}`;
    if (data && data.detail) msg += `: ${data.detail}`;
    if (data && data.errors) for (const [f, list] of Object.entries(data.errors)) msg += `\n  ${f}: ${list.join("; ")}`;
    const err = new ApiError(msg);
    err.status = r.status;
    throw err;
  }
  return data;
}
async function act(fn, done) {
  showError("");
  try {
    const out = await fn();
    if (done) flash(done);
    return out;
  } catch (e) {
    showError(e.message);
    if (e.status === 401 && store.getItem("jw.token")) { // the token is bad or expired: back to log in, saying why
      carried = e.message;
      const there = location.hash === "#/login"; // else the hash change draws the page
      logout();
      if (there) route();
    }
    return undefined;
  }
}

// ---- log in ---------------------------------------------------------------
function login() {
  document.getElementById("nav").hidden = true;
  const token = h("input", { id: "token", type: "password", autocomplete: "off", required: true, size: 50 });
  const tenant = h("input", { id: "tenant", autocomplete: "off", size: 40, placeholder: "only when the token names several" });
  const form = h("form", { onsubmit: async (e) => {
      e.preventDefault();
      store.setItem("jw.token", token.value.trim());
      if (tenant.value.trim()) store.setItem("jw.tenant", tenant.value.trim()); else store.removeItem("jw.tenant");
      const ok = await act(() => api("GET", "/v1/jobs?limit=1"));
      if (ok !== undefined) { location.hash = "#/jobs"; route(); }
    } },
    h("label", { for: "token" }, "Token (a JWT or an API key)"), token,
    h("label", { for: "tenant" }, "Tenant id (optional)"), tenant,
    h("p", {}, h("button", { class: "primary", type: "submit" }, "Log in")),
    h("p", { class: "muted" }, "The token stays in this tab only (session storage) and is sent to this server alone."));
  show(h("h1", {}, "Log in"), form);
  token.focus();
}
function logout() {
  store.removeItem("jw.token");
  store.removeItem("jw.tenant");
  location.hash = "#/login";
}

// ---- jobs -----------------------------------------------------------------
const JOB_TEMPLATE = { name: "my-job", endpoint_url: "https://example.com/hooks/job", cron: "*/15 * * * *",
                       timezone: "UTC", max_attempts: 3 };
const EDITABLE = ["name", "description", "endpoint_url", "fallback_endpoint_url", "cron", "interval_seconds", "run_at",
                  "timezone", "max_attempts", "timeout_secs", "retry_strategy", "retry_delays_secs", "max_concurrency",
                  "tags", "webhook_url", "enabled", "misfire_policy", "exclusions", "job_type", "job_configuration"];

const jobsView = { q: "", state: "all", tag: "", type: "" }; // the list's filters, kept while the tab lives
const JOB_TYPES = ["HttpCall", "StoredProcedure", "FileOperation", "Builtin", "CodeExecution"];

async function jobsPage() {
  const q = h("input", { id: "q", type: "search", placeholder: "name contains…" });
  const state = h("select", { id: "state" }, ["all", "enabled", "disabled", "paused"].map((s) => h("option", { value: s }, s)));
  const tag = h("input", { id: "tag", placeholder: "key or key:value" });
  const type = h("select", { id: "type" }, h("option", { value: "" }, "any"), JOB_TYPES.map((t) => h("option", { value: t }, t)));
  type.value = jobsView.type;
  q.value = jobsView.q;
  state.value = jobsView.state;
  tag.value = jobsView.tag;
  const body = h("div");
  let jobs = [];
  const render = () => {
    Object.assign(jobsView, { q: q.value, state: state.value, tag: tag.value, type: type.value });
    const text = q.value.trim().toLowerCase();
    const rows = jobs.filter((j) => (!text || j.name.toLowerCase().includes(text)) &&
      (!type.value || j.job_type === type.value) &&
      (state.value === "all" || (state.value === "enabled" && j.enabled && !j.paused) ||
       (state.value === "disabled" && !j.enabled) || (state.value === "paused" && j.paused)))
      .map((j) => h("tr", {},
        h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.name)),
        h("td", { class: "mono nowrap" }, schedule(j)),
        h("td", { class: "hide-small" }, time(j.next_run_at)),
        h("td", {}, !j.enabled ? badge("disabled") : j.paused ? badge("paused") : badge("enabled")),
        h("td", { class: "actions" },
          h("button", { type: "button", onclick: () => trigger(j, null) }, "Trigger"),
          j.paused ? h("button", { type: "button", onclick: () => jobAction(j, "resume") }, "Resume")
                   : h("button", { type: "button", onclick: () => jobAction(j, "pause") }, "Pause"),
          h("button", { type: "button", onclick: () => setEnabled(j, !j.enabled) }, j.enabled ? "Disable" : "Enable"),
          h("button", { type: "button", class: "danger", onclick: () => removeJob(j) }, "Delete"))));
    body.replaceChildren(table([["Name"], ["Schedule"], ["Next run", "hide-small"], ["State"], ["Actions"]], rows));
  };
  const load = async () => {
    const path = "/v1/jobs?limit=200" + (tag.value.trim() ? `&tag=${encodeURIComponent(tag.value.trim())}` : "");
    const out = await act(() => api("GET", path));
    if (out) { jobs = out; render(); }
  };
  q.addEventListener("input", render);
  state.addEventListener("change", render);
  type.addEventListener("change", render);
  tag.addEventListener("change", load);
  show(h("h1", {}, "Jobs"),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "q" }, "Search"), q),
      h("div", {}, h("label", { for: "state" }, "State"), state),
      h("div", {}, h("label", { for: "type" }, "Type"), type),
      h("div", {}, h("label", { for: "tag" }, "Tag"), tag),
      h("button", { type: "button", class: "primary", onclick: () => { location.hash = "#/new"; } }, "New job")),
    body);
  await load();
}

async function jobAction(job, verb) {
  if (await act(() => api("POST", `/v1/jobs/${job.id}/${verb}`), `${job.name}: ${verb}d`)) route();
}
async function setEnabled(job, enabled) {
  if (await act(() => api("PATCH", `/v1/jobs/${job.id}`, { enabled }), `${job.name} ${enabled ? "enabled" : "disabled"}`)) route();
}
async function removeJob(job) {
  if (!confirm(`Delete ${job.name}?`)) return;
  if ((await act(() => api("DELETE", `/v1/jobs/${job.id}`), `${job.name} deleted`)) !== undefined) {
    location.hash = "#/jobs";
    route();
  }
}
async function trigger(job, payloadText) {
  let body = {};
  if (payloadText && payloadText.trim()) {
    try { body = { payload: JSON.parse(payloadText) }; } catch (e) { showError(`The payload is not JSON: ${e.message}`); return; }
  }
  const run = await act(() => api("POST", `/v1/jobs/${job.id}/trigger`, body), `${job.name} triggered`);
  if (run) location.hash = `#/runs/${run.id}`;
}

function jsonEditor(id, label, value, submitText, onsubmit) {
  const area = h("textarea", { id, spellcheck: "false" });
  area.value = JSON.stringify(value, null, 2);
  return h("form", { onsubmit: async (e) => {
      e.preventDefault();
      let parsed;
      try { parsed = JSON.parse(area.value); } catch (err) { showError(`Not JSON: ${err.message}`); return; }
      await onsubmit(parsed);
    } },
    h("label", { for: id }, label), area, h("p", {}, h("button", { type: "submit", class: "primary" }, submitText)));
}

function newJobPage() {
  show(h("h1", {}, "New job"),
    jsonEditor("job-json", "The job, as JSON (see /openapi.json for every field)", JOB_TEMPLATE, "Create", async (job) => {
      const made = await act(() => api("POST", "/v1/jobs", job), "job created");
      if (made) location.hash = `#/jobs/${made.id}`;
    }));
}

async function jobPage(id) {
  const job = await act(() => api("GET", `/v1/jobs/${encodeURIComponent(id)}`));
  if (!job) return;
  const [sched, runs, health] = await Promise.all([
    act(() => api("GET", `/v1/jobs/${job.id}/schedule?count=10`)),
    act(() => api("GET", `/v1/jobs/${job.id}/runs?limit=100`)),
    act(() => api("GET", `/v1/jobs/${job.id}/health?window=7d`))]);
  const editable = Object.fromEntries(EDITABLE.filter((k) => job[k] !== null && job[k] !== undefined).map((k) => [k, job[k]]));
  const payload = h("textarea", { id: "payload", spellcheck: "false", placeholder: "{}" });
  let prevOffset = null;
  const firings = ((sched && sched.firings) || []).map((f) => {
    const dst = prevOffset !== null && f.utc_offset !== prevOffset;
    prevOffset = f.utc_offset;
    return h("tr", {}, h("td", {}, time(f.at)), h("td", { class: "hide-small" }, f.local),
      h("td", {}, f.utc_offset, dst ? h("span", { class: "dst" }, " DST change") : ""),
      h("td", {}, f.suppressed ? `suppressed: ${f.reason}` : ""));
  });
  show(
    h("h1", {}, job.name, " ", !job.enabled ? badge("disabled") : job.paused ? badge("paused") : badge("enabled")),
    h("div", { class: "row" },
      job.paused ? h("button", { type: "button", onclick: () => jobAction(job, "resume") }, "Resume")
                 : h("button", { type: "button", onclick: () => jobAction(job, "pause") }, "Pause"),
      h("button", { type: "button", onclick: () => setEnabled(job, !job.enabled) }, job.enabled ? "Disable" : "Enable"),
      h("button", { type: "button", class: "danger", onclick: () => removeJob(job) }, "Delete")),
    h("dl", { class: "fields" },
      [["id", job.id], ["schedule", schedule(job)], ["time zone", job.timezone], ["next run", time(job.next_run_at)],
       ["endpoint", job.endpoint_url || job.job_type], ["attempts", job.max_attempts], ["version", job.version]]
        .map(([k, v]) => [h("dt", {}, k), h("dd", { class: k === "id" ? "mono" : null }, v)])),
    h("h2", {}, "Trigger"),
    h("form", { onsubmit: (e) => { e.preventDefault(); trigger(job, payload.value); } },
      h("label", { for: "payload" }, "Payload (JSON, optional)"), payload,
      h("p", {}, h("button", { type: "submit", class: "primary" }, "Trigger now"))),
    h("h2", {}, "Next firings"),
    table([["At (UTC)"], ["Local", "hide-small"], ["Offset"], [""]], firings),
    h("h2", {}, "Health (7 days)"), healthView(health, runs || []),
    h("h2", {}, "Runs"), runsTable(runs || [], false),
    h("h2", {}, "Edit"),
    jsonEditor("edit-json", "Fields to change (null resets one)", editable, "Save", async (patch) => {
      if (await act(() => api("PATCH", `/v1/jobs/${job.id}`, patch), "saved")) route();
    }));
}

function healthView(health, runs) {
  if (!health) return h("p", { class: "muted" }, "—");
  // runs per day, completed above failed, newest on the right
  const days = new Map();
  for (const r of runs) {
    const d = (r.created_at || "").slice(0, 10);
    const e = days.get(d) || { ok: 0, bad: 0 };
    if (r.status === "completed") e.ok++;
    else if (["failed", "timed_out", "crashed"].includes(r.status)) e.bad++;
    days.set(d, e);
  }
  const list = [...days.entries()].sort();
  const max = Math.max(1, ...list.map(([, e]) => e.ok + e.bad));
  return h("div", {},
    h("div", { class: "cards" },
      [["runs", health.total_runs], ["completed", health.completed_runs], ["failed", health.failed_runs],
       ["success rate", health.success_rate === null ? "—" : `${Math.round(health.success_rate * 100)}%`],
       ["p95 duration", health.p95_duration_secs === null ? "—" : `${health.p95_duration_secs} s`],
       ["health score", health.health_score === null ? "—" : health.health_score]]
        .map(([k, v]) => h("div", { class: "card" }, h("b", {}, v), k))),
    list.length ? h("div", { class: "chart", role: "img", "aria-label": "runs per day: completed and failed" },
      list.map(([d, e]) => h("div", { title: `${d}: ${e.ok} completed, ${e.bad} failed` },
        h("span", { class: "c-ok", style: `height:${(100 * e.ok) / max}%` }),
        h("span", { class: "c-bad", style: `height:${(100 * e.bad) / max}%` })))) : "");
}

// ---- runs -----------------------------------------------------------------
function runsTable(runs, withJob, selectable) {
  return table([...(selectable ? [[""]] : []), ["Run"], ...(withJob ? [["Job", "hide-small"]] : []), ["Status"],
                ["Progress"], ["Created", "hide-small"], ["Duration"]],
    runs.map((r) => h("tr", {},
      selectable ? h("td", {}, h("input", { type: "checkbox", class: "pick", value: r.id, "aria-label": `select run ${r.id}` })) : null,
      h("td", {}, h("a", { href: `#/runs/${r.id}`, class: "mono" }, r.id.slice(0, 8))),
      withJob ? h("td", { class: "hide-small" }, h("a", { href: `#/jobs/${r.job_id}`, class: "mono" }, r.job_id.slice(0, 8))) : null,
      h("td", { class: "run-status" }, badge(r.status), r.error ? h("div", { class: "muted" }, r.error) : ""),
      h("td", {}, progressOf(r)),
      h("td", { class: "hide-small" }, time(r.created_at)),
      h("td", {}, duration(r)))));
}

async function runsPage() {
  const status = h("select", { id: "run-status" },
    ["", "pending", "delayed", "waiting", "running", "completed", "failed", "timed_out", "cancelled"]
      .map((s) => h("option", { value: s }, s || "any")));
  const body = h("div");
  const load = async () => {
    const path = "/v1/runs?limit=100" + (status.value ? `&status=${status.value}` : "");
    const runs = await act(() => api("GET", path));
    if (runs) body.replaceChildren(runsTable(runs, true));
  };
  status.addEventListener("change", load);
  show(h("h1", {}, "Runs"), h("p", { class: "muted" }, "Updated every 2 seconds."),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "run-status" }, "Status"), status)), body);
  await load();
  timer = setInterval(load, 2000);
}

async function failedPage() {
  const body = h("div");
  let runs = [];
  const load = async () => {
    runs = (await act(() => api("GET", "/v1/runs?limit=200&status=failed,timed_out,crashed"))) || [];
    body.replaceChildren(runsTable(runs, true, true));
  };
  const retry = async () => {
    const picked = [...document.querySelectorAll("input.pick:checked")].map((c) => c.value);
    let made = 0;
    for (const id of picked) {
      const run = runs.find((r) => r.id === id);
      const body_ = run.payload === null ? {} : { payload: run.payload };
      if (await act(() => api("POST", `/v1/jobs/${run.job_id}/trigger`, body_))) made++;
    }
    flash(`${made} of ${picked.length} retried`);
    await load();
  };
  show(h("h1", {}, "Failed runs"),
    h("p", { class: "muted" }, "Runs that used every attempt. Retrying makes a new run with the same payload."),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: retry }, "Retry selected")), body);
  await load();
}

async function runPage(id) {
  const draw = (run) => {
    const trace = run.execution_trace || {};
    const total = Math.max(1, trace.total_ms || 0);
    const parts = [["dns_ms", "#8e7cc3"], ["connect_ms", "#6fa8dc"], ["ttfb_ms", "#f6b26b"], ["transfer_ms", "#93c47d"]];
    const open = ["pending", "delayed", "waiting", "running"].includes(run.status);
    show(
      h("h1", {}, "Run ", h("span", { class: "mono" }, run.id), " ", badge(run.status)),
      h("div", { class: "row" },
        open ? h("button", { type: "button", class: "danger", onclick: async () => {
          if (await act(() => api("POST", `/v1/runs/${run.id}/cancel`), "cancel requested")) load();
        } }, "Cancel") : null,
        h("button", { type: "button", onclick: async () => {
          const again = await act(() => api("POST", `/v1/jobs/${run.job_id}/trigger`, run.payload === null ? {} : { payload: run.payload }), "retried");
          if (again) location.hash = `#/runs/${again.id}`;
        } }, "Retry")),
      h("dl", { class: "fields" },
        [["job", h("a", { href: `#/jobs/${run.job_id}`, class: "mono" }, run.job_id)], ["status", run.status],
         ["progress", progressOf(run) || "—"], ["attempt", run.attempt], ["triggered by", run.triggered_by],
         ["created", time(run.created_at)], ["started", time(run.started_at)], ["finished", time(run.finished_at)],
         ["duration", duration(run)], ["error", run.error || "—"],
         ["payload", JSON.stringify(run.payload)], ["result", JSON.stringify(run.result)]]
          .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h2", {}, "Attempts"),
      h("ol", { class: "timeline", id: "attempts" }, (run.attempts || []).map((a) => h("li", { class: `attempt o-${a.outcome}` },
        h("b", {}, `#${a.attempt} ${a.outcome || ""}`), a.http_status ? ` HTTP ${a.http_status}` : "",
        a.target === "fallback" ? " (fallback)" : "", a.reported_by ? ` reported by the ${a.reported_by}` : "",
        a.started_at ? h("div", { class: "muted" }, `${time(a.started_at)} → ${time(a.finished_at)}`) : "",
        a.error ? h("div", {}, a.error) : "", a.next ? h("div", { class: "muted" }, `then: ${a.next}`) : ""))),
      run.execution_trace ? [h("h2", {}, "Last attempt's time"),
        h("div", { class: "bar", role: "img", "aria-label": parts.map(([k]) => `${k} ${trace[k] || 0}`).join(", ") },
          parts.map(([k, c]) => h("span", { title: `${k} ${trace[k] || 0} ms`, style: `width:${(100 * (trace[k] || 0)) / total}%;background:${c}` }))),
        h("p", { class: "muted" }, Object.entries(trace).map(([k, v]) => `${k.replace(/_ms$/, "")} ${v} ms`).join(" · "))] : "");
    return open;
  };
  const load = async () => {
    const run = await act(() => api("GET", `/v1/runs/${encodeURIComponent(id)}`));
    if (run && !draw(run) && timer) { clearInterval(timer); timer = null; }
  };
  await load();
  timer = setInterval(load, 1500);
}

// ---- system ---------------------------------------------------------------
async function systemPage() {
  const [ready, usage, cluster] = await Promise.all([
    fetch("/readyz").then((r) => r.json()).catch(() => null),
    act(() => api("GET", "/v1/tenant/usage")),
    api("GET", "/v1/system/instances").catch((e) => e)]); // a super_admin's view
  let metrics = null;
  try {
    const r = await fetch("/metrics");
    if (r.ok) metrics = await r.text();
  } catch (e) { metrics = null; }
  const gauge = (name) => {
    if (!metrics) return "—";
    const line = metrics.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? line.split(" ").pop() : "—";
  };
  show(h("h1", {}, "System"),
    h("div", { class: "cards" },
      [["instance", ready ? ready.status : "unreachable"], ["Redis", ready ? ready.redis : "—"],
       ["shards owned here", gauge("jobwheel_shards_owned")], ["calls in flight here", gauge("jobwheel_calls_in_flight")],
       ["runs waiting for a slot", gauge("jobwheel_runs_waiting_for_slot")], ["timer wheel entries", gauge("jobwheel_timer_wheel_entries")],
       ["ready runs (shards here)", gauge("jobwheel_queue_ready_runs")], ["delayed runs (shards here)", gauge("jobwheel_queue_delayed_runs")],
       ["running runs (shards here)", gauge("jobwheel_queue_running_runs")]]
        .map(([k, v]) => h("div", { class: "card" }, h("b", {}, v), k))),
    metrics ? "" : h("p", { class: "muted" }, "/metrics is behind metrics_token: the instance's own gauges are not shown."),
    h("h2", {}, "Instances"),
    cluster instanceof Error
      ? h("p", { class: "muted" }, cluster.status === 403 ? "A super_admin token shows every instance and the shards it owns."
                                                           : cluster.message)
      : [table([["Instance"], ["Last seen"], ["Shards owned"]],
          cluster.instances.map((i) => h("tr", {}, h("td", { class: "mono" }, i.id, i.this ? " (this one)" : ""),
            h("td", {}, time(i.last_seen)), h("td", {}, i.shards_owned.length ? i.shards_owned.join(", ") : "none")))),
         h("p", { class: "muted" }, `${cluster.shards} shards`,
           cluster.shards_unowned.length ? `; not owned now: ${cluster.shards_unowned.join(", ")}` : "; every one owned")],
    h("h2", {}, "Your tenant's quotas"),
    usage ? table([["Quota"], ["Limit"], ["Used"], ["Set by"]],
      Object.entries(usage.quotas).map(([k, q]) => h("tr", {}, h("td", {}, k), h("td", {}, q.limit === null ? "none" : q.limit),
        h("td", {}, q.used), h("td", {}, q.source)))) : "");
}

// ---- routing --------------------------------------------------------------
async function route() {
  if (timer) { clearInterval(timer); timer = null; }
  showError(carried);
  carried = "";
  const hash = location.hash || "#/jobs";
  const [, page, id] = hash.split("/");
  if (!store.getItem("jw.token") || page === "login") return login();
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${page}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.focus();
  if (page === "jobs" && id) return jobPage(decodeURIComponent(id));
  if (page === "new") return newJobPage();
  if (page === "runs" && id) return runPage(decodeURIComponent(id));
  if (page === "runs") return runsPage();
  if (page === "failed") return failedPage();
  if (page === "system") return systemPage();
  return jobsPage();
}
document.getElementById("logout").addEventListener("click", logout);
window.addEventListener("hashchange", route);
route();
