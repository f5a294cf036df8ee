import type { Context, Middleware, Next } from "koa";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { JOBS_PATH, newJobId, type JobType } from "@veriflow/events";
import { findTerminalEvent, watchTerminal } from "./await-terminal.js";
import type { Logger } from "@veriflow/platform";
import { createHashingStorage, fallbackAnswer, type FallbackPipeline, type HashedFile } from "./fallback-pipeline.js";
import { createMultipart, receiveUpload } from "./multipart.js";
import type { QueueHealth } from "./queue-health.js";
import { checkFieldsSoFar, parseSubmission, type SubmissionPolicy } from "./submission.js";
import { credentialsOf } from "./status-proxy.js";
import { answerOutcome, clientGone, parseWait } from "./sync-wait.js";

export interface SyncDeps {
  nats: { nc: NatsConnection; jsm: JetStreamManager };
  health: QueueHealth;
  fallback: FallbackPipeline;
  log: Logger;
  policy: SubmissionPolicy;
  maxUploadBytes: number;
  /** The longest a request waits for its job (GATEWAY_SYNC_TIMEOUT_MS); also caps `?wait=`. */
  syncTimeoutMs: number;
  statusUrl: string;
}

export interface SyncSupport {
  /**
   * Mounted in front of the queue's submit middleware (which reads the preset
   * `ctx.state.jobId`). "sync" (POST /api/verify, /api/proof) always waits; "async"
   * (the job routes) waits only with `?wait=`. When the queue is unusable it answers
   * from the in-process fallback and never calls the submit middleware.
   */
  submission(jobType: JobType, mode: "sync" | "async"): Middleware;
  /** GET /api/verification-jobs/stats: the status service's counts, `available: false` while the queue is down. */
  stats: Middleware;
}

export function createSyncSupport(deps: SyncDeps): SyncSupport {
  const hashing = createMultipart(createHashingStorage(), deps.maxUploadBytes);

  /** The old system's answer when its queue was down: verify now, `{ mode: "sync", result }`. */
  async function verifyInProcess(ctx: Context, jobType: JobType): Promise<void> {
    ctx.set("x-veriflow-mode", "fallback"); // on errors too: they come from the in-process path
    const release = deps.fallback.admit();
    try {
      await verifyAdmitted(ctx, jobType);
    } finally {
      release();
    }
  }

  async function verifyAdmitted(ctx: Context, jobType: JobType): Promise<void> {
    const checkFields = (fields: Record<string, unknown>) => checkFieldsSoFar(jobType, fields, deps.policy);
    const { file, fields } = await receiveUpload<HashedFile>(ctx, hashing, deps.maxUploadBytes, checkFields);
    const request = parseSubmission(jobType, fields, deps.policy);
    const started = Date.now();
    const ingested = { ...file, fileName: file.originalname || null, contentType: file.mimetype || null };
    const run = await deps.fallback.verify(request, ingested, { timeoutMs: deps.syncTimeoutMs, signal: clientGone(ctx) });
    const answer = fallbackAnswer(run, request);
    deps.log.info({ jobType, contentHash: file.contentHash, size: file.size, status: answer.result.status, ms: Date.now() - started }, "verified in-process (queue unavailable)");
    ctx.status = 200;
    ctx.body = { mode: "sync", ...answer };
  }

  function submission(jobType: JobType, mode: "sync" | "async"): Middleware {
    return async (ctx: Context, next: Next) => {
      const waitMs = mode === "sync" ? deps.syncTimeoutMs : parseWait(ctx.query.wait, deps.syncTimeoutMs);
      // Decided before the body is read: the file part can be consumed only once.
      if (!(await deps.health.decide())) return verifyInProcess(ctx, jobType);
      if (waitMs === null) return guard(next);
      const jobId = newJobId();
      ctx.state.jobId = jobId;
      ctx.state.waits = true; // a client on the line: interactive work (job-priority.ts)
      // Subscribed before the request is published: the outcome can't slip past.
      let watch = watchTerminal(deps.nats, jobId);
      try {
        await guard(next);
        if (ctx.status !== 202) return;
        // An Idempotency-Key repeat answers an earlier job: wait for that one, which may be done already.
        const answeredId = ctx.state.jobId as string;
        if (answeredId !== jobId) {
          watch.close();
          watch = watchTerminal(deps.nats, answeredId);
          const done = await findTerminalEvent(deps.nats.jsm, answeredId);
          if (done) return answerOutcome(ctx, answeredId, done);
        }
        answerOutcome(ctx, answeredId, await watch.wait({ timeoutMs: waitMs, signal: clientGone(ctx) }));
      } finally {
        watch.close();
      }
    };
  }

  /** Runs the queue path; an "unreachable" failure switches later submissions to the fallback. */
  async function guard(next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      deps.health.reportFailure(err);
      throw err;
    }
  }

  const unknownCounts = { available: false, waiting: null, active: null, completed: null, failed: null };
  const statsUrl = `${deps.statusUrl.replace(/\/+$/, "")}${JOBS_PATH}/stats`;
  const stats: Middleware = async (ctx) => {
    ctx.set("cache-control", "no-store");
    let res: Response;
    try {
      res = await fetch(statsUrl, {
        headers: { accept: "application/json", "x-request-id": String(ctx.state.requestId ?? ""), ...credentialsOf(ctx) },
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      deps.log.warn({ err }, "status service unreachable: stats unknown");
      ctx.body = unknownCounts;
      return;
    }
    if (res.status >= 500) {
      ctx.body = unknownCounts;
      return;
    }
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (res.status !== 200 || body === null) {
      ctx.status = res.status;
      ctx.body = body ?? unknownCounts;
      return;
    }
    // The status service sees its own NATS connection; the gateway's may be down alone.
    ctx.body = { ...body, available: body.available === true && deps.health.usable() };
  };

  return { submission, stats };
}
