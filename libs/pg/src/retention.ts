import { Counter } from "prom-client";
import { errorMessage } from "@veriflow/errors";
import { registerMetrics, type EnvReader, type Logger } from "@veriflow/platform";

const DAY = 86_400_000;

/** How long finished work is kept, and how the pruning runs. Ages of 0 keep rows forever. */
export interface RetentionConfig {
  /** Age (since it finished) after which a completed job, and what only it needs, is deleted. */
  completedMaxAgeMs: number;
  /** The same for failed jobs (kept longer: someone may want to look, or retry them). */
  failedMaxAgeMs: number;
  /** How often a replica looks for rows to delete. */
  intervalMs: number;
  /** Rows deleted per statement: each batch is one short transaction. */
  batchSize: number;
}

/**
 * RETENTION_COMPLETED_MS (7 days, as the old queue's removeOnComplete), RETENTION_FAILED_MS
 * (30 days), RETENTION_INTERVAL_MS (1 minute), RETENTION_BATCH_SIZE (500). An age of 0
 * keeps those rows forever.
 */
export function readRetentionConfig(r: EnvReader): RetentionConfig {
  return {
    completedMaxAgeMs: r.int("RETENTION_COMPLETED_MS", 7 * DAY, { min: 0 }),
    failedMaxAgeMs: r.int("RETENTION_FAILED_MS", 30 * DAY, { min: 0 }),
    intervalMs: r.int("RETENTION_INTERVAL_MS", 60_000, { min: 10, max: DAY }),
    batchSize: r.int("RETENTION_BATCH_SIZE", 500, { min: 1, max: 10_000 }),
  };
}

/** What one batch of a prune step did. */
export interface PruneBatch {
  /** Rows the batch picked (at most the limit): a full batch means there may be more. */
  picked: number;
  /** Rows deleted, by table. */
  deleted: Record<string, number>;
}

/** One kind of row to prune: deletes at most `limit` of them (and what hangs on them) per call. */
export interface PruneStep {
  name: string;
  prune(limit: number): Promise<PruneBatch>;
}

export const retentionDeleted = new Counter({
  name: "veriflow_retention_deleted_total",
  help: "Rows deleted by retention, by table.",
  labelNames: ["table"] as const,
  registers: [],
});

export const retentionRuns = new Counter({
  name: "veriflow_retention_runs_total",
  help: "Retention passes, by outcome (ok, failed).",
  labelNames: ["outcome"] as const,
  registers: [],
});

export interface RetentionOptions {
  steps: readonly PruneStep[];
  intervalMs: number;
  batchSize: number;
  log: Logger;
  /** Passes are skipped while false (the migrations have not run yet). */
  isReady?: () => boolean;
}

export interface Retention {
  /** One pass now: every step, batch after batch, until a batch comes back short. Rows deleted by table. */
  runOnce(): Promise<Record<string, number>>;
  /** Stops the timer and waits for a pass in progress (it ends after its current batch). */
  stop(): Promise<void>;
}

/**
 * Deletes finished rows on a timer, in batches of `batchSize`, each its own short statement
 * (the steps pick their rows with FOR UPDATE SKIP LOCKED, so any number of replicas prune side by
 * side, and never wait on the writers). Logs and counts what it deleted; a failed pass (the
 * database is down) is logged and the next one tries again.
 */
export function startRetention(opts: RetentionOptions): Retention {
  registerMetrics(retentionDeleted, retentionRuns);
  const log = opts.log.child({ component: "retention" });
  let stopped = false;
  let running: Promise<Record<string, number>> | undefined;

  const pass = async (): Promise<Record<string, number>> => {
    const total: Record<string, number> = {};
    const started = Date.now();
    for (const step of opts.steps) {
      for (let batch: PruneBatch | undefined; !stopped && (batch === undefined || batch.picked >= opts.batchSize); ) {
        batch = await step.prune(opts.batchSize);
        for (const [table, n] of Object.entries(batch.deleted)) {
          if (n === 0) continue;
          total[table] = (total[table] ?? 0) + n;
          retentionDeleted.inc({ table }, n);
        }
      }
    }
    if (Object.keys(total).length > 0) log.info({ deleted: total, ms: Date.now() - started }, "pruned");
    return total;
  };

  const runOnce = () => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const tick = async () => {
    if (opts.isReady && !opts.isReady()) return;
    try {
      await runOnce();
      retentionRuns.inc({ outcome: "ok" });
    } catch (err) {
      retentionRuns.inc({ outcome: "failed" });
      log.warn({ err: errorMessage(err) }, "retention pass failed; trying again next time");
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs);
  timer.unref();
  log.info({ intervalMs: opts.intervalMs, batchSize: opts.batchSize, steps: opts.steps.map((s) => s.name) }, "retention on");

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}

