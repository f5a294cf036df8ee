import { describeNetworkError, type createGuardedAgent } from "@veriflow/adapters";
import { errorMessage } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { retryDelayMs } from "./retry-schedule.js";
import { signWebhook } from "./signature.js";
import { createAttemptRecorder } from "./attempt-recorder.js";
import { cancelDelivery, claimDueDeliveries, type AttemptOutcome, type ClaimedDelivery } from "./store.js";
import { webhookAttempts } from "./metrics.js";

export interface DeliveryWorkerOptions {
  sql: Sql;
  /** The guarded agent: refuses private addresses unless allow-listed. */
  dispatcher: Dispatcher;
  log: Logger;
  /** What signs a delivery (delivery-secrets.ts): a subscription's secret, a job callback's tenant's. */
  secretsFor: (d: ClaimedDelivery) => Promise<string[]>;
  concurrency: number;
  timeoutMs: number;
  retryScheduleMs: readonly number[];
  pollIntervalMs: number;
}

export interface DeliveryWorker {
  /** Looks for due deliveries now instead of at the next poll. */
  wake(): void;
  /** Stops claiming, waits for attempts in flight. */
  stop(): Promise<void>;
}

interface AttemptReport {
  statusCode: number | null;
  error: string | null;
  outcome: AttemptOutcome;
}

/** An undici dispatcher (the guarded agent's type, from the undici version adapters ships). */
export type Dispatcher = ReturnType<typeof createGuardedAgent>;

const USER_AGENT = "veriflow-webhooks/0.1";

/** One POST of a delivery, signed with each of `secrets`: 2xx delivered, 410 gone (stop), anything else (or no answer) retry. */
export async function sendDelivery(dispatcher: Dispatcher, d: ClaimedDelivery, secrets: readonly string[], timeoutMs: number): Promise<AttemptReport> {
  const url = new URL(d.url);
  try {
    const res = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...signWebhook(secrets, d.eventId, d.body) },
      body: d.body,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
    const code = res.statusCode;
    if (code >= 200 && code < 300) return { statusCode: code, error: null, outcome: "delivered" };
    if (code === 410) return { statusCode: code, error: "the receiver answered 410 Gone: no further attempts", outcome: "gone" };
    return { statusCode: code, error: `the receiver answered ${code}`, outcome: "retry" };
  } catch (err) {
    // The guard's refusal is final: retrying cannot make a private address public.
    const refused = (err as { code?: unknown }).code === "E_MANIFEST_HOST_NOT_ALLOWED";
    if (refused) {
      return { statusCode: null, error: `refused: ${url.hostname} is or resolves to a non-public address (allow it with WEBHOOK_ALLOWED_PRIVATE_HOSTS for local use)`, outcome: "failed" };
    }
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || /timeout/i.test(err.name));
    // The code, never the message: it names the address connected to, which the API shows to clients.
    return { statusCode: null, error: timedOut ? `no answer within ${timeoutMs} ms` : describeNetworkError(err), outcome: "retry" };
  }
}



/**
 * Claims due deliveries (leased, SKIP LOCKED: replicas share the work), sends each with a
 * deadline, records every attempt. All state is in Postgres: a restart loses nothing, and
 * a lease that runs out (worker died mid-attempt) makes the delivery due again.
 */
export function startDeliveryWorker(opts: DeliveryWorkerOptions): DeliveryWorker {
  const log = opts.log.child({ component: "delivery-worker" });
  // An attempt ends by its deadline (timeoutMs) and then records itself: twice that and a few
  // seconds is enough, and a worker that dies mid-attempt holds its deliveries no longer. A
  // lease that runs out on a slow recording at worst sends again (receivers drop repeats by
  // webhook-id).
  const leaseMs = 2 * opts.timeoutMs + 5_000;
  const inFlight = new Set<Promise<void>>();
  const recorder = createAttemptRecorder(opts.sql);
  let stopping = false;
  let wakeUp: (() => void) | undefined;
  let woken = false;

  const attempt = async (d: ClaimedDelivery): Promise<void> => {
    const dlog = log.child({ deliveryId: d.id, eventId: d.eventId, target: d.target, attempt: d.attempt });
    if (d.subscriptionDeleted) return cancelDelivery(opts.sql, d.id);
    const startedAt = new Date();
    const report = await opts.secretsFor(d).then(
      (secrets) => sendDelivery(opts.dispatcher, d, secrets, opts.timeoutMs),
      // Recorded as an attempt, so the retry schedule and the delivery's expiry apply.
      (err: unknown): AttemptReport => ({ statusCode: null, error: `not sent: its signing secret could not be read: ${errorMessage(err)}`, outcome: "retry" }),
    );
    const durationMs = Date.now() - startedAt.getTime();
    const recorded = await recorder.record({
      deliveryId: d.id,
      attempt: d.attempt,
      startedAt,
      durationMs,
      ...report,
      retryDelayMs: retryDelayMs(d.attempt, opts.retryScheduleMs),
    });
    const outcome = recorded?.outcome ?? "superseded";
    webhookAttempts.inc({ outcome });
    const fields = { statusCode: report.statusCode, durationMs, outcome, nextAttemptAt: recorded?.nextAttemptAt };
    if (outcome === "delivered") dlog.debug(fields, "delivered");
    else dlog.info({ ...fields, err: report.error }, outcome === "retry" ? "delivery failed, will retry" : "delivery stopped");
  };

  const loop = (async () => {
    while (!stopping) {
      const free = opts.concurrency - inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await claimDueDeliveries(opts.sql, free, leaseMs);
        } catch (err) {
          log.warn({ err: errorMessage(err) }, "could not claim deliveries");
        }
      }
      for (const d of claimed) {
        const p = attempt(d).catch((err) => log.error({ err, deliveryId: d.id }, "delivery attempt crashed"));
        inFlight.add(p);
        void p.finally(() => {
          inFlight.delete(p);
          wakeUp?.();
        });
      }
      // A full claim means more may be due: look again at once (once a slot is free).
      if (claimed.length > 0 && claimed.length === free) {
        if (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
        continue;
      }
      if (woken) {
        woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.pollIntervalMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
      woken = false;
    }
    await Promise.allSettled(inFlight);
  })();

  log.info({ concurrency: opts.concurrency, timeoutMs: opts.timeoutMs }, "delivering");
  return {
    wake() {
      woken = true;
      wakeUp?.();
    },
    async stop() {
      stopping = true;
      wakeUp?.();
      await loop;
    },
  };
}
