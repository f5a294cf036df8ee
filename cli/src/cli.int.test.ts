import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { pipeline } from "@veriflow/events";
import { findFreePort, updateManifest } from "@veriflow/testing";
import { systemTest } from "../../tests/support/shared-system.js";
import type { System } from "../../tests/support/system.js";
import { buildCli, runCli, type CliRun } from "../../tests/support/cli.js";

// The built CLI, spawned as a user runs it, against the whole system on real servers.

let sys: System;
let dir: string;
let dataDir: string;

systemTest.beforeAll(async ({ system }) => {
  await buildCli();
  sys = system;
  dir = await mkdtemp(join(tmpdir(), "veriflow-cli-"));
  // What `npm start` writes for its stack, here for the test's system.
  dataDir = join(dir, "data");
  const stack = { version: 1, gatewayUrl: sys.gatewayUrl, rpcUrl: sys.chain.rpcUrl, chainId: sys.chain.chainId, registry: sys.registry, manifestServerUrl: sys.manifests.url };
  await promisify(execFile)("mkdir", ["-p", dataDir]);
  await writeFile(join(dataDir, "local-stack.json"), JSON.stringify(stack));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Run = CliRun;

/** `veriflow …` in the test's directory, VERIFLOW_URL at the test system. */
const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, { VERIFLOW_URL: sys.gatewayUrl, ...env }, dir);

const json = (r: Run) => {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
};

async function fileWith(label: string): Promise<{ path: string; content: string }> {
  const content = `${label} ${randomBytes(16).toString("hex")}\n`;
  const path = join(dir, `${label}-${randomBytes(4).toString("hex")}.txt`);
  await writeFile(path, content);
  return { path, content };
}

const publish: System["publish"] = (content, opts) => sys.publish(content, opts);

describe("veriflow verify --wait", () => {
  it("OK: exit 0, the job as JSON on stdout, plain progress lines on stderr (not a TTY)", async () => {
    const { path, content } = await fileWith("ok");
    const { manifestUri, contentHash } = await publish(content);
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--wait", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const job = json(r);
    expect(job).toMatchObject({ status: "completed", contentHash, result: { status: "OK", reasons: [], checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true } } });
    expect(r.stderr).toMatch(new RegExp(`^progress +\\d+% \\w+: .*\\(job ${job.id}, [\\d.]+s\\)$`, "m"));
    expect(r.stderr).toMatch(/^progress 100% completed: completed/m);
    expect(r.stderr).toMatch(new RegExp(`^following job ${job.id} (through server-sent events|by polling)`, "m"));
    expect(r.stderr).not.toContain("\x1b");
  });

  it("human output: the verdict, reasons and checks on stdout", async () => {
    const { path, content } = await fileWith("human");
    const { manifestUri } = await publish(content);
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--wait", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^  verdict +OK$/m);
    expect(r.stdout).toMatch(/^  reasons +none$/m);
    expect(r.stdout).toMatch(/^  checks +manifest hash yes, creator yes, manifest URI yes, DID yes$/m);
    expect(r.stderr).toBe("");
  });

  it("proof: tx hash, block and chain id", async () => {
    const { path, content } = await fileWith("proof");
    const { manifestUri, registration } = await publish(content);
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--proof", "--wait", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^  tx hash +${registration!.txHash}$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^  block +${registration!.blockNumber}$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^  chain id +${sys.chain.chainId}$`, "m"));
  });

  it("FAIL verdict: exit 1", async () => {
    const { path, content } = await fileWith("unregistered");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--wait", "--json"]);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r).result).toMatchObject({ status: "FAIL", reasons: ["not_registered"] });
  });

  it("WARN verdict: exit 3", async () => {
    const { path, content } = await fileWith("warn");
    const { manifestUri, contentHash } = await publish(content);
    await updateManifest(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, contentHash, sys.manifests.putManifest(`moved-${contentHash.slice(2, 10)}`, {}));
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--wait", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    expect(json(r).result).toMatchObject({ status: "WARN", reasons: ["uri_mismatch"] });
  });

  it("a stage failure: exit 4, with the stage and code", async () => {
    const { path } = await fileWith("nomanifest");
    const r = await cli(["verify", path, "--manifest", `${sys.manifests.url}/manifests/missing`, "--registry", sys.registry, "--wait"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/failed at +manifest \(E_MANIFEST_NOT_FOUND, 1 attempt\)/);
    expect(r.stderr).toMatch(/failed at manifest \(E_MANIFEST_NOT_FOUND\)/);
  });

  it("--timeout passing while waiting: exit 6, and the job id to watch it", async () => {
    const { path, content } = await fileWith("timeout");
    const { manifestUri } = await publish(content);
    const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--timeout", "0.001", "--json"]);
    expect(r.code, r.stderr).toBe(6);
    expect(json(r).error).toMatchObject({ kind: "WaitTimeoutError", exitCode: 6, jobId: expect.any(String) });
    expect(r.stderr).toMatch(/veriflow jobs watch [0-9a-f-]{36}/);
  });
});

describe("errors and exit codes", () => {
  it("usage error: exit 2, nothing on stdout without --json, { error } with it", async () => {
    const r = await cli(["verify", "a.txt", "--manifest", "ipfs://x"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--registry <address> is required/);
    const j = await cli(["verify", "missing.txt", "--manifest", "ipfs://x", "--registry", sys.registry, "--json"]);
    expect(j.code).toBe(2);
    expect(json(j).error).toMatchObject({ kind: "UsageError", message: expect.stringContaining("cannot read missing.txt: ENOENT") });
  });

  it("unreachable server: exit 5", async () => {
    const { path } = await fileWith("unreachable");
    const port = await findFreePort();
    const r = await cli(["verify", path, "--manifest", "ipfs://x", "--registry", sys.registry, "--url", `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} is not reachable: ECONNREFUSED`));
    const list = await cli(["jobs", "list"], { VERIFLOW_URL: `http://127.0.0.1:${port}` });
    expect(list.code).toBe(5);
  });

  it("an HTTP error answer: exit 5 with the server's code", async () => {
    const { path } = await fileWith("badinput");
    const r = await cli(["verify", path, "--manifest", "ftp://example.com/m.json", "--registry", sys.registry, "--json"]);
    expect(r.code).toBe(5);
    expect(json(r).error).toMatchObject({ kind: "ApiError", status: 400, code: "E_INVALID_MANIFEST_URI" });
    const missing = await cli(["jobs", "get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/answered 404/);
  });
});

/** What the busy gateway (below) saw of one request, and, when it passed it on, what the real gateway answered. */
interface Seen {
  idempotencyKey: string | undefined;
  upstream?: { status: number; jobId: string | undefined; replayed: boolean };
}

/**
 * A loopback HTTP server in front of the test system's gateway, as a load balancer would be:
 * `plan(n)` says for the n-th request (from 0) whether to answer 503 E_QUEUE_BACKLOG with
 * Retry-After: 1 itself ("busy"), to pass it on ("forward"), or to pass it on and still answer
 * 503 ("lost answer": the job was made, the client never heard of it).
 */
async function busyGateway(plan: (n: number) => "busy" | "forward" | "lost answer"): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry: Seen = { idempotencyKey: req.headers["idempotency-key"] as string | undefined };
      const step = plan(seen.length);
      seen.push(entry);
      const busy = () => {
        res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
        res.end(JSON.stringify({ error: { code: "E_QUEUE_BACKLOG", message: "the queue holds 3 unfinished jobs (limit 3)" }, requestId: "proxy" }));
      };
      if (step === "busy") return busy();
      const headers: Record<string, string> = { "content-type": req.headers["content-type"]! };
      if (entry.idempotencyKey) headers["idempotency-key"] = entry.idempotencyKey;
      void fetch(`${sys.gatewayUrl}${req.url}`, { method: "POST", headers, body: Buffer.concat(chunks) }).then(async (up) => {
        const text = await up.text();
        entry.upstream = { status: up.status, jobId: (JSON.parse(text) as { jobId?: string }).jobId, replayed: up.headers.get("idempotent-replayed") === "true" };
        if (step === "lost answer") return busy();
        res.writeHead(up.status, { "content-type": "application/json" });
        res.end(text);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe("veriflow verify when the gateway is busy", () => {
  it("waits for each Retry-After and sends the file again with the same Idempotency-Key", async () => {
    const { path, content } = await fileWith("busy");
    const { manifestUri } = await publish(content);
    const proxy = await busyGateway((n) => (n < 2 ? "busy" : "forward"));
    try {
      const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--url", proxy.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(proxy.seen[2]!.upstream!.jobId);
      expect(r.stderr).toMatch(/^the gateway answered 503 E_QUEUE_BACKLOG \(the queue holds 3 unfinished jobs \(limit 3\)\): sending again in 1 s \(attempt 2\)$/m);
      expect(r.stderr).toMatch(/sending again in 1 s \(attempt 3\)$/m);
      expect(proxy.seen).toHaveLength(3);
      expect(proxy.seen[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(proxy.seen.map((s) => s.idempotencyKey))).toEqual(new Set([proxy.seen[0]!.idempotencyKey]));
    } finally {
      await proxy.close();
    }
  });

  it("a retry of a submission the gateway accepted although the answer was lost gets that job, not a second one", async () => {
    const { path, content } = await fileWith("lost");
    const { manifestUri } = await publish(content);
    const proxy = await busyGateway((n) => (n === 0 ? "lost answer" : "forward"));
    try {
      const r = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--url", proxy.url, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const [first, second] = proxy.seen;
      expect(first!.upstream).toMatchObject({ status: 202, replayed: false });
      expect(second!.upstream).toMatchObject({ status: 202, replayed: true, jobId: first!.upstream!.jobId });
      expect(json(r).jobId).toBe(first!.upstream!.jobId);
    } finally {
      await proxy.close();
    }
  });

  it("gives up once the next wait would pass --retry-for: exit 5 with the gateway's answer", async () => {
    const { path } = await fileWith("alwaysbusy");
    const proxy = await busyGateway(() => "busy");
    try {
      const r = await cli(["verify", path, "--manifest", "ipfs://x", "--registry", sys.registry, "--url", proxy.url, "--retry-for", "1.5", "--json"]);
      expect(r.code).toBe(5);
      expect(proxy.seen).toHaveLength(2);
      expect(json(r).error).toMatchObject({ kind: "ApiError", status: 503, code: "E_QUEUE_BACKLOG", message: expect.stringContaining("still answered after 2 attempts") });
      expect(r.stderr).toMatch(/sending again in 1 s \(attempt 2\)/);
    } finally {
      await proxy.close();
    }
  });
});

describe("veriflow jobs", () => {
  it("verify without --wait prints the job id; jobs get / watch / list read it", async () => {
    const { path, content } = await fileWith("jobs");
    const { manifestUri } = await publish(content);
    const submitted = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const watched = await cli(["jobs", "watch", id, "--json"]);
    expect(watched.code, watched.stderr).toBe(0);
    const snapshots = watched.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(snapshots.at(-1)).toMatchObject({ id, status: "completed", result: { status: "OK" } });

    const got = await cli(["jobs", "get", id, "--json"]);
    expect(got.code).toBe(0);
    expect(json(got)).toMatchObject({ id, status: "completed", manifestUri });
    const human = await cli(["jobs", "get", id]);
    expect(human.stdout).toContain(`job ${id}  verify  completed`);

    const list = await cli(["jobs", "list", "--json", "--status", "completed", "--limit", "100"]);
    expect(list.code).toBe(0);
    const page = json(list);
    expect(page).toMatchObject({ limit: 100, offset: 0, total: expect.any(Number) });
    expect(page.jobs.map((j: { id: string }) => j.id)).toContain(id);
    expect(page.jobs.every((j: { status: string }) => j.status === "completed")).toBe(true);
    const limited = json(await cli(["jobs", "list", "--json", "--limit", "1"]));
    expect(limited.jobs).toHaveLength(1);
    const table = await cli(["jobs", "list", "--limit", "100"]);
    expect(table.stdout).toMatch(/^ID +TYPE +STATUS +VERDICT +CREATED$/m);
    expect(table.stdout).toContain(id);
  });
});

describe("veriflow jobs retry", () => {
  it("runs a failed job again once what failed is fixed: --wait follows the new run and exits with its verdict", async () => {
    const { path, content } = await fileWith("retry");
    const { manifestUri } = await publish(content);
    sys.manifests.failNext(manifestUri, 1, 404);
    const failed = await cli(["verify", path, "--manifest", manifestUri, "--registry", sys.registry, "--wait", "--json"]);
    expect(failed.code, failed.stderr).toBe(4);
    const id = json(failed).id as string;
    const human = await cli(["jobs", "get", id]);
    expect(human.stdout).toContain(`veriflow jobs retry ${id}`);

    const retried = await cli(["jobs", "retry", id, "--wait", "--json"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(json(retried)).toMatchObject({ id, run: 2, status: "completed", result: { status: "OK" } });
    expect(retried.stderr).toContain(`job ${id}: run 2 resumes at the manifest stage`);

    const again = await cli(["jobs", "retry", id]);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/answered 409 E_JOB_NOT_RETRYABLE/);
  });
});

describe("veriflow dead-letters", () => {
  it("lists, shows and replays what a consumer set aside", async () => {
    // Bytes that are no event, on a subject the manifest stage (and the observers) consume.
    const subject = `veriflow.content.hashed.${randomUUID()}`;
    const nc = await connect({ servers: sys.nats.url });
    try {
      await jetstream(nc).publish(subject, new TextEncoder().encode("this is not an event"));
    } finally {
      await nc.close();
    }
    let listed: any[] = [];
    // The manifest stage and every observer read that subject: each sets it aside once.
    const readers = ["manifest", ...pipeline.observers.map((o) => o.durable)].sort();
    for (let tries = 0; listed.length < readers.length && tries < 200; tries++) {
      const page = json(await cli(["dead-letters", "list", "--limit", "100", "--json"]));
      listed = page.deadLetters.filter((d: { subject: string }) => d.subject === subject);
      if (listed.length < readers.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(listed.map((d) => d.consumer).sort()).toEqual(readers);
    const manifest = listed.find((d) => d.consumer === "manifest");

    const table = await cli(["dead-letters", "list", "--consumer", "manifest", "--limit", "100"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^SEQ +CONSUMER +DEAD-LETTERED +SUBJECT +REASON$/m);
    expect(table.stdout).toContain(subject);

    const shown = await cli(["dead-letters", "show", String(manifest.seq)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`dead letter ${manifest.seq}  set aside by manifest`);
    expect(shown.stdout).toContain("this is not an event");
    expect(shown.stdout).toContain(`veriflow dead-letters replay ${manifest.seq}`);

    const replayed = await cli(["dead-letters", "replay", String(manifest.seq), "--json"]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(json(replayed)).toMatchObject({ seq: manifest.seq, consumer: "manifest", subject });
    const gone = await cli(["dead-letters", "show", String(manifest.seq)]);
    expect(gone.code).toBe(5);
    expect(gone.stderr).toMatch(/answered 404 E_DEAD_LETTER_NOT_FOUND/);
  });
});

describe("veriflow dev publish", () => {
  it("publishes through the local stack found in local-stack.json; the printed verify is OK", async () => {
    const { path } = await fileWith("dev");
    const r = await cli(["dev", "publish", path, "--data-dir", dataDir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r);
    expect(out).toMatchObject({ registry: sys.registry, chainId: sys.chain.chainId, creator: sys.chain.accounts[0]!.address, registration: { action: "registered" } });
    expect(out.manifestUri).toMatch(new RegExp(`^${sys.manifests.url}/manifests/`));
    expect(out.verifyCommand).toBe(`veriflow verify ${path} --manifest ${out.manifestUri} --registry ${sys.registry} --wait`);

    const verified = await cli(["verify", path, "--manifest", out.manifestUri, "--registry", out.registry, "--wait", "--json"]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(json(verified).result).toMatchObject({ status: "OK", recovered: sys.chain.accounts[0]!.address });

    const again = await cli(["dev", "publish", path, "--data-dir", dataDir, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(json(again)).toMatchObject({ manifestUri: out.manifestUri, registration: { action: "unchanged" } });
  });

  it("--ipfs: the manifest on the local IPFS gateway, found by VERIFLOW_DATA_DIR; human output ends with the command", async () => {
    const { path } = await fileWith("devipfs");
    const r = await cli(["dev", "publish", path, "--ipfs"], { VERIFLOW_DATA_DIR: dataDir });
    expect(r.code, r.stderr).toBe(0);
    const command = /^  (veriflow verify .*)$/m.exec(r.stdout)?.[1];
    expect(command).toMatch(/--manifest ipfs:\/\/\S+ /);
    const args = command!.split(" ").slice(1);
    const verified = await cli([...args, "--json"]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(json(verified).result.status).toBe("OK");
  });

  it("another account's key cannot take over a registered file (exit 2); no local stack: exit 5", async () => {
    const { path } = await fileWith("devother");
    expect((await cli(["dev", "publish", path, "--data-dir", dataDir])).code).toBe(0);
    const other = await cli(["dev", "publish", path, "--data-dir", dataDir, "--key", sys.chain.accounts[1]!.privateKey]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/already registered by 0xf39F/i);

    const none = await cli(["dev", "publish", path, "--data-dir", join(dir, "nowhere")]);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/no local stack found .* start one with `npm start`/);
  });
});
