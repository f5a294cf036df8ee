import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { DEAD_LETTERS_PATH, JOBS_PATH, PIPELINE_PATH, WATCHES_PATH, newJobId, subjectFor, pipeline, stageDurables, watchPath } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { browserMissing, buildDashboard, dropFile, launchChromium, signIn } from "../support/browser.js";
import { eventually, getJson, submit } from "../support/client.js";
import { asKey, createKey } from "../support/keys.js";
import { startSystem, type System } from "../support/system.js";

// The operator dashboard in a real Chromium (Debian's package, driven by playwright-core) against
// the whole system: the gateway serves the dashboard built from its sources, and everything the
// page shows comes through the REST API with the key typed into it. Without a browser the file
// is skipped, loudly, unless VERIFLOW_REQUIRE_BROWSER=1 (CI), where that is a failure.
const missing = browserMissing();
if (missing && process.env.VERIFLOW_REQUIRE_BROWSER === "1") throw new Error(`VERIFLOW_REQUIRE_BROWSER=1 but ${missing}`);
if (missing) console.warn(`\n*** SKIPPING the dashboard browser tests: ${missing} ***\n`);

const BOOT = "dashboard-test-bootstrap-key";
let sys: System;
let nats: NatsClients;
let browser: Browser;
let buildDir: string;
const keys = {} as Record<"acme" | "acmeNoAdmin" | "acmeReadOnly" | "globex", string>;

/** A fresh context (no storage, no cache) and page, with every console error and uncaught exception kept: a CSP violation is one. */
async function openPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    // A 4xx the page asked for and then explains (a missing scope) is logged by Chromium as a failed load.
    if (m.type() === "error" && !/status of (403|404)/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  return { context, page, problems };
}

describe.skipIf(missing !== null)("the dashboard in Chromium", () => {
  beforeAll(async () => {
    buildDir = await buildDashboard();
    sys = await startSystem({ API_KEYS: BOOT, GATEWAY_DASHBOARD_DIR: buildDir, STATUS_WATCH_POLL_MS: "500" });
    nats = await connectNats({ url: sys.nats.url, name: "dashboard-test", log: createSilentLogger() });
    keys.acme = (await createKey(sys.gatewayUrl, BOOT, "acme", ["submit", "read", "admin"])).key;
    keys.acmeNoAdmin = (await createKey(sys.gatewayUrl, BOOT, "acme", ["submit", "read"])).key;
    keys.acmeReadOnly = (await createKey(sys.gatewayUrl, BOOT, "acme", ["read"])).key;
    keys.globex = (await createKey(sys.gatewayUrl, BOOT, "globex", ["submit", "read", "admin"])).key;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await nats?.close();
    await sys?.stop();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  it("loads with a key, under a strict policy, without a console error; a wrong key is told so", async () => {
    const res = await fetch(`${sys.gatewayUrl}/dashboard/`);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    // The page is public; its data is not.
    expect((await fetch(`${sys.gatewayUrl}${JOBS_PATH}`)).status).toBe(401);
    const { context, page, problems } = await openPage();
    try {
      await page.goto(`${sys.gatewayUrl}/dashboard/`);
      await page.getByTestId("api-key").fill("not-a-key");
      await page.getByTestId("sign-in").click();
      await expect.poll(() => page.getByTestId("error").textContent()).toMatch(/not valid/);
      problems.length = 0; // the 401 above
      await signIn(page, sys.gatewayUrl, keys.acme);
      await page.getByTestId("jobs-table").waitFor();
      await page.getByTestId("nav-pipeline").click();
      await page.locator('[data-testid="consumer-row"][data-consumer="hashing"]').waitFor();
      await page.getByTestId("throughput-chart").locator("canvas").waitFor();
      // The key never shows in a URL the page asked for.
      expect(page.url()).not.toContain(keys.acme);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("submits a dropped file and shows it reach completed live, with its verdict in words; the table finds it by hash; another tenant's job is not there", async () => {
    const content = `dashboard ${randomBytes(16).toString("hex")}`;
    const { manifestUri, contentHash } = await sys.publish(content);
    const theirs = await submit(sys.gatewayUrl, { file: `globex ${randomUUID()}`, registryAddress: sys.registry, manifestURI: manifestUri, headers: asKey(keys.globex) });
    expect(theirs.status).toBe(202);
    const { context, page, problems } = await openPage();
    const sse: { url: string; key: string | undefined }[] = [];
    page.on("request", (r) => r.url().endsWith("/events") && sse.push({ url: r.url(), key: r.headers()["x-api-key"] }));
    let navigations = 0;
    page.on("framenavigated", () => navigations++);
    try {
      await signIn(page, sys.gatewayUrl, keys.acme);
      await page.getByTestId("nav-submit").click();
      await dropFile(page, '[data-testid="drop-zone"]', "photo.txt", content);
      expect(await page.getByTestId("chosen-file").textContent()).toContain("photo.txt");
      await page.getByTestId("manifest-uri").fill(manifestUri);
      await page.getByTestId("registry-address").fill(sys.registry);
      const before = navigations;
      await page.getByTestId("submit").click();
      await page.getByTestId("job-view").waitFor();
      const jobId = (await page.getByTestId("job-id").textContent())!.trim();
      expect(page.url()).toBe(`${sys.gatewayUrl}/dashboard/jobs/${jobId}`);
      await page.locator('[data-testid="job-view"] .badge-completed').waitFor({ timeout: 30_000 });
      // Reached on screen by the job's SSE watch (key in a header, not the URL), not by a reload.
      expect(navigations - before).toBeLessThanOrEqual(1); // pushState to the job's page, no reload
      expect(sse[0]).toEqual({ url: `${sys.gatewayUrl}${JOBS_PATH}/${jobId}/events`, key: keys.acme });
      expect(await page.getByTestId("verdict-text").textContent()).toMatch(/^Verified: /);
      expect(await page.getByTestId("job-progress").textContent()).toBe("100%");
      await expect.poll(() => page.getByTestId("timeline").locator("li").count()).toBeGreaterThanOrEqual(4);

      await page.getByTestId("nav-jobs").click();
      await page.getByTestId("search").fill(contentHash);
      await page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`).waitFor();
      // globex's job has the same manifest but not the same file; looked up by id, acme's table has nothing.
      await page.getByTestId("search").fill(theirs.body.jobId);
      await expect.poll(() => page.getByTestId("jobs-table").textContent()).toContain("No jobs match");
      await page.getByTestId("search").fill("");
      await page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`).waitFor();
      expect(await page.locator(`[data-job-id="${theirs.body.jobId}"]`).count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("retries a failed job from the table, and the row follows it to completed", async () => {
    const content = `dashboard retry ${randomBytes(16).toString("hex")}`;
    const { manifestUri } = await sys.publish(content);
    sys.manifests.failNext(manifestUri, 1, 404); // the manifest stage gives up once: a failed job
    const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers: asKey(keys.acme) });
    const jobId = accepted.body.jobId as string;
    await eventually("the job fails", async () => ((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}`, asKey(keys.acme))).body.status === "failed" ? true : undefined));
    const { context, page, problems } = await openPage();
    try {
      await signIn(page, sys.gatewayUrl, keys.acme);
      await page.getByTestId("search").fill(jobId);
      const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
      await row.locator(".badge-failed").waitFor();
      await row.getByTestId("retry-row").click();
      await expect.poll(() => page.getByTestId("retry-result").textContent()).toMatch(/Retry queued: run 2 resumes at the manifest stage/);
      await row.locator(".badge-completed").waitFor({ timeout: 30_000 });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("inspects and replays a dead letter; a key without the admin scope is told it cannot", async () => {
    // An event of acme's its consumers refuse (its data is not content.hashed's): each sets it aside.
    const subject = subjectFor("content.hashed", newJobId());
    const refused = { id: randomUUID(), type: "content.hashed", occurredAt: new Date().toISOString(), correlationId: randomUUID(), causationId: null, tenant: "acme", data: { nope: true } };
    await nats.js.publish(subject, new TextEncoder().encode(JSON.stringify(refused)));
    const letter = await eventually("the dead letter", async () => {
      const { body } = await getJson(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}?limit=100&consumer=manifest`, asKey(keys.acme));
      return (body.deadLetters as { seq: number; subject: string }[]).find((d) => d.subject === subject);
    });

    const denied = await openPage();
    try {
      await signIn(denied.page, sys.gatewayUrl, keys.acmeNoAdmin, `/dashboard/dead-letters/${letter.seq}`);
      await expect.poll(() => denied.page.getByTestId("error").first().textContent()).toMatch(/cannot read dead letters.*admin scope/);
      await denied.page.getByTestId("replay").click();
      await expect.poll(() => denied.page.getByTestId("replay-result").textContent()).toMatch(/cannot replay dead letters.*admin scope/);
    } finally {
      await denied.context.close();
    }
    expect((await getJson(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}/${letter.seq}`, asKey(keys.acme))).status).toBe(200);

    const { context, page, problems } = await openPage();
    try {
      await signIn(page, sys.gatewayUrl, keys.acme);
      await page.getByTestId("nav-dead-letters").click();
      await page.locator(`[data-testid="dead-letter-row"][data-seq="${letter.seq}"] a`).click();
      await expect.poll(() => page.getByTestId("dead-letter-body").textContent()).toContain('"nope": true');
      expect(await page.getByTestId("dead-letter-reason").textContent()).not.toBe("");
      await page.getByTestId("replay").click();
      await expect.poll(() => page.getByTestId("replay-result").textContent()).toMatch(/manifest/);
      // Removed from the dead letters (a new one comes back, under a new sequence, when the consumer refuses it again).
      expect((await getJson(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}/${letter.seq}`, asKey(keys.acme))).status).toBe(404);
      await expect.poll(() => page.locator(`[data-testid="dead-letter-row"][data-seq="${letter.seq}"]`).count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("lists a watch, shows it reach its verdict live and stops it from its row; a read-only key is told it cannot, another tenant does not see it", async () => {
    const published = await sys.publish(`dashboard watch ${randomBytes(16).toString("hex")}`);
    const created = await fetch(`${sys.gatewayUrl}${WATCHES_PATH}`, {
      method: "POST",
      headers: asKey(keys.acme, { "content-type": "application/json" }),
      body: JSON.stringify({ contentHash: published.contentHash, manifestURI: published.manifestUri, registryAddress: sys.registry, recheckEvery: "PT6H" }),
    });
    expect(created.status).toBe(202);
    const { watchId } = (await created.json()) as { watchId: string };

    const { context, page, problems } = await openPage();
    try {
      await signIn(page, sys.gatewayUrl, keys.acme);
      await page.getByTestId("nav-watches").click();
      const row = page.locator(`[data-testid="watch-row"][data-watch-id="${watchId}"]`);
      await row.locator(".verdict-ok").waitFor({ timeout: 30_000 });
      expect(await row.getByTestId("watch-verdict").textContent()).toBe("OK verified");
      expect(await row.getByTestId("watch-state").textContent()).toBe("active");
      expect(await row.locator("td").nth(1).getAttribute("title")).toBe(published.contentHash.toLowerCase());
      expect(await row.textContent()).toContain("every 6 h");
      expect(await row.locator("td").nth(4).textContent()).toMatch(/^\d+ s ago$/); // when the verdict was reached
      // The watch's page is its job's.
      expect(await row.locator("a").getAttribute("href")).toBe(`/dashboard/jobs/${watchId}`);

      const readOnly = await openPage();
      try {
        await signIn(readOnly.page, sys.gatewayUrl, keys.acmeReadOnly, "/dashboard/watches");
        await readOnly.page.locator(`[data-testid="watch-row"][data-watch-id="${watchId}"]`).getByTestId("stop-watch").click();
        await expect.poll(() => readOnly.page.getByTestId("stop-result").textContent(), { timeout: 10_000 }).toMatch(/cannot stop watches.*submit scope/);
        expect(readOnly.problems).toEqual([]);
      } finally {
        await readOnly.context.close();
      }
      expect((await getJson(`${sys.gatewayUrl}${watchPath(watchId)}`, asKey(keys.acme))).body.active).toBe(true);

      await row.getByTestId("stop-watch").click();
      await expect.poll(() => row.getByTestId("watch-state").textContent(), { timeout: 10_000 }).toBe("stopped");
      expect(await row.getByTestId("stop-watch").count()).toBe(0);
      expect((await getJson(`${sys.gatewayUrl}${watchPath(watchId)}`, asKey(keys.acme))).body).toMatchObject({ active: false, verdict: { status: "OK" } });
      await page.getByTestId("filter-active").selectOption("active");
      await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
      await page.getByTestId("filter-active").selectOption("stopped");
      await row.waitFor();

      // One made with the view's form opens its job page, then shows in the table.
      const another = await sys.publish(`dashboard watch form ${randomBytes(16).toString("hex")}`);
      await page.getByTestId("filter-active").selectOption("all");
      await page.getByTestId("new-watch").click();
      await page.getByTestId("watch-content-hash").fill(another.contentHash);
      await page.getByTestId("watch-manifest-uri").fill(another.manifestUri);
      await page.getByTestId("watch-registry-address").fill(sys.registry);
      await page.getByTestId("create-watch").click();
      await page.getByTestId("job-view").waitFor();
      const formWatchId = (await page.getByTestId("job-id").textContent())!.trim();
      expect((await getJson(`${sys.gatewayUrl}${watchPath(formWatchId)}`, asKey(keys.acme))).body).toMatchObject({ contentHash: another.contentHash.toLowerCase(), active: true });
      await page.getByTestId("nav-watches").click();
      await page.locator(`[data-testid="watch-row"][data-watch-id="${formWatchId}"]`).waitFor();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }

    const theirs = await openPage();
    try {
      await signIn(theirs.page, sys.gatewayUrl, keys.globex, "/dashboard/watches");
      await expect.poll(() => theirs.page.getByTestId("watch-count").textContent(), { timeout: 10_000 }).not.toBe("loading…");
      expect(await theirs.page.locator(`[data-watch-id="${watchId}"]`).count()).toBe(0);
      expect(theirs.problems).toEqual([]);
    } finally {
      await theirs.context.close();
    }
  });

  it("answers the pipeline view through the gateway: every consumer, the dead letters, the tenant's throughput", async () => {
    const { body, status } = await getJson(`${sys.gatewayUrl}${PIPELINE_PATH}`, asKey(keys.acme));
    expect(status).toBe(200);
    expect(body.streamAvailable).toBe(true);
    // Each stage's consumers (interactive, then bulk) in pipeline order, then the observers.
    const declared = [...pipeline.stages.flatMap((s) => stageDurables(s.service)), ...pipeline.observers.map((o) => o.durable)];
    expect(body.consumers.map((c: { durable: string }) => c.durable)).toEqual(declared);
    expect(body.consumers.every((c: { exists: boolean }) => c.exists)).toBe(true);
    const completed = (body.throughput.minutes as { completed: number }[]).reduce((n, m) => n + m.completed, 0);
    expect(completed).toBeGreaterThanOrEqual(1); // acme's job above
    expect(body.latency.stages.map((s: { stage: string }) => s.stage)).toEqual(["hashing", "manifest", "chain-check"]);
  });
});
