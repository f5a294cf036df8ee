import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_PATH } from "@veriflow/events";
import { submit } from "../support/client.js";
import { startSystem, type System } from "../support/system.js";

// Server-Sent Events through the gateway's streaming proxy, over real HTTP.
let sys: System;

beforeAll(async () => {
  // The safety-net poll is slowed to a minute: every change below arrives by notification.
  sys = await startSystem({ STATUS_SSE_HEARTBEAT_MS: "200", STATUS_WATCH_POLL_MS: "60000" });
});
afterAll(async () => {
  await sys?.stop();
});

interface SseEvent {
  event: string;
  data: any;
  id?: string;
}

/** Reads an SSE response event by event (comments are counted, not returned). */
function readEvents(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const counts = { comments: 0 };
  async function next(): Promise<SseEvent | null> {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) counts.comments += 1;
          const m = /^(\w+): ?(.*)$/.exec(line);
          if (m) fields[m[1]!] = m[2]!;
        }
        if (fields.event) return { event: fields.event, data: JSON.parse(fields.data ?? "null"), id: fields.id };
        continue;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += value;
    }
  }
  return { next, counts, cancel: () => reader.cancel() };
}

async function openWatches(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sys.services.status.opsPort}/metrics`)).text();
  return Number(/^veriflow_watch_streams\{kind="job"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function submitSample(label: string) {
  const content = `${label} ${randomBytes(16).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri });
  expect(accepted.status).toBe(202);
  return accepted.body.jobId as string;
}

const eventsUrl = (jobId: string) => `${sys.gatewayUrl}${JOBS_PATH}/${jobId}/events`;

describe(`GET ${JOBS_PATH}/:jobId/events through the gateway`, () => {
  it("streams the current state at once, then each change, then `end` when the job is terminal", async () => {
    await sys.services.hashing.stop(); // the job waits in the queue until hashing is back
    const jobId = await submitSample("sse");
    const res = await fetch(eventsUrl(jobId), { headers: { accept: "text/event-stream" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const events = readEvents(res);

    // Arrives while the job is still queued: nothing along the way buffers the stream.
    const first = await events.next();
    expect(first).toMatchObject({ event: "job", data: { id: jobId, jobId, status: "queued", progress: 0 } });

    await sys.startService("hashing");
    const seen: SseEvent[] = [first!];
    for (let e = await events.next(); e; e = await events.next()) seen.push(e);
    const jobsSeen = seen.filter((e) => e.event === "job").map((e) => e.data);
    expect(jobsSeen.at(-1)).toMatchObject({ status: "completed", progress: 100, result: { status: "OK" } });
    expect(jobsSeen.map((j) => j.progress)).toEqual([...jobsSeen.map((j) => j.progress)].sort((a, b) => a - b));
    expect(jobsSeen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toEqual({ event: "end", data: { jobId, status: "completed" }, id: undefined });
    await eventually(async () => (await openWatches()) === 0);
  });

  it("sends heartbeat comments while nothing changes", async () => {
    await sys.services.hashing.stop(); // keep the next job queued
    const jobId = await submitSample("sse heartbeat");
    const res = await fetch(eventsUrl(jobId));
    const events = readEvents(res);
    expect(await events.next()).toMatchObject({ event: "job", data: { status: "queued" } });
    await eventually(async () => {
      const racer = await Promise.race([events.next(), new Promise<null>((r) => setTimeout(() => r(null), 300))]);
      return racer === null && events.counts.comments >= 1;
    }, 3000);
    await events.cancel();
    await eventually(async () => (await openWatches()) === 0); // the client left: the server's watch is gone
    await sys.startService("hashing");
  });

  it("answers a finished job with its terminal state and `end` straight away", async () => {
    const jobId = await submitSample("sse done");
    const res = await fetch(eventsUrl(jobId));
    const events = readEvents(res);
    const all: SseEvent[] = [];
    for (let e = await events.next(); e; e = await events.next()) all.push(e);
    expect(all.at(-1)!.event).toBe("end");
    expect(all.filter((e) => e.event === "job").at(-1)!.data.status).toBe("completed");
  });

  it("404 for an unknown job and 400 for a malformed id, as JSON errors", async () => {
    const unknown = await fetch(eventsUrl("00000000-0000-4000-8000-000000000000"));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "E_JOB_NOT_FOUND" } });
    const bad = await fetch(eventsUrl("nope"));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "E_INVALID_JOB_ID" } });
  });
});
