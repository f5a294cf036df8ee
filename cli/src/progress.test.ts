import { describe, expect, it } from "vitest";
import type { Job } from "./api.js";
import { createProgressReporter, describeProgress } from "./progress.js";
import { readServerSentEvents } from "./sse.js";

const job = (status: Job["status"], progress: number, failure: Job["failure"] = null) => ({ status, progress, failure }) as Job;

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, write: (s: string) => out.push(s), isTTY, columns: 80 };
}

describe("progress on stderr", () => {
  it("not a terminal: one plain line per update, no escape codes", () => {
    const s = sink(false);
    const p = createProgressReporter(s, "job-1", { enabled: true, now: () => 0 });
    p.update(job("queued", 0));
    p.update(job("processing", 10));
    p.update(job("failed", 10, { stage: "manifest", code: "E_MANIFEST_NOT_FOUND", message: "", attempts: 1 }));
    p.done();
    expect(s.out).toEqual([
      "progress   0% queued: queued (job job-1, 0.0s)\n",
      "progress  10% processing: hashed, checking the manifest (job job-1, 0.0s)\n",
      "progress  10% failed: failed at manifest (E_MANIFEST_NOT_FOUND) (job job-1, 0.0s)\n",
    ]);
    expect(s.out.join("")).not.toContain("\x1b");
  });

  it("a terminal: a bar redrawn in place, cleared when done", () => {
    const s = sink(true);
    const p = createProgressReporter(s, "job-1", { enabled: true, now: () => 0 });
    p.update(job("processing", 50));
    p.done();
    expect(s.out[0]).toMatch(/^\r\x1b\[2K. \[█{12}░{12}\]  50% manifest checked/);
    expect(s.out.at(-1)).toBe("\r\x1b[2K");
  });

  it("--quiet: nothing", () => {
    const s = sink(true);
    const p = createProgressReporter(s, "job-1", { enabled: false });
    p.update(job("processing", 50));
    p.done();
    expect(s.out).toEqual([]);
  });

  it("describes each step of the pipeline", () => {
    expect(describeProgress(job("processing", 0))).toBe("hashing");
    expect(describeProgress(job("completed", 100))).toBe("completed");
  });
});

describe("server-sent events", () => {
  it("parses events split across chunks, multi-line data, CRLF; skips comments", async () => {
    const text = ': hello\r\n\r\nevent: progress\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: two\n\n: ping\n\ndata: unterminated';
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.slice(i, i + 7));
        c.close();
      },
    });
    const events = [];
    for await (const e of readServerSentEvents(body)) events.push(e);
    expect(events).toEqual([
      { event: "progress", data: '{"a":\n1}', id: "1" },
      { event: "message", data: "two", id: "1" },
    ]);
  });
});
