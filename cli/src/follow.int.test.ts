import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { JOBS_PATH } from "@veriflow/events";
import { createApiClient, type Job } from "./api.js";
import { WaitTimeoutError } from "./errors.js";
import { followJob } from "./follow.js";

// followJob against real HTTP servers that offer server-sent events the way the status
// service does (`event: job` with the REST job, then `event: end`), or offer none.
const ID = "7d0c1c5e-4a59-4b7e-9a35-0d2f8f0c9b11";
const job = (status: Job["status"], progress: number): Job =>
  ({ id: ID, type: "verify", status, progress, result: status === "completed" ? { status: "OK", reasons: [] } : null, failure: null, retryCount: 0 }) as unknown as Job;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

interface Fake {
  /** What GET /:id answers, read at each request. */
  current: Job;
  gets: number;
  /** How the events route behaves. */
  events: "none" | "stream" | "silent";
}

async function serve(fake: Fake): Promise<string> {
  server = createServer((req, res) => {
    const path = req.url ?? "";
    if (path === `${JOBS_PATH}/${ID}`) {
      fake.gets++;
      return json(res, 200, fake.current);
    }
    if (path === `${JOBS_PATH}/${ID}/events` && fake.events !== "none") {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      res.write("retry: 5000\n\n");
      if (fake.events === "silent") return void res.write(": heartbeat\n\n");
      const steps = [job("queued", 0), job("processing", 10), job("processing", 50), job("completed", 100)];
      let i = 0;
      const timer = setInterval(() => {
        const step = steps[i++]!;
        fake.current = step;
        res.write(`id: ${i}\nevent: job\ndata: ${JSON.stringify(step)}\n\n`);
        if (i === steps.length) {
          clearInterval(timer);
          res.end(`event: end\ndata: ${JSON.stringify({ jobId: ID, status: "completed" })}\n\n`);
        }
      }, 20);
      return;
    }
    json(res, 404, { error: { code: "E_NOT_FOUND", message: "no such route" }, requestId: "r" });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

describe("followJob", () => {
  it("follows server-sent events where the server offers them, using the job each event carries", async () => {
    const fake: Fake = { current: job("queued", 0), gets: 0, events: "stream" };
    const api = createApiClient({ url: await serve(fake) });
    const seen: string[] = [];
    const { job: done, via } = await followJob(api, ID, { onUpdate: (j) => seen.push(`${j.status}/${j.progress}`), timeoutMs: 5000 });
    expect(via).toBe("sse");
    expect(done).toMatchObject({ status: "completed", result: { status: "OK" } });
    expect(seen).toEqual(["queued/0", "processing/10", "processing/50", "completed/100"]);
    expect(fake.gets).toBeLessThanOrEqual(2); // the read after subscribing (and maybe the safety poll's first)
  });

  it("polls where the server has no events route", async () => {
    const fake: Fake = { current: job("processing", 10), gets: 0, events: "none" };
    const api = createApiClient({ url: await serve(fake) });
    setTimeout(() => (fake.current = job("completed", 100)), 300);
    const { job: done, via } = await followJob(api, ID, { timeoutMs: 5000, pollMs: 50 });
    expect(via).toBe("poll");
    expect(done.status).toBe("completed");
    expect(fake.gets).toBeGreaterThan(1);
  });

  it("a stream that stays silent cannot hang the wait: the slow poll beside it sees the end", async () => {
    const fake: Fake = { current: job("processing", 10), gets: 0, events: "silent" };
    const api = createApiClient({ url: await serve(fake) });
    setTimeout(() => (fake.current = job("completed", 100)), 200);
    const { job: done } = await followJob(api, ID, { timeoutMs: 5000, ssePollMs: 100 });
    expect(done.status).toBe("completed");
  });

  it("--timeout holds while nothing changes", async () => {
    const fake: Fake = { current: job("processing", 10), gets: 0, events: "silent" };
    const api = createApiClient({ url: await serve(fake) });
    const err = await followJob(api, ID, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ jobId: ID, lastStatus: "processing" });
  });
});
