/**
 * The dashboard against a table of 100 000 jobs: time to the first table render, filter and
 * search latency, and the job page, each against the issue's target (under 1000 ms), printed
 * as PASS or MISS. Prints figures; it is not a test.
 *
 *   npm run build && npx tsx bench/dashboard.ts [--jobs N] [--samples S]
 *
 * Starts the local stack as `npm start` runs it (built services as processes, a throwaway
 * PostgreSQL, free ports, loopback), loads N projected jobs with the data-scale bench's loader
 * (half of them tenant `default`'s, which open development access reads as), then drives the
 * built dashboard in Debian's Chromium (playwright-core). Each figure is wall time in the
 * browser, from the action to the table (or page) showing its answer: the REST call, the
 * gateway's forward, the status service's query and Preact's render together.
 */
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchChromium } from "../tests/support/browser.js";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import { fmt, out, pct } from "./support/output.js";
import { SCALE_TENANT, loadScaleJobs } from "./support/scale-data.js";

const TARGET_MS = 1000;
const { values: args } = parseArgs({ options: { jobs: { type: "string", default: "100000" }, samples: { type: "string", default: "10" } } });
const JOBS = Number(args.jobs);
const SAMPLES = Number(args.samples);
if (!Number.isSafeInteger(JOBS) || JOBS < 1000) throw new Error(`--jobs must be an integer of at least 1000, got ${args.jobs}`);
if (!Number.isSafeInteger(SAMPLES) || SAMPLES < 1) throw new Error(`--samples must be a positive integer, got ${args.samples}`);

/** The first row's status badge reads `status` (the table shows the filter's answer). */
const firstRowIs = (status: string) => `document.querySelector('[data-testid="job-row"] [data-testid="job-status"]')?.textContent === ${JSON.stringify(status)}`;
const rowShown = (jobId: string) => `!!document.querySelector('[data-testid="job-row"][data-job-id="${jobId}"]')`;

async function timed(action: () => Promise<unknown>, until: (page: Page) => Promise<unknown>, page: Page): Promise<number> {
  const t0 = performance.now();
  await action();
  await until(page);
  return performance.now() - t0;
}

function report(label: string, ms: number[]): boolean {
  const p50 = pct(ms, 50);
  const worst = Math.max(...ms);
  // Judged on the median: on a shared two-core box one sample in ten can wait on another process.
  const pass = p50 < TARGET_MS;
  out(`  ${label.padEnd(42)} p50 ${fmt(p50, 0).padStart(5)} ms   max ${fmt(worst, 0).padStart(5)} ms   ${pass ? "PASS" : "MISS"} (p50 < ${TARGET_MS} ms)`);
  return pass;
}

async function measure(stack: BenchStack, browser: Browser, sample: { id: string; contentHash: string }[]): Promise<boolean> {
  const base = `${stack.gatewayUrl}/dashboard`;
  // bypassCSP: the waits below are string predicates Playwright evaluates in the page, which the
  // dashboard's policy (script-src 'self', no eval) rightly refuses; the page itself is unchanged.
  const newContext = () => browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const context = await newContext();
  // Open development access (no API_KEYS): the tenant `default`, an empty key.
  await context.addInitScript('sessionStorage.setItem("veriflow.apiKey", "")');
  const page = await context.newPage();
  const wait = (expr: string) => (p: Page) => p.waitForFunction(expr, undefined, { polling: "raf", timeout: 30_000 });
  const results: boolean[] = [];

  // Cold: a fresh context (no cache) per sample, from navigation to the first row drawn.
  const first: number[] = [];
  const loaded: number[] = [];
  const listed: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const c = await newContext();
    await c.addInitScript('sessionStorage.setItem("veriflow.apiKey", "")');
    const p = await c.newPage();
    const t0 = performance.now();
    p.on("requestfinished", (r) => void (new URL(r.url()).pathname === "/api/verification-jobs" && listed.push(performance.now() - t0)));
    first.push(await timed(() => p.goto(`${base}/`).then(() => loaded.push(performance.now() - t0)), wait('!!document.querySelector(\'[data-testid="job-row"]\')'), p));
    await c.close();
  }
  results.push(report("first table render (cold, no cache)", first));
  out(`    of which: page loaded (HTML, JS, CSS) p50 ${fmt(pct(loaded, 50), 0)} ms; first list answer received p50 ${fmt(pct(listed, 50), 0)} ms`);

  await page.goto(`${base}/`);
  await page.locator('[data-testid="job-row"]').first().waitFor();
  const filter: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const status = i % 2 === 0 ? "failed" : "completed";
    filter.push(await timed(() => page.selectOption('[data-testid="filter-status"]', status), wait(firstRowIs(status)), page));
  }
  results.push(report("status filter (failed ↔ completed)", filter));
  const combined: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const type = i % 2 === 0 ? "proof" : "verify";
    combined.push(
      await timed(
        () => page.selectOption('[data-testid="filter-type"]', type),
        wait(`${firstRowIs("completed")} && [...document.querySelectorAll('[data-testid="job-row"] td:nth-child(2)')].every((td) => td.textContent === ${JSON.stringify(type)})`),
        page,
      ),
    );
  }
  results.push(report("status + type filter", combined));
  await page.selectOption('[data-testid="filter-type"]', "");
  await page.selectOption('[data-testid="filter-status"]', "");

  const byHash: number[] = [];
  const byId: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const job = sample[i % sample.length]!;
    byHash.push(await timed(() => page.getByTestId("search").fill(job.contentHash), wait(rowShown(job.id)), page));
    byId.push(await timed(() => page.getByTestId("search").fill(job.id), wait(`${rowShown(job.id)} && document.querySelectorAll('[data-testid="job-row"]').length === 1`), page));
  }
  results.push(report("search by content hash", byHash));
  results.push(report("search by job id", byId));

  const jobPage: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const job = sample[i % sample.length]!;
    await page.getByTestId("search").fill(job.id);
    await page.locator(`[data-job-id="${job.id}"] a`).waitFor();
    jobPage.push(await timed(() => page.locator(`[data-job-id="${job.id}"] a`).click(), wait('!!document.querySelector(\'[data-testid="verdict"]\')'), page));
    await page.goBack();
    await page.getByTestId("search").waitFor();
  }
  results.push(report("job page (from the table, to its verdict)", jobPage));
  await context.close();
  return results.every(Boolean);
}

async function main() {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  out(`veriflow dashboard bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cpus; ${JOBS.toLocaleString("en")} jobs, ${SAMPLES} samples per figure`);
  out("  (wall time in Chromium on a shared box: noisy; compare runs on the same machine)");
  const stack = await startBenchStack(0, (line) => out(`  ${line}`));
  let browser: Browser | undefined;
  const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const loadS = await loadScaleJobs(sql, JOBS, randomUUID(), out);
    out(`  loaded in ${fmt(loadS)} s`);
    // Completed jobs of the tenant, from anywhere in the table: what a search looks for.
    const sample = await sql<{ id: string; contentHash: string }[]>`
      select id, content_hash as "contentHash" from verification_jobs
      where tenant = ${SCALE_TENANT} and status = 'completed' order by random() limit ${Math.max(SAMPLES, 5)}`;
    browser = await launchChromium();
    const pass = await measure(stack, browser, sample);
    out(pass ? "all figures within the target" : "some figures missed the target");
  } finally {
    await browser?.close();
    await sql.end();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    out(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
