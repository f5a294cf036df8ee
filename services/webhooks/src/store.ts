import type { Sql, TransactionSql } from "@veriflow/pg";

/** A pool or a transaction: the intake runs several of these functions in one transaction. */
export type Db = Sql | TransactionSql;
import type { JobCallback, NewDelivery, SubscriptionTarget } from "./handlers.js";

/** A subscription as stored (its secret, sealed, is read only to sign deliveries, never listed). */
export interface Subscription {
  id: string;
  tenant: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  createdAt: Date;
}

export type DeliveryStatus = "pending" | "delivered" | "failed" | "gone" | "cancelled";
export type AttemptOutcome = "delivered" | "retry" | "failed" | "gone";

export interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  jobId: string;
  tenant: string;
  target: string;
  subscriptionId: string | null;
  url: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
}

export interface Attempt {
  deliveryId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  outcome: AttemptOutcome;
  nextAttemptAt: Date | null;
}

/** A due delivery, leased to one worker, with what it needs to sign and send. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  tenant: string;
  target: string;
  subscriptionId: string | null;
  url: string;
  body: string;
  /** The number of this attempt (1 for the first). */
  attempt: number;
  /** A subscription's secret: sealed, or (a row from before sealing, not sealed yet) clear; both null for a job callback. */
  secretCiphertext: string | null;
  secret: string | null;
  /** A job callback's tenant's signing secrets, sealed (signing-secrets.ts); null before the tenant has any, or for a subscription. */
  signingCiphertext: string | null;
  /** The secret a rotation replaced, while it still signs. */
  previousSigningCiphertext: string | null;
  /** The subscription was deleted since: the delivery is cancelled, not sent. */
  subscriptionDeleted: boolean;
}

const SUBSCRIPTION_COLUMNS = "id, tenant, url, event_types, description, created_at";
const DELIVERY_COLUMNS =
  "id, event_id, event_type, job_id, tenant, target, subscription_id, url, status, attempt_count, next_attempt_at, last_status_code, last_error, created_at, expires_at, completed_at";

/** A subscription's secret is sealed for that subscription only (secret-box.ts). */
export const subscriptionSecretContext = (id: string) => `subscription:${id}`;

export async function insertSubscription(sql: Db, s: Omit<Subscription, "createdAt"> & { secretCiphertext: string }): Promise<Subscription> {
  const [row] = await sql<Subscription[]>`
    insert into webhook_subscriptions (id, tenant, url, event_types, secret_ciphertext, description)
    values (${s.id}, ${s.tenant}, ${s.url}, ${sql.array(s.eventTypes)}, ${s.secretCiphertext}, ${s.description})
    returning ${sql.unsafe(SUBSCRIPTION_COLUMNS)}`;
  return row!;
}

/** A tenant's active subscription; another tenant's is none. */
export async function getSubscription(sql: Db, id: string, tenant: string): Promise<Subscription | null> {
  const [row] = await sql<Subscription[]>`
    select ${sql.unsafe(SUBSCRIPTION_COLUMNS)} from webhook_subscriptions where id = ${id} and tenant = ${tenant} and deleted_at is null`;
  return row ?? null;
}

/** A tenant's active subscriptions, newest first, with their total. */
export async function listSubscriptions(sql: Db, tenant: string, page: { limit: number; offset: number }): Promise<{ subscriptions: Subscription[]; total: number }> {
  const rows = await sql<(Subscription & { total: string })[]>`
    select ${sql.unsafe(SUBSCRIPTION_COLUMNS)}, count(*) over () as total
    from webhook_subscriptions where tenant = ${tenant} and deleted_at is null
    order by created_at desc, id desc limit ${page.limit} offset ${page.offset}`;
  return { subscriptions: rows.map(({ total: _, ...s }) => s), total: rows.length > 0 ? Number(rows[0]!.total) : 0 };
}

/** Marks a tenant's subscription deleted and cancels its pending deliveries; false when it had none. */
export async function deleteSubscription(sql: Db, id: string, tenant: string): Promise<boolean> {
  const rows = await sql<{ id: string }[]>`
    with deleted as (
      update webhook_subscriptions set deleted_at = now() where id = ${id} and tenant = ${tenant} and deleted_at is null returning id
    ), cancelled as (
      update webhook_deliveries set status = 'cancelled', next_attempt_at = null, completed_at = now()
      where subscription_id in (select id from deleted) and status = 'pending'
    )
    select id from deleted`;
  return rows.length > 0;
}

/** Active subscriptions listing any of `eventTypes`. */
export async function findSubscriptionTargets(sql: Db, eventTypes: readonly string[]): Promise<SubscriptionTarget[]> {
  if (eventTypes.length === 0) return [];
  return sql<SubscriptionTarget[]>`
    select id, tenant, url, event_types, created_at from webhook_subscriptions
    where deleted_at is null and event_types && ${sql.array([...eventTypes])}::text[]`;
}

/** Remembers jobs' callback URLs; a redelivered request changes nothing. */
export async function rememberCallbacks(sql: Db, callbacks: readonly JobCallback[]): Promise<void> {
  if (callbacks.length === 0) return;
  await sql`
    insert into webhook_job_callbacks (job_id, tenant, url)
    select c.job_id, c.tenant, c.url
    from jsonb_to_recordset(${sql.json(callbacks.map((c) => ({ job_id: c.jobId, tenant: c.tenant, url: c.url })))}) as c(job_id text, tenant text, url text)
    on conflict (job_id) do nothing`;
}

export async function findCallbacks(sql: Db, jobIds: readonly string[]): Promise<Map<string, string>> {
  if (jobIds.length === 0) return new Map();
  const rows = await sql<{ jobId: string; url: string }[]>`
    select job_id, url from webhook_job_callbacks where job_id = any(${sql.array([...jobIds])}::text[])`;
  return new Map(rows.map((r) => [r.jobId, r.url]));
}

/** The callback URL a job of `tenant` asked for; another tenant's job's is none. */
export async function getCallback(sql: Db, jobId: string, tenant: string): Promise<string | null> {
  const [row] = await sql<{ url: string }[]>`select url from webhook_job_callbacks where job_id = ${jobId} and tenant = ${tenant}`;
  return row?.url ?? null;
}

/** Creates deliveries, due at once; one per (event, target), so a replayed event adds nothing. Returns how many are new. */
export async function insertDeliveries(sql: Db, deliveries: readonly NewDelivery[], maxAgeMs: number): Promise<number> {
  if (deliveries.length === 0) return 0;
  const rows = deliveries.map((d) => ({
    id: d.id, event_id: d.eventId, event_type: d.eventType, job_id: d.jobId, tenant: d.tenant, target: d.target,
    subscription_id: d.subscriptionId, url: d.url, body: d.body,
  }));
  const inserted = await sql`
    insert into webhook_deliveries (id, event_id, event_type, job_id, tenant, target, subscription_id, url, body, next_attempt_at, expires_at)
    select d.id, d.event_id, d.event_type, d.job_id, d.tenant, d.target, d.subscription_id, d.url, d.body, now(),
      now() + ${maxAgeMs}::float8 * interval '1 millisecond'
    from jsonb_to_recordset(${sql.json(rows)}) as d(
      id uuid, event_id text, event_type text, job_id text, tenant text, target text, subscription_id uuid, url text, body text)
    order by d.event_id, d.target
    on conflict (event_id, target) do nothing
    returning id`;
  return inserted.length;
}

/**
 * Leases up to `limit` due deliveries to the caller: their due time moves `leaseMs` ahead,
 * so a worker that dies mid-attempt leaves them due again later. SKIP LOCKED lets
 * replicas claim side by side without waiting on each other.
 */
export async function claimDueDeliveries(sql: Db, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  return sql<ClaimedDelivery[]>`
    with due as (
      select id from webhook_deliveries
      where status = 'pending' and next_attempt_at <= now()
      order by next_attempt_at
      limit ${limit}
      for update skip locked
    ), claimed as (
      update webhook_deliveries d set next_attempt_at = now() + ${leaseMs}::float8 * interval '1 millisecond'
      from due
      where d.id = due.id
      returning d.id, d.event_id, d.tenant, d.target, d.subscription_id, d.url, d.body, d.attempt_count + 1 as attempt
    )
    select c.*, s.secret_ciphertext, s.secret, coalesce(s.deleted_at is not null, false) as subscription_deleted,
      t.secret_ciphertext as signing_ciphertext,
      case when t.previous_expires_at > now() then t.previous_ciphertext end as previous_signing_ciphertext
    from claimed c
      left join webhook_subscriptions s on s.id = c.subscription_id
      left join webhook_signing_secrets t on c.target in ('job', 'batch') and t.tenant = c.tenant`;
}

/** What the worker reports of one attempt: an Attempt, with the delay before a retry instead of its time. */
export interface AttemptResult extends Omit<Attempt, "nextAttemptAt"> {
  /** Used when `outcome` is retry. */
  retryDelayMs: number;
}

/** What recording an attempt did: the outcome stored and when the next attempt is due; null when the delivery was no longer pending. */
export type RecordedAttempt = { outcome: AttemptOutcome; nextAttemptAt: Date | null } | null;

/**
 * Records attempts and moves their deliveries on, in one statement for all of them:
 * delivered, gone, failed, or pending again after the delay, unless that would pass the
 * delivery's expiry (then failed). Answers in the order given; null for a delivery that
 * was no longer pending (e.g. cancelled meanwhile). One statement per batch, not per
 * attempt: with a subscriber and a callback per job, recording took two statements per
 * verification and most of PostgreSQL's added CPU (bench).
 */
export async function recordAttempts(sql: Db, attempts: readonly AttemptResult[]): Promise<RecordedAttempt[]> {
  if (attempts.length === 0) return [];
  const col = <T>(f: (a: AttemptResult) => T) => attempts.map(f);
  const rows = await sql<{ deliveryId: string; outcome: AttemptOutcome; nextAttemptAt: Date | null }[]>`
    with a as (
      select * from unnest(
        ${col((a) => a.deliveryId)}::uuid[], ${col((a) => a.attempt)}::integer[], ${col((a) => a.statusCode)}::integer[],
        ${col((a) => a.error)}::text[], ${col((a) => a.outcome)}::text[], ${col((a) => a.retryDelayMs)}::float8[],
        ${col((a) => a.startedAt.toISOString())}::timestamptz[], ${col((a) => a.durationMs)}::integer[]
      ) as a(id, attempt, status_code, error, outcome, retry_delay_ms, started_at, duration_ms)
    ), n as (
      select a.*, now() + a.retry_delay_ms * interval '1 millisecond' as next from a
    ), d as (
      update webhook_deliveries w set
        attempt_count = n.attempt,
        last_status_code = n.status_code,
        last_error = n.error,
        status = case
          when n.outcome <> 'retry' then n.outcome
          when n.next > w.expires_at then 'failed'
          else 'pending' end,
        next_attempt_at = case when n.outcome = 'retry' and n.next <= w.expires_at then n.next end,
        completed_at = case when n.outcome <> 'retry' or n.next > w.expires_at then now() end
      from n
      where w.id = n.id and w.status = 'pending'
      returning w.id, w.status, w.next_attempt_at
    )
    insert into webhook_delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, outcome, next_attempt_at)
    select d.id, n.attempt, n.started_at, n.duration_ms, n.status_code, n.error,
      case d.status when 'pending' then 'retry' else d.status end, d.next_attempt_at
    from d join n on n.id = d.id
    on conflict (delivery_id, attempt) do nothing
    returning delivery_id, outcome, next_attempt_at`;
  const byId = new Map(rows.map((r) => [r.deliveryId, { outcome: r.outcome, nextAttemptAt: r.nextAttemptAt }]));
  return attempts.map((a) => byId.get(a.deliveryId) ?? null);
}

/** Stops a delivery without an attempt (its subscription is gone). */
export async function cancelDelivery(sql: Db, id: string): Promise<void> {
  await sql`update webhook_deliveries set status = 'cancelled', next_attempt_at = null, completed_at = now() where id = ${id} and status = 'pending'`;
}

export async function listSubscriptionDeliveries(sql: Db, subscriptionId: string, page: { limit: number; offset: number }): Promise<Delivery[]> {
  return sql<Delivery[]>`
    select ${sql.unsafe(DELIVERY_COLUMNS)} from webhook_deliveries
    where subscription_id = ${subscriptionId}
    order by created_at desc, id desc limit ${page.limit} offset ${page.offset}`;
}

/** A tenant's job's callback deliveries (one per terminal event), oldest first; none for another tenant's job. */
export async function listJobDeliveries(sql: Db, jobId: string, tenant: string): Promise<Delivery[]> {
  return sql<Delivery[]>`
    select ${sql.unsafe(DELIVERY_COLUMNS)} from webhook_deliveries
    where job_id = ${jobId} and target = 'job' and tenant = ${tenant}
    order by created_at, id`;
}

/** Subscriptions whose secret is still clear (kept before secrets were sealed), a batch at a time. */
export async function findClearSecrets(sql: Db, limit: number): Promise<{ id: string; secret: string }[]> {
  return sql<{ id: string; secret: string }[]>`
    select id, secret from webhook_subscriptions where secret is not null and secret_ciphertext is null limit ${limit}`;
}

/** Keeps a subscription's secret sealed only (the clear copy is dropped in the same statement). */
export async function storeSealedSecret(sql: Db, id: string, secretCiphertext: string): Promise<void> {
  await sql`update webhook_subscriptions set secret_ciphertext = ${secretCiphertext}, secret = null where id = ${id} and secret_ciphertext is null`;
}

export async function listAttempts(sql: Db, deliveryIds: readonly string[]): Promise<Attempt[]> {
  if (deliveryIds.length === 0) return [];
  return sql<Attempt[]>`
    select delivery_id, attempt, started_at, duration_ms, status_code, error, outcome, next_attempt_at
    from webhook_delivery_attempts where delivery_id = any(${sql.array([...deliveryIds])}::uuid[])
    order by delivery_id, attempt`;
}

/** What one prune batch of deliveries deleted. */
export interface PrunedDeliveries {
  deliveries: number;
  attempts: number;
}

/**
 * Deletes up to `limit` settled deliveries (with their attempts) that settled more than
 * `maxAgeMs` ago, oldest first: `delivered` ones, or `undelivered` ones (failed, gone,
 * cancelled). Pending deliveries are never touched. Rows are picked FOR UPDATE SKIP LOCKED,
 * so replicas prune side by side.
 */
export async function pruneDeliveries(sql: Db, which: "delivered" | "undelivered", maxAgeMs: number, limit: number): Promise<PrunedDeliveries> {
  const statuses = which === "delivered" ? ["delivered"] : ["failed", "gone", "cancelled"];
  const [row] = await sql<PrunedDeliveries[]>`
    with doomed as (
      select id from webhook_deliveries
      where status = any(${sql.array(statuses)}::text[])
        and completed_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'
      order by completed_at
      limit ${limit}
      for update skip locked
    ), attempts as (
      delete from webhook_delivery_attempts a using doomed where a.delivery_id = doomed.id returning 1
    ), deliveries as (
      delete from webhook_deliveries d using doomed where d.id = doomed.id returning 1
    )
    select (select count(*) from deliveries)::integer as deliveries, (select count(*) from attempts)::integer as attempts`;
  return row ?? { deliveries: 0, attempts: 0 };
}

/**
 * Deletes up to `limit` remembered job callbacks older than `maxAgeMs` whose job has no
 * callback delivery still pending. Returns how many.
 */
export async function pruneCallbacks(sql: Db, maxAgeMs: number, limit: number): Promise<number> {
  const rows = await sql`
    with doomed as (
      select job_id from webhook_job_callbacks c
      where created_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'
        and not exists (
          select 1 from webhook_deliveries d where d.job_id = c.job_id and d.target = 'job' and d.status = 'pending')
      order by created_at
      limit ${limit}
      for update skip locked
    )
    delete from webhook_job_callbacks c using doomed where c.job_id = doomed.job_id
    returning 1`;
  return rows.length;
}

/**
 * Deletes up to `limit` subscriptions deleted more than `maxAgeMs` ago that no delivery
 * refers to any more (their deliveries were pruned first). Returns how many.
 */
export async function pruneDeletedSubscriptions(sql: Db, maxAgeMs: number, limit: number): Promise<number> {
  const rows = await sql`
    with doomed as (
      select id from webhook_subscriptions s
      where deleted_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'
        and not exists (select 1 from webhook_deliveries d where d.subscription_id = s.id)
      order by deleted_at
      limit ${limit}
      for update skip locked
    )
    delete from webhook_subscriptions s using doomed where s.id = doomed.id
    returning 1`;
  return rows.length;
}

/**
 * Deliveries not yet settled: never tried (`waiting`), tried and due again (`retrying`), and
 * when the oldest never tried was planned (a retrying one may wait hours by its schedule; a
 * waiting one should go out within seconds).
 */
export interface DeliveryBacklog {
  waiting: number;
  retrying: number;
  oldestWaitingAt: Date | null;
}

/**
 * The backlog, for the metrics, from the pending deliveries' partial index by attempts made
 * (webhook_deliveries_backlog_idx): the oldest never tried is its first entry, the counts are
 * index-only scans.
 */
export async function readDeliveryBacklog(sql: Db): Promise<DeliveryBacklog> {
  const [row] = await sql<DeliveryBacklog[]>`
    select (select count(*) from webhook_deliveries where status = 'pending' and attempt_count = 0)::int as waiting,
      (select count(*) from webhook_deliveries where status = 'pending' and attempt_count > 0)::int as retrying,
      (select min(created_at) from webhook_deliveries where status = 'pending' and attempt_count = 0) as oldest_waiting_at`;
  return row ?? { waiting: 0, retrying: 0, oldestWaitingAt: null };
}
