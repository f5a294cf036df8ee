import type { Context } from "koa";
import { jobPath } from "@veriflow/events";
import { badRequest } from "@veriflow/errors";
import type { TerminalEvent } from "./await-terminal.js";
import { failureError } from "./failure-status.js";

/**
 * `?wait=<seconds>` on the async routes: how long to wait for the job's outcome before
 * answering 202. Absent or 0: no wait. Capped at the sync timeout. Anything else is a 400.
 */
export function parseWait(raw: unknown, maxMs: number): number | null {
  if (raw === undefined) return null;
  if (typeof raw !== "string" || !/^\d+(\.\d+)?$/.test(raw.trim())) {
    throw badRequest("E_INVALID_WAIT", `"wait" must be a number of seconds (0 to ${maxMs / 1000}), got ${JSON.stringify(raw).slice(0, 60)}`);
  }
  const ms = Math.round(Number(raw) * 1000);
  return ms === 0 ? null : Math.min(ms, maxMs);
}

/** Aborts when the client goes away before its answer is written. */
export function clientGone(ctx: Context): AbortSignal {
  const ac = new AbortController();
  ctx.res.once("close", () => {
    if (!ctx.res.writableEnded) ac.abort();
  });
  return ac.signal;
}

/**
 * Turns a job's terminal event into the synchronous answer: 200 `{ mode: "sync", jobId,
 * result }` for a verdict (FAIL included: it is a completed job), the failure as an
 * error answer (status by code, jobId in `details`) for a failed job. Null (no outcome
 * in time) leaves the 202 the async route already set.
 */
export function answerOutcome(ctx: Context, jobId: string, outcome: TerminalEvent | null): void {
  if (outcome === null) return;
  if (outcome.type === "verification.completed") {
    ctx.status = 200;
    ctx.remove("location");
    ctx.body = { mode: "sync", jobId, result: outcome.data.result };
    return;
  }
  const { stage, code, message, attempts } = outcome.data;
  ctx.remove("location");
  // The message is the job's own `error`, which GET /api/verification-jobs/:jobId shows anyway.
  throw failureError(code, message, { jobId, stage, attempts, pollUrl: jobPath(jobId) });
}
