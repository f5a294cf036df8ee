import { pipeline, type EventType } from "@veriflow/events";
import type { Sql } from "@veriflow/pg";

/** One minute of a tenant's finished jobs. */
export interface MinuteCount {
  /** The minute's start. */
  minute: Date;
  completed: number;
  failed: number;
}

/** How long one stage took, from the event it consumed to the one it produced. */
export interface StageLatency {
  stage: string;
  p50Ms: number;
  p95Ms: number;
  /** Steps measured (one per job and run that passed the stage). */
  samples: number;
}

/**
 * A tenant's completions and failures per minute since `since` (minutes with none are absent):
 * a range of verification_jobs_tenant_finished_idx (migration 008), an index-only scan of that
 * window's rows whatever the table holds.
 */
export async function countFinishedByMinute(sql: Sql, tenant: string, since: Date): Promise<MinuteCount[]> {
  return sql<MinuteCount[]>`
    select date_trunc('minute', completed_at) as minute,
      (count(*) filter (where status = 'completed'))::integer as completed,
      (count(*) filter (where status = 'failed'))::integer as failed
    from verification_jobs
    where tenant = ${tenant} and status in ('completed', 'failed') and completed_at >= ${since}
    group by 1 order by 1`;
}

/**
 * Each stage's p50 and p95, over the tenant's `sample` most recently finished jobs: the time
 * from the event a stage consumes to the one it produces, within one run of a job (a retry's
 * run is measured on its own). The sample is the newest end of the same index, and its events
 * are read by job id (verification_job_events_job_idx): a bounded read at any table size.
 */
export async function measureStageLatencies(sql: Sql, tenant: string, sample: number): Promise<StageLatency[]> {
  const rows = await sql<{ consumed: EventType; produced: EventType; p50: number; p95: number; samples: number }[]>`
    with recent as (
      select id from verification_jobs
      where tenant = ${tenant} and status in ('completed', 'failed') and completed_at is not null
      order by completed_at desc limit ${sample}
    ), steps as (
      select e.type as produced, e.occurred_at,
        lag(e.type) over w as consumed, lag(e.occurred_at) over w as consumed_at
      from verification_job_events e join recent r on r.id = e.job_id
      window w as (partition by e.job_id, e.run order by e.occurred_at, e.recorded_at)
    )
    select consumed, produced,
      percentile_cont(0.5) within group (order by extract(epoch from occurred_at - consumed_at) * 1000)::float8 as p50,
      percentile_cont(0.95) within group (order by extract(epoch from occurred_at - consumed_at) * 1000)::float8 as p95,
      count(*)::integer as samples
    from steps where consumed is not null group by consumed, produced`;
  return pipeline.stages.flatMap((stage) => {
    const steps = rows.filter((r) => r.consumed === stage.consumes && (stage.produces as readonly string[]).includes(r.produced));
    if (steps.length === 0) return [];
    // A stage may produce more than one type (chain-check: a verdict, or a job sent back): the busiest one speaks for it.
    const main = steps.reduce((a, b) => (b.samples > a.samples ? b : a));
    return [{ stage: stage.service, p50Ms: Math.round(main.p50), p95Ms: Math.round(main.p95), samples: main.samples }];
  });
}
