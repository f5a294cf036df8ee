/**
 * The jobs REST API as its servers and clients share it. The path is the old queue's,
 * which clients already call (DOMAIN.md): the gateway answers it, the status and webhooks
 * services answer it behind the gateway, and the CLI, tests and benchmarks call it.
 */
export const JOBS_PATH = "/api/verification-jobs";

/** A job list's page (REST `limit`, gRPC `page_size`): 20 unless asked, never more than 100. */
export const JOBS_PAGE_SIZE = { default: 20, max: 100 } as const;

/** A job's path (its `pollUrl`), or one of its sub-resources: `jobPath(id, "events")`. */
export function jobPath(jobId: string, sub?: "events" | "history" | "deliveries" | "retry"): string {
  const path = `${JOBS_PATH}/${encodeURIComponent(jobId)}`;
  return sub === undefined ? path : `${path}/${sub}`;
}

/**
 * Batches: many files in one submission (the gateway), one job each; a batch's counts and
 * jobs are read here (the status service, behind the gateway).
 */
export const BATCHES_PATH = "/api/verification-batches";

/** A batch's path (its `pollUrl`). */
export function batchPath(batchId: string): string {
  return `${BATCHES_PATH}/${encodeURIComponent(batchId)}`;
}

/**
 * Watches: a content hash followed without uploading it again (POST at the gateway, which
 * queues it as a job given the hash); read and stopped (DELETE) at the status service, behind
 * the gateway. A watch's id is its job's id.
 */
export const WATCHES_PATH = "/api/watches";

/** A watch's path (its `pollUrl`). */
export function watchPath(watchId: string): string {
  return `${WATCHES_PATH}/${encodeURIComponent(watchId)}`;
}

/**
 * The dead letters: messages a consumer set aside (stream VERIFLOW_DLQ), listed, shown and
 * replayed by the status service behind the gateway. A dead letter is named by its sequence.
 */
export const DEAD_LETTERS_PATH = "/api/dead-letters";

/** A dead letter's path, or its replay's: `deadLetterPath(12, "replay")`. */
export function deadLetterPath(seq: number, sub?: "replay"): string {
  const path = `${DEAD_LETTERS_PATH}/${seq}`;
  return sub === undefined ? path : `${path}/${sub}`;
}

/**
 * The pipeline as an operator watches it (the dashboard's pipeline view, status service behind
 * the gateway): every consumer's backlog and in flight, the dead letters' count, and the
 * caller's tenant's throughput and stage latencies.
 */
export const PIPELINE_PATH = "/api/pipeline";

/**
 * A tenant's secret for signing its job callbacks (webhooks service, behind the gateway):
 * GET reads it (made on first use), POST `…/rotate` replaces it, the old one still signing
 * beside it for an overlap.
 */
export const WEBHOOK_SIGNING_SECRET_PATH = "/api/webhooks/signing-secret";
