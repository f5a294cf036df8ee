import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, type SubmissionServiceClient, type SubmitVerificationResponse__Output } from "@veriflow/grpc";
import { JOBS_PATH } from "@veriflow/events";
import { createSilentLogger, type RunningService } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { KEYS_PATH } from "../../services/gateway/src/key-routes.js";
import { service as gatewayService } from "../../services/gateway/src/service.js";
import { submissionServiceClient } from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// Rate limits on the whole system with two gateway replicas sharing one NATS (and so one
// counters' bucket), plus a third gateway without any key (its own key store) for anonymous clients. Every
// request comes from 127.0.0.1: one client address.
const WINDOW_S = 10;
const KEY = { submit: 6, read: 20 };
const IP = { submit: 3, read: 8 };
let sys: System;
let replicas: string[];
let open: RunningService;
let openKeys: TestDatabase;
let grpcClient: SubmissionServiceClient;
let manifestURI: string;
let content: string;

beforeAll(async () => {
  sys = await startSystem({
    API_KEYS: "key-a,key-b,key-c",
    RATE_LIMITS: `key:${KEY.submit}/${KEY.read},ip:${IP.submit}/${IP.read}`,
    RATE_LIMIT_WINDOW_MS: String(WINDOW_S * 1000),
  });
  const second = await sys.startService("gateway");
  replicas = [sys.gatewayUrl, `http://127.0.0.1:${second.port}`];
  // Open (development, no key anywhere: a key store of its own, empty), behind one trusted proxy:
  // X-Forwarded-For's last entry is the client (none sent: the socket's peer).
  openKeys = await createTestDatabase();
  open = await gatewayService.start(
    gatewayService.loadConfig({ ...sys.env, API_KEYS: "", DATABASE_URL: openKeys.url, GATEWAY_TRUSTED_PROXY_HOPS: "1" }),
    createSilentLogger(),
  );
  grpcClient = submissionServiceClient(`127.0.0.1:${second.grpcPort}`);
  content = `rate limits ${randomBytes(8).toString("hex")}`;
  manifestURI = (await sys.publish(content)).manifestUri;
});
afterAll(async () => {
  grpcClient?.close();
  await open?.stop();
  await openKeys?.drop();
  await sys?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

const read = async (base: string, key?: string, headers: Record<string, string> = {}, path = `${JOBS_PATH}?limit=1`): Promise<Answer> => {
  const res = await fetch(`${base}${path}`, { headers: { ...headers, ...(key ? { "x-api-key": key } : {}) } });
  return { status: res.status, headers: res.headers, body: await res.json() };
};

const submitRest = async (base: string, key: string): Promise<Answer> => {
  const form = new FormData();
  form.append("registryAddress", sys.registry);
  form.append("manifestURI", manifestURI);
  form.append("file", new Blob([content]), "rl.txt");
  const res = await fetch(`${base}${JOBS_PATH}/verify`, { method: "POST", body: form, headers: { "x-api-key": key } });
  return { status: res.status, headers: res.headers, body: await res.json() };
};

/** SubmitVerification, answered or refused, with the trailing metadata either way. */
function submitGrpc(key: string): Promise<{ res?: SubmitVerificationResponse__Output; err?: grpc.ServiceError; trailer: grpc.Metadata }> {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    metadata.set("x-api-key", key);
    let answer: { res?: SubmitVerificationResponse__Output; err?: grpc.ServiceError } = {};
    const call = grpcClient.submitVerification(metadata, (err, res) => (answer = err ? { err } : { res: res! }));
    call.on("status", (status: grpc.StatusObject) => setImmediate(() => resolve({ ...answer, trailer: status.metadata })));
    call.write({ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: manifestURI } });
    call.write({ chunk: Buffer.from(content) });
    call.end();
  });
}

/** Waits for the next window when fewer than `ms` are left of this one: a burst must not straddle two. */
async function awayFromWindowEnd(ms = 5000): Promise<void> {
  const left = WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000));
  if (left < ms) await new Promise((r) => setTimeout(r, left + 100));
}
const secondsToWindowEnd = () => (WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000))) / 1000;

async function limitedCount(surface: string, budget: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sys.services.gateway.opsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`veriflow_rate_limited_total{surface="${surface}",budget="${budget}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("rate limits across two gateway replicas", () => {
  it("admits one key's reads up to its limit in all over both replicas, then answers 429 with Retry-After and RateLimit headers", async () => {
    await awayFromWindowEnd();
    const before = await limitedCount("rest", "read");
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => read(replicas[i % 2]!, "key-a")));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    // Below 20 per window a slice is one request: both replicas together admit exactly the limit.
    expect(ok).toHaveLength(KEY.read);
    // Both replicas answered against the one shared limit (which one wins each slice is a race:
    // under load one replica may take all 20, and the sum above is what the limit guarantees).
    for (const replica of [0, 1]) {
      const own = answers.filter((_, i) => i % 2 === replica);
      expect(own.every((a) => a.headers.get("ratelimit-limit") === String(KEY.read)), `replica ${replica}`).toBe(true);
    }
    // Every success says what is left; each one was granted once, so together they count down to 0.
    expect(ok.map((a) => Number(a.headers.get("ratelimit-remaining"))).sort((x, y) => x - y)).toEqual([...Array(KEY.read).keys()]);
    for (const a of ok) {
      expect(a.headers.get("ratelimit-limit")).toBe(String(KEY.read));
      expect(a.headers.get("ratelimit-policy")).toBe(`${KEY.read};w=${WINDOW_S}`);
    }
    const endsIn = secondsToWindowEnd();
    for (const a of refused) {
      expect(a.status).toBe(429);
      expect(a.body.error).toMatchObject({ code: "E_RATE_LIMITED", message: expect.stringMatching(/^this API key has used its 20 requests other than submissions per 10 s; send again in \d+ s$/) });
      expect(a.body.error.details).toMatchObject({ budget: "read", limit: KEY.read, windowSeconds: WINDOW_S });
      const retryAfter = Number(a.headers.get("retry-after"));
      expect(a.headers.get("ratelimit-reset")).toBe(String(retryAfter));
      expect(a.headers.get("ratelimit-remaining")).toBe("0");
      // The window's end, in whole seconds (rounded up when it was answered).
      expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(endsIn));
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(endsIn) + 1);
    }
    expect((await limitedCount("rest", "read")) - before).toBeGreaterThanOrEqual(1); // this replica's share of the 30

    // Retry-After is honest: once it has passed, the key is admitted again, on either replica.
    await new Promise((r) => setTimeout(r, Number(refused[0]!.headers.get("retry-after")) * 1000));
    const again = await read(replicas[1]!, "key-a");
    expect(again.status).toBe(200);
    expect(again.headers.get("ratelimit-remaining")).toBe(String(KEY.read - 1));
  });

  it("counts submissions apart from reads, over REST and gRPC alike, and refuses gRPC with RESOURCE_EXHAUSTED and a retry-after trailer", async () => {
    await awayFromWindowEnd();
    const rest = await Promise.all([0, 1, 0, 1].map((i) => submitRest(replicas[i]!, "key-b")));
    expect(rest.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(rest.map((a) => Number(a.headers.get("ratelimit-remaining"))).sort()).toEqual([2, 3, 4, 5]);
    expect((await read(replicas[0]!, "key-b")).headers.get("ratelimit-remaining")).toBe(String(KEY.read - 1));

    const grpcCalls = [];
    for (let i = 0; i < 3; i++) grpcCalls.push(await submitGrpc("key-b"));
    const [first, second, third] = grpcCalls;
    expect(first!.res).toMatchObject({ mode: "async", status: "JOB_STATUS_QUEUED" });
    expect(first!.trailer.get("ratelimit-remaining")).toEqual(["1"]);
    expect(second!.trailer.get("ratelimit-remaining")).toEqual(["0"]);
    expect(third!.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(third!.err?.details).toMatch(/^this API key has used its 6 submissions per 10 s; send again in \d+ s$/);
    expect(third!.trailer.get("x-error-code")).toEqual(["E_RATE_LIMITED"]);
    const retryAfter = Number(third!.trailer.get("retry-after")[0]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_S);
    expect(third!.trailer.get("ratelimit-reset")).toEqual([String(retryAfter)]);
    expect(third!.trailer.get("grpc-retry-pushback-ms")).toEqual([String(retryAfter * 1000)]);
    // REST shares the exhausted submit budget of the key.
    expect((await submitRest(replicas[0]!, "key-b")).status).toBe(429);
    expect(await limitedCount("grpc", "submit")).toBeGreaterThanOrEqual(1);
  });

  it("limits clients without a key by their address (a trusted proxy's entry when behind one), before their key is checked, apart from clients with one", async () => {
    await awayFromWindowEnd();
    const openUrl = `http://127.0.0.1:${open.port}`;
    // An open gateway: anonymous clients are served, up to their address's limit. (A route it
    // answers itself, its key list: the job routes go on to status, whose key store has keys.)
    const readOpen = (headers: Record<string, string> = {}) => read(openUrl, undefined, headers, KEYS_PATH);
    const anonymous = await Promise.all(Array.from({ length: IP.read + 4 }, () => readOpen()));
    expect(anonymous.filter((a) => a.status === 200)).toHaveLength(IP.read);
    const refused = anonymous.find((a) => a.status === 429)!;
    expect(refused.body.error.message).toMatch(/^this client address \(127\.0\.0\.1, no API key\) has used its 8 requests/);
    expect(refused.headers.get("ratelimit-limit")).toBe(String(IP.read));
    // Through the trusted proxy, another client: the entry the proxy added, not one the client wrote before it.
    const viaProxy = { "x-forwarded-for": "198.51.100.7, 203.0.113.9" };
    const proxied = await Promise.all(Array.from({ length: IP.read + 1 }, () => readOpen(viaProxy)));
    expect(proxied.filter((a) => a.status === 200)).toHaveLength(IP.read);
    expect(proxied.find((a) => a.status === 429)!.body.error.message).toMatch(/^this client address \(203\.0\.113\.9, no API key\)/);
    // The same address on the keyed replicas: a made-up key, or none, is counted by the address too (429, not 401).
    expect((await read(replicas[0]!, "made-up")).status).toBe(429);
    expect((await read(replicas[1]!)).status).toBe(429);
    // A valid key from that address has its own budget.
    const keyed = await read(replicas[0]!, "key-c");
    expect(keyed.status).toBe(200);
    expect(keyed.headers.get("ratelimit-limit")).toBe(String(KEY.read));
  });
});
