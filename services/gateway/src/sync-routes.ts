import multer from "@koa/multer";
import type { Context, Middleware, Next } from "koa";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { newJobId, type JobType } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { watchTerminal } from "./await-terminal.js";
import type { Logger } from "@veriflow/platform";
import { createHashingStorage, type FallbackVerifier, type HashedFile } from "./fallback-verifier.js";
import type { QueueHealth } from "./queue-health.js";
import { uploadError } from "./routes.js";
import { parseSubmission, type SubmissionPolicy } from "./submission.js";
import { answerOutcome, clientGone, parseWait } from "./sync-wait.js";

export interface SyncDeps {
  nats: { nc: NatsConnection; jsm: JetStreamManager };
  health: QueueHealth;
  verifier: FallbackVerifier;
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
  const hashing = multer({
    storage: createHashingStorage(),
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 16, fieldSize: 16 * 1024, parts: 24 },
  });

  /** The old system's answer when its queue was down: verify now, `{ mode: "sync", result }`. */
  async function verifyInProcess(ctx: Context, jobType: JobType): Promise<void> {
    ctx.set("x-veriflow-mode", "fallback"); // on errors too: they come from the in-process path
    if (!ctx.is("multipart/form-data")) {
      throw new HttpError("E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
    }
    try {
      await hashing.single("file")(ctx, async () => {});
    } catch (err) {
      throw uploadError(err, deps.maxUploadBytes);
    }
    const file = ctx.file as unknown as HashedFile | undefined;
    if (!file) throw new HttpError("E_FILE_REQUIRED", 'a file is required in the multipart field "file"');
    const request = parseSubmission(jobType, ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>, deps.policy);
    const started = Date.now();
    const result = await withDeadline(deps.verifier.verify(request, file.contentHash), deps.syncTimeoutMs);
    deps.log.info({ jobType, contentHash: file.contentHash, size: file.size, status: result.status, ms: Date.now() - started }, "verified in-process (queue unavailable)");
    ctx.status = 200;
    ctx.body = { mode: "sync", result };
  }

  function submission(jobType: JobType, mode: "sync" | "async"): Middleware {
    return async (ctx: Context, next: Next) => {
      const waitMs = mode === "sync" ? deps.syncTimeoutMs : parseWait(ctx.query.wait, deps.syncTimeoutMs);
      // Decided before the body is read: the file part can be consumed only once.
      if (!deps.health.usable()) return verifyInProcess(ctx, jobType);
      if (waitMs === null) return guard(next);
      const jobId = newJobId();
      ctx.state.jobId = jobId;
      // Subscribed before the request is published: the outcome can't slip past.
      const watch = watchTerminal(deps.nats, jobId);
      try {
        await guard(next);
        if (ctx.status !== 202) return;
        answerOutcome(ctx, jobId, await watch.wait({ timeoutMs: waitMs, signal: clientGone(ctx) }));
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
  const statsUrl = `${deps.statusUrl.replace(/\/+$/, "")}/api/verification-jobs/stats`;
  const stats: Middleware = async (ctx) => {
    ctx.set("cache-control", "no-store");
    let res: Response;
    try {
      res = await fetch(statsUrl, {
        headers: { accept: "application/json", "x-request-id": String(ctx.state.requestId ?? "") },
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

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError("E_VERIFY_TIMEOUT", `the verification did not finish within ${ms} ms`, { expose: true })), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
