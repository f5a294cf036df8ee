/**
 * `npm run screenshots`: the dashboard's main views as PNGs in docs/dashboard/, for the README.
 *
 * Starts the whole system (tests/support/system.ts: its own nats-server, PostgreSQL, chain and
 * manifest server, loopback only, open development access), loads 20 000 projected jobs of the
 * last five days (the data-scale bench's loader) so the table and the chart have a history,
 * runs a few real jobs through the pipeline (verified, a proof, a FAIL verdict, a job that fails
 * at the manifest stage), follows a few content hashes as watches (one revoked on chain, one
 * stopped) and sets one event aside as a dead letter, then photographs each view
 * in Chromium. Deterministic enough to re-run whenever the dashboard changes.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, rm, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { DEAD_LETTERS_PATH, WATCHES_PATH, newJobId, subjectFor, watchPath } from "@veriflow/events";
import { connectNats } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { revokeContent } from "@veriflow/testing";
import type { Page } from "playwright-core";
import { loadScaleJobs } from "../../../bench/support/scale-data.js";
import { browserMissing, buildDashboard, launchChromium } from "../../../tests/support/browser.js";
import { eventually, getJson, submit, waitForJob } from "../../../tests/support/client.js";
import { startSystem } from "../../../tests/support/system.js";

const OUT = fileURLToPath(new URL("../../../docs/dashboard/", import.meta.url));
const print = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  const buildDir = await buildDashboard();
  const sys = await startSystem({ GATEWAY_DASHBOARD_DIR: buildDir });
  const browser = await launchChromium();
  try {
    await loadScaleJobs(sys.db.sql, 20_000, randomUUID(), () => {});
    const jobs = await runJobs(sys);
    await makeWatches(sys);
    await makeDeadLetter(sys.nats.url, sys.gatewayUrl);
    await mkdir(OUT, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
    // Open development access: the key form takes an empty key, as `npm start` prints.
    await context.addInitScript('sessionStorage.setItem("veriflow.apiKey", "")');
    const page = await context.newPage();
    const base = `${sys.gatewayUrl}/dashboard`;
    await shoot(page, `${base}/`, "jobs", '[data-testid="job-row"]');
    await shoot(page, `${base}/jobs/${jobs.verified}`, "job", '[data-testid="verdict"]', true);
    await shoot(page, `${base}/jobs/${jobs.proof}`, "proof", '[data-testid="proof"]');
    await shoot(page, `${base}/jobs/${jobs.failed}`, "failed-job", '[data-testid="failure"]');
    // Two polls apart, so the rate column has figures.
    await shoot(page, `${base}/watches`, "watches", '[data-testid="watch-row"] .verdict');
    await shoot(page, `${base}/pipeline`, "pipeline", '[data-testid="throughput-chart"] canvas', false, 4500);
    const { body } = await getJson(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}?limit=1`);
    await shoot(page, `${base}/dead-letters/${body.deadLetters[0].seq}`, "dead-letters", '[data-testid="dead-letter-body"]');
    await shoot(page, `${base}/submit`, "submit", '[data-testid="drop-zone"]');
    await context.close();
  } finally {
    await browser.close();
    await sys.stop();
    await rm(buildDir, { recursive: true, force: true });
  }
}

/** A few jobs through the real pipeline; their ids. */
async function runJobs(sys: Awaited<ReturnType<typeof startSystem>>) {
  const send = async (file: string, manifestURI: string, type: "verify" | "proof" = "verify", fileName = "photo.jpg") => {
    const res = await submit(sys.gatewayUrl, { file, fileName, registryAddress: sys.registry, manifestURI, type });
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.jobId as string;
  };
  const ids: string[] = [];
  for (const name of ["press-photo.jpg", "report-2026-q3.pdf", "interview.wav"]) {
    const content = `${name} ${randomBytes(24).toString("hex")}`;
    ids.push(await send(content, (await sys.publish(content)).manifestUri, "verify", name));
  }
  const proofContent = `contract-scan ${randomBytes(24).toString("hex")}`;
  const proof = await send(proofContent, (await sys.publish(proofContent)).manifestUri, "proof", "contract-scan.png");
  // A file its manifest does not describe: completed, verdict FAIL.
  const other = await sys.publish(`original ${randomBytes(8).toString("hex")}`);
  const mismatch = await send(`edited copy ${randomBytes(8).toString("hex")}`, other.manifestUri, "verify", "edited-copy.jpg");
  // A manifest its host no longer has: the job fails at the manifest stage.
  const goneContent = `gone ${randomBytes(8).toString("hex")}`;
  const gone = await sys.publish(goneContent);
  sys.manifests.failNext(gone.manifestUri, 100, 404);
  const failed = await send(goneContent, gone.manifestUri, "verify", "old-upload.mov");
  for (const id of [...ids, proof, mismatch, failed]) await waitForJob(sys.gatewayUrl, id, 30_000);
  print(`jobs: ${[...ids, proof, mismatch, failed].length} run through the pipeline`);
  return { verified: ids[0]!, proof, failed };
}

/** Three watches: one re-checked daily, one whose registration was revoked (OK, then FAIL), one stopped. */
async function makeWatches(sys: Awaited<ReturnType<typeof startSystem>>) {
  const watch = async (fields: Record<string, unknown> = {}) => {
    const published = await sys.publish(`watched ${randomBytes(24).toString("hex")}`);
    const body = { contentHash: published.contentHash, manifestURI: published.manifestUri, registryAddress: sys.registry, ...fields };
    const res = await fetch(`${sys.gatewayUrl}${WATCHES_PATH}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 202) throw new Error(`POST ${WATCHES_PATH} answered ${res.status}: ${await res.text()}`);
    const { watchId } = (await res.json()) as { watchId: string };
    return { watchId, contentHash: published.contentHash };
  };
  const verdictOf = (watchId: string, status: string) =>
    eventually(`watch ${watchId} ${status}`, async () => ((await getJson(`${sys.gatewayUrl}${watchPath(watchId)}`)).body.verdict?.status === status ? true : undefined));
  const stopped = await watch();
  const revoked = await watch();
  const daily = await watch({ recheckEvery: "P1D" });
  for (const w of [stopped, revoked, daily]) await verdictOf(w.watchId, "OK");
  await fetch(`${sys.gatewayUrl}${watchPath(stopped.watchId)}`, { method: "DELETE" });
  await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, revoked.contentHash);
  await verdictOf(revoked.watchId, "FAIL");
  print("watches: 3 followed, one revoked, one stopped");
}

/** An event its consumers refuse (its data is not content.hashed's): each sets it aside. */
async function makeDeadLetter(natsUrl: string, gatewayUrl: string) {
  const nats = await connectNats({ url: natsUrl, name: "screenshots", log: createSilentLogger() });
  try {
    const subject = subjectFor("content.hashed", newJobId());
    const event = { id: randomUUID(), type: "content.hashed", occurredAt: new Date().toISOString(), correlationId: randomUUID(), causationId: null, data: { contentHash: "not-a-hash" } };
    await nats.js.publish(subject, new TextEncoder().encode(JSON.stringify(event)));
    await eventually("the dead letter", async () => {
      const { body } = await getJson(`${gatewayUrl}${DEAD_LETTERS_PATH}`);
      return body.total >= 1 ? true : undefined;
    });
  } finally {
    await nats.close();
  }
}

async function shoot(page: Page, url: string, name: string, ready: string, fullPage = false, settleMs = 800) {
  await page.goto(url);
  await page.locator(ready).first().waitFor({ timeout: 20_000 });
  await page.waitForTimeout(settleMs);
  const path = `${OUT}${name}.png`;
  await page.screenshot({ path, fullPage });
  print(`${name}.png  ${Math.round((await stat(path)).size / 1024)} KB`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    print(`screenshots failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
