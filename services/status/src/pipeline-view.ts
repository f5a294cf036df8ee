import type { Router } from "@koa/router";
import { PIPELINE_PATH } from "@veriflow/events";
import { createRouter, principalOf, requireScope } from "@veriflow/http";
import { backlogOf, type DeadLetterCounts, type PipelineConsumer } from "@veriflow/nats";
import { databaseErrors, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import type { Logger } from "@veriflow/platform";
import { countFinishedByMinute, measureStageLatencies } from "./pipeline-stats.js";

/** What the pipeline view reads from NATS (service.ts); both system-wide. */
export interface PipelineSources {
  consumers: () => Promise<PipelineConsumer[]>;
  deadLetters: () => Promise<DeadLetterCounts>;
}

export interface PipelineViewDeps {
  sql: Sql;
  log: Logger;
  sources: PipelineSources;
  database?: DatabaseReadiness;
  /** The throughput window (default one hour). */
  windowMs?: number;
  /** Finished jobs the stage latencies are measured over (default 200). */
  latencySample?: number;
}

/** A consumer as the view shows it: how much work waits, how much is in hand. */
export function toApiConsumer(c: PipelineConsumer) {
  const info = c.info;
  return {
    service: c.service,
    durable: c.durable,
    kind: c.kind,
    priority: c.priority,
    exists: info !== null,
    /** Delivered to nobody yet. */
    waiting: info?.num_pending ?? 0,
    /** Delivered, not yet acknowledged: being worked on. */
    inFlight: info?.num_ack_pending ?? 0,
    backlog: backlogOf(info),
    redelivered: info?.num_redelivered ?? 0,
    /** Messages acknowledged so far (its ack floor): two readings give its rate. */
    acked: info?.ack_floor.consumer_seq ?? 0,
  };
}

/**
 * GET /api/pipeline (`read` scope). The consumers and the dead letters' count are the whole
 * system's (NATS has no tenants: any authenticated key sees these numbers, never a job or a
 * message); throughput and latency are the caller's tenant's, from PostgreSQL. NATS not
 * answering leaves its parts null (`streamAvailable: false`) rather than failing the view;
 * PostgreSQL down is the usual 503.
 */
export function createPipelineRouter(deps: PipelineViewDeps): Router {
  const router = createRouter({ prefix: PIPELINE_PATH });
  const windowMs = deps.windowMs ?? 3_600_000;
  const sample = deps.latencySample ?? 200;
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(databaseErrors(deps.database));
  router.get("/", requireScope("read"), async (ctx) => {
    const tenant = principalOf(ctx).tenant;
    const now = new Date();
    const since = new Date(Math.floor((now.getTime() - windowMs) / 60_000) * 60_000);
    const nats = Promise.all([deps.sources.consumers(), deps.sources.deadLetters()]).catch((err: unknown) => {
      deps.log.warn({ err }, "pipeline view: NATS did not answer");
      return null;
    });
    const [fromNats, minutes, latencies] = await Promise.all([
      nats,
      countFinishedByMinute(deps.sql, tenant, since),
      measureStageLatencies(deps.sql, tenant, sample),
    ]);
    ctx.body = {
      generatedAt: now.toISOString(),
      streamAvailable: fromNats !== null,
      consumers: fromNats ? fromNats[0].map(toApiConsumer) : null,
      deadLetters: fromNats ? fromNats[1] : null,
      throughput: {
        since: since.toISOString(),
        minutes: minutes.map((m) => ({ minute: m.minute.toISOString(), completed: m.completed, failed: m.failed })),
      },
      latency: { sampleJobs: sample, stages: latencies },
    };
  });
  return router;
}
