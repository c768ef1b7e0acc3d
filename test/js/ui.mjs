// Drives the dashboard (/ui) in Debian's headless Chromium as a user would:
// log in with a token, create a job, trigger it and watch the run complete,
// watch a worker's progress move, cancel a run, search, pause, and look at
// every main page (screenshots kept), also at a phone's width.
// Run by test/integration/test_ui.py:
//   node ui.mjs BASE_URL TOKEN SINK_OK_URL SINK_WORKER_URL SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [base, token, okUrl, workerUrl, shots] = process.argv.slice(2);
const steps = [];
const step = (name) => { steps.push(name); console.log(`- ${name}`); };

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const expectText = async (locator, text, timeout = 15000) => {
  await locator.filter({ hasText: text }).first().waitFor({ timeout });
};

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
try {
  step("a wrong token is refused in the API's words");
  await page.goto(`${base}/ui`);
  await page.getByLabel("Token (a JWT or an API key)").fill("not-a-token");
  await page.getByRole("button", { name: "Log in" }).click();
  await expectText(page.locator("#error"), "401");
  await page.screenshot({ path: `${shots}/login.png` });

  step("log in");
  await page.getByLabel("Token (a JWT or an API key)").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Jobs" }).waitFor();

  step("a bad job is refused naming each field");
  await page.getByRole("button", { name: "New job" }).click();
  await page.getByLabel(/The job, as JSON/).fill(JSON.stringify({ name: "", cron: "99 * * * *" }));
  await page.getByRole("button", { name: "Create" }).click();
  await expectText(page.locator("#error"), "cron:");
  await expectText(page.locator("#error"), "name:");

  step("create a job");
  const name = `ui-job-${Date.now()}`;
  await page.getByLabel(/The job, as JSON/).fill(JSON.stringify(
    { name, endpoint_url: okUrl, cron: "30 2 * * *", timezone: "Europe/Berlin" }));
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name }).waitFor();
  const firings = page.locator("table").first().locator("tbody tr");
  if ((await firings.count()) !== 10) throw new Error(`next firings: ${await firings.count()} rows`);
  await page.screenshot({ path: `${shots}/job.png`, fullPage: true });

  step("trigger it with a payload and watch the run complete");
  await page.getByLabel("Payload (JSON, optional)").fill('{"from": "ui"}');
  await page.getByRole("button", { name: "Trigger now" }).click();
  await page.getByRole("heading", { name: /^Run / }).waitFor();
  await expectText(page.locator("h1 .badge"), "completed");
  await expectText(page.locator("#attempts li"), "#1 completed");
  await expectText(page.locator("dl.fields dd"), '{"from":"ui"}');
  await page.screenshot({ path: `${shots}/run.png`, fullPage: true });

  step("a worker's progress moves on the runs page");
  const worker = await api("POST", "/v1/jobs", { name: `${name}-worker`, endpoint_url: workerUrl, timeout_secs: 300 });
  const bulk = await api("POST", `/v1/jobs/${worker.id}/trigger/bulk`, { items: [{}] });
  const { id: runId, run_token: runToken } = bulk.results[0];
  const progress = async (processed) => {
    for (let i = 0; i < 50; i++) { // the run starts (and its attempt is 202'd) in a moment
      const r = await fetch(`${base}/v1/runs/${runId}/progress`, {
        method: "POST", headers: { "x-run-token": runToken, "Content-Type": "application/json" },
        body: JSON.stringify({ processed, total: 10, message: `step ${processed}` }) });
      if (r.ok) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error("the worker's progress was refused");
  };
  await progress(3);
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  const bar = page.locator(`tr:has(a[href="#/runs/${runId}"]) progress`);
  await bar.waitFor();
  await page.waitForFunction((sel) => document.querySelector(sel)?.value === 3,
    `tr:has(a[href="#/runs/${runId}"]) progress`, { timeout: 10000 });
  await progress(7);
  await page.waitForFunction((sel) => document.querySelector(sel)?.value === 7,
    `tr:has(a[href="#/runs/${runId}"]) progress`, { timeout: 10000 });
  await page.screenshot({ path: `${shots}/runs.png`, fullPage: true });
  await fetch(`${base}/v1/runs/${runId}/complete`, {
    method: "POST", headers: { "x-run-token": runToken, "Content-Type": "application/json" }, body: "{}" });

  step("cancel a waiting run");
  const later = await api("POST", "/v1/jobs", { name: `${name}-later`, endpoint_url: okUrl });
  const waiting = await api("POST", `/v1/jobs/${later.id}/trigger`, { delay: 3600 });
  await page.goto(`${base}/ui#/runs/${waiting.id}`);
  await expectText(page.locator("h1 .badge"), "delayed");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expectText(page.locator("h1 .badge"), "cancelled");

  step("search the jobs and pause one");
  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  await page.getByLabel("Search").fill(`${name}-w`);
  const rows = page.locator("tbody tr");
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);
  await page.getByLabel("Type").selectOption("StoredProcedure"); // none of these is one
  await page.waitForFunction(() => document.querySelector("tbody td.muted")?.textContent === "Nothing here yet.");
  await page.getByLabel("Type").selectOption("HttpCall");
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);
  await rows.first().getByRole("button", { name: "Pause" }).click();
  await expectText(rows.first().locator(".badge"), "paused");
  await page.getByLabel("Search").fill("");
  await page.getByLabel("Type").selectOption("");
  await page.screenshot({ path: `${shots}/jobs.png`, fullPage: true });

  step("the failed and system pages");
  await page.getByRole("link", { name: "Failed" }).click();
  await page.getByRole("heading", { name: "Failed runs" }).waitFor();
  await page.screenshot({ path: `${shots}/failed.png`, fullPage: true });
  await page.getByRole("link", { name: "System" }).click();
  await expectText(page.locator(".card"), "Redis");
  await expectText(page.locator("table"), "runs_per_minute");
  await page.screenshot({ path: `${shots}/system.png`, fullPage: true });

  step("every control is labelled and reachable by keyboard");
  const unlabelled = await page.evaluate(() => {
    location.hash = "#/jobs";
    return new Promise((res) => setTimeout(() => res([...document.querySelectorAll("input, select, textarea")]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).map((e) => e.outerHTML)), 500));
  });
  if (unlabelled.length) throw new Error(`unlabelled controls: ${unlabelled.join(" ")}`);
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  if (!["A", "BUTTON", "INPUT"].includes(focused)) throw new Error(`Tab focused ${focused}`);

  step("a phone's width: nothing wider than the screen");
  await page.setViewportSize({ width: 390, height: 844 });
  for (const hash of ["#/jobs", "#/runs", `#/runs/${waiting.id}`]) {
    await page.goto(`${base}/ui${hash}`);
    await page.locator("main h1").waitFor();
    await page.waitForTimeout(300);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    if (wide > 391) throw new Error(`${hash} is ${wide}px wide at 390`);
  }
  await page.goto(`${base}/ui#/jobs`);
  await page.locator("main h1").waitFor();
  await page.screenshot({ path: `${shots}/jobs-phone.png`, fullPage: true });

  step("log out");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  if (await page.evaluate(() => sessionStorage.getItem("jw.token"))) throw new Error("the token outlived log out");

  const csp = consoleErrors.filter((e) => /Content Security Policy|Refused/.test(e));
  if (csp.length) throw new Error(`the page broke its own CSP: ${csp.join("; ")}`);
  console.log(`ok: ${steps.length} steps`);
} catch (e) {
  console.log(`FAILED at "${steps[steps.length - 1]}": ${e.message}`);
  if (consoleErrors.length) console.log(`console: ${consoleErrors.join("\n")}`);
  await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
