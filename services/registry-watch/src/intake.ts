import { firstOfEachId, runOf, tenantOf, type AnyEnvelope, type KnownVerdict, type KnownVerdictQuestion } from "@veriflow/events";
import type { KnownVerdictStore } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { changedEvent, knownVerdictOf, verdictChanged, verdictOf } from "./handlers.js";
import { armRecheck, followRegistry, lockWatchedJob, recordVerdict, rememberRun, stopWatch } from "./store.js";

export interface IntakeDeps {
  sql: Sql;
  log: Logger;
  /** Publishes the verification.changed events a batch causes (ids derived: a redelivery republishes the same). */
  publish(events: readonly AnyEnvelope[]): Promise<void>;
  now(): Date;
  /** Where completed runs' verdicts are kept for answering again (the known-verdicts bucket). */
  knownVerdicts?: Pick<KnownVerdictStore, "record">;
}

/**
 * The consumer's batch handler, in one transaction: remembers each job's latest run
 * (content.hashed) and the verdict of its latest completed run, remembers stopped watches
 * (watch.stopped), arms its next scheduled
 * re-check when a run ends (recheckEvery), learns the registries verdicts
 * were read from (they are followed from the verdict's block), and when a later run's verdict
 * differs from the one before, publishes verification.changed before the commit (a failed
 * publish rolls back and the batch comes again, with the same ids). Once committed, each
 * completed run's own verdict is kept in the known verdicts, for answering the same question
 * again while its entry does not change.
 */
export function createIntake(deps: IntakeDeps): (batch: AnyEnvelope[]) => Promise<void> {
  return async (batch) => {
    const events = firstOfEachId(batch).filter((e) => e.type === "content.hashed" || e.type === "verification.completed" || e.type === "verification.failed" || e.type === "watch.stopped");
    if (events.length === 0) return;
    const known: [KnownVerdictQuestion, KnownVerdict][] = [];
    await deps.sql.begin(async (tx) => {
      const out: AnyEnvelope[] = [];
      for (const event of events) {
        if (event.type === "content.hashed") {
          const { request, contentHash, jobId } = event.data;
          // A per-job RPC endpoint reads another chain than the one followed here.
          if (request.rpcUrl !== null) continue;
          await rememberRun(tx, { jobId, tenant: tenantOf(event), contentHash, registryAddress: request.registryAddress, manifestUri: request.manifestUri, run: runOf(event), hashed: event });
          continue;
        }
        if (event.type === "watch.stopped") {
          await stopWatch(tx, event.data.jobId, new Date(event.data.stoppedAt));
          deps.log.info({ jobId: event.data.jobId }, "watch stopped");
          continue;
        }
        if (event.type === "verification.failed") {
          // A failed run (a re-check whose manifest is gone, say) still comes back on schedule.
          await armRecheck(tx, event.data.jobId, runOf(event), new Date(event.occurredAt));
          continue;
        }
        const completed = event;
        const job = await lockWatchedJob(tx, completed.data.jobId);
        if (!job) continue;
        const run = runOf(completed);
        const verdict = verdictOf(completed.data.result);
        // A stopped watch's last run (started before the stop) reports nothing.
        if (!job.stopped && job.verdict && job.verdictRun !== null && job.verdictRun < run && verdictChanged(job.verdict, verdict)) {
          out.push(changedEvent(completed, job.verdict, deps.now()));
          deps.log.info({ jobId: job.jobId, run, from: job.verdict.status, to: verdict.status }, "verdict changed");
        }
        await recordVerdict(tx, job.jobId, run, verdict, new Date(completed.occurredAt));
        await armRecheck(tx, job.jobId, run, new Date(completed.occurredAt));
        await followRegistry(tx, job.registryAddress, (verdict.blockNumber ?? 0) + 1);
        const record = knownVerdictOf(job.jobId, run, completed.data.result);
        if (record) known.push([{ tenant: job.tenant, jobType: completed.data.jobType, registryAddress: job.registryAddress, contentHash: job.contentHash, manifestUri: job.manifestUri }, record]);
      }
      if (out.length > 0) await deps.publish(out);
    });
    await keepKnown(deps, known);
  };
}

/**
 * Best effort: a verdict not kept costs the next identical job a full run, so a failed write is
 * logged, not retried (retrying the batch would re-run the transaction for a cache).
 */
async function keepKnown(deps: IntakeDeps, known: readonly [KnownVerdictQuestion, KnownVerdict][]): Promise<void> {
  if (!deps.knownVerdicts) return;
  for (const [question, verdict] of known) {
    try {
      await deps.knownVerdicts.record(question, verdict);
    } catch (err) {
      deps.log.warn({ err, jobId: verdict.jobId }, "known verdict not kept");
    }
  }
}
