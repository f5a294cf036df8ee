import type { Context } from "koa";
import type { Logger } from "@veriflow/platform";
import type { Job } from "./store.js";

export interface SseOptions {
  /** A comment line this often keeps proxies and idle timeouts from closing the stream. */
  heartbeatMs: number;
  /** The JSON each `job` event carries (the REST job). */
  toData: (job: Job) => unknown;
  log: Logger;
}

/**
 * Answers with Server-Sent Events: `event: job` with the job for each state (the current
 * one first), then `event: end` once the job is terminal, and the response ends. Written
 * straight to the socket (Koa steps aside), so each event leaves at once. A client that
 * goes away aborts `controller`, which ends the watch and frees its listener.
 */
export function streamJobEvents(ctx: Context, updates: AsyncGenerator<Job, void>, controller: AbortController, opts: SseOptions): void {
  const res = ctx.res;
  ctx.respond = false;
  ctx.status = 200; // for the request metrics
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no", // nginx: do not buffer
  });

  const write = (text: string) => {
    if (!res.writableEnded && !res.destroyed) res.write(text);
  };
  const send = (event: string, data: unknown, id?: string) => write(`${id ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const heartbeat = setInterval(() => write(`: heartbeat ${new Date().toISOString()}\n\n`), opts.heartbeatMs);
  const stop = () => {
    clearInterval(heartbeat);
    controller.abort();
  };
  res.once("close", stop);

  write("retry: 5000\n\n");
  void (async () => {
    let last: Job | undefined;
    try {
      for await (const job of updates) {
        last = job;
        send("job", opts.toData(job), String(job.updatedAt.getTime()));
      }
      if (!controller.signal.aborted && last) send("end", { jobId: last.id, status: last.status });
    } catch (err) {
      opts.log.warn({ err }, "job event stream failed");
      send("error", { code: "E_WATCH_FAILED", message: "the watch stopped; reconnect to resume" });
    } finally {
      stop();
      if (!res.writableEnded) res.end();
    }
  })();
}
