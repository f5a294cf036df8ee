import type { JsMsg } from "@nats-io/jetstream";
import { decodeEventFrom, type AnyEnvelope, type ConsumerSpec } from "@veriflow/events";
import { errorMessage } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { DEFAULT_SHUTDOWN_GRACE_MS, runningLoopOver, type RunningLoop } from "./consume-loop.js";
import { deadLetter, isReplayForAnother } from "./dead-letter.js";
import { handlerSeconds, messagesHandled, observeStageDuration, registerConsumerMetrics } from "./metrics.js";
import type { NatsClients } from "./nats.js";
import { startPullSession } from "./pull-session.js";
import { runTracedBatch, traceIdOfMessage } from "./trace-batch.js";
import { TRACING_OFF, type Tracing } from "@veriflow/tracing";
import type { TopologyConfig } from "./topology.js";

export interface BatchConsumeLoopOptions {
  nats: NatsClients;
  /** How the stream and consumer are (re)created if they disappear while running. */
  topology: TopologyConfig;
  consumer: ConsumerSpec;
  /** Applies a batch atomically; throwing rolls it back (see `isUnavailable` for what happens next). */
  handleBatch: (events: AnyEnvelope[], delivery: BatchDelivery) => Promise<void>;
  /**
   * True for a failure that says the store cannot serve now (down, overloaded): the batch is
   * retried whole after a backoff and nothing is counted against its events. Any other
   * failure is taken as caused by some event of the batch, which is then isolated.
   */
  isUnavailable: (err: unknown) => boolean;
  /** Deliveries on which an event failed on its own before it is dead-lettered. */
  maxAttempts: number;
  log: Logger;
  /** The service's tracing: each batch written in a span linked to its events' traces (TRACING_OFF when not given). */
  tracing?: Tracing;
  maxBatch: number;
  /**
   * How long the first event to arrive at an idle loop waits for others before its batch is
   * written (0: at once). Events that arrive while a batch is written never wait: they form
   * the next one. A few ms turn a trickle of one-event transactions into batches of several.
   */
  lingerMs?: number;
  backoff: BackoffPolicy;
  /** How long stop() lets a batch being written finish before nak'ing it (default 15 s). */
  shutdownGraceMs?: number;
  /** Pull request expiry and consumer check interval (tests shorten them). */
  pullExpiresMs?: number;
  checkIntervalMs?: number;
}

/** What a batch handler may need to know about how its events arrived. */
export interface BatchDelivery {
  /**
   * True for an event delivered before: its first delivery failed, was retried after a
   * backoff, or went down with a killed consumer. Events after it in the stream may then
   * have been applied before it; first deliveries always arrive in stream order.
   */
  redelivered(event: AnyEnvelope): boolean;
}

interface Item {
  msg: JsMsg;
  event: AnyEnvelope;
}

/**
 * For projections: takes whatever has arrived (up to maxBatch) as one batch, so a busy
 * stream is written in large transactions and a quiet one with no added latency; the next
 * batch is pulled while one is written (at most 2 × maxBatch held, all kept in progress).
 *
 * One bad event never holds the others back. A batch that fails for another reason than an
 * unavailable store is split in halves, recursively, until the events that fail alone are
 * found; every other event is applied and acked at once. An event failing alone is
 * retried with backoff, and after `maxAttempts` deliveries goes to the dead-letter stream
 * with the failure as its reason, and is terminated. A store outage only delays events:
 * it never counts as an event's failure.
 */
export async function runBatchConsumeLoop(opts: BatchConsumeLoopOptions): Promise<RunningLoop> {
  registerConsumerMetrics();
  const name = opts.consumer.durable;
  const log = opts.log.child({ consumer: name });
  const pending: JsMsg[] = [];
  let writing: Promise<void> | null = null;
  let stopping = false;
  const lingerMs = opts.lingerMs ?? 0;
  /** When the batch being gathered at an idle loop is written at the latest (0: not lingering). */
  let lingerUntil = 0;
  let lingerTimer: NodeJS.Timeout | undefined;

  const settle = (msg: JsMsg, how: "ack" | "term" | number) => {
    if (how === "ack") msg.ack();
    else if (how === "term") msg.term();
    else msg.nak(how);
    session.release(msg);
  };

  const deadLetterOne = async (item: Pick<Item, "msg">, reason: unknown) => {
    const stored = await deadLetter(opts.nats.js, name, item.msg, reason, log);
    settle(item.msg, stored ? "term" : backoffDelay(item.msg.info.deliveryCount, opts.backoff));
    messagesHandled.inc({ consumer: name, outcome: stored ? "dead_letter" : "retry" });
  };

  /** Applies items; on failure isolates the ones that fail alone. Settles every item. */
  const apply = async (items: Item[]): Promise<void> => {
    try {
      const again = new Set(items.filter((i) => i.msg.info.redelivered).map((i) => i.event.id));
      await runTracedBatch(opts.tracing ?? TRACING_OFF, name, items, () =>
        opts.handleBatch(
          items.map((i) => i.event),
          { redelivered: (e) => again.has(e.id) },
        ),
      );
      for (const i of items) {
        settle(i.msg, "ack");
        observeStageDuration(name, i.event, "ok");
      }
      messagesHandled.inc({ consumer: name, outcome: "ok" }, items.length);
      return;
    } catch (err) {
      if (opts.isUnavailable(err)) {
        const delay = backoffDelay(Math.max(...items.map((i) => i.msg.info.deliveryCount)), opts.backoff);
        for (const i of items) settle(i.msg, delay);
        messagesHandled.inc({ consumer: name, outcome: "retry" }, items.length);
        log.warn({ err: errorMessage(err), size: items.length, delayMs: delay }, "store unavailable, batch retried later");
        return;
      }
      if (items.length > 1) {
        const half = Math.ceil(items.length / 2);
        await apply(items.slice(0, half));
        await apply(items.slice(half));
        return;
      }
      const [one] = items as [Item];
      const attempt = one.msg.info.deliveryCount;
      const elog = log.child({ jobId: one.event.correlationId, traceId: traceIdOfMessage(one.msg), eventId: one.event.id, type: one.event.type, attempt });
      if (attempt >= opts.maxAttempts) {
        elog.error({ err: errorMessage(err) }, "event keeps failing on its own: dead-lettering it");
        await deadLetterOne(one, err);
        return;
      }
      const delay = backoffDelay(attempt, opts.backoff);
      settle(one.msg, delay);
      messagesHandled.inc({ consumer: name, outcome: "retry" });
      elog.warn({ err: errorMessage(err), delayMs: delay }, "event fails on its own, retrying it");
    }
  };

  const write = async (batch: JsMsg[]) => {
    const items: Item[] = [];
    for (const msg of batch) {
      if (isReplayForAnother(msg, name)) {
        msg.ack();
        continue;
      }
      try {
        items.push({ msg, event: decodeEventFrom(msg.subject, msg.data) });
      } catch (err) {
        await deadLetterOne({ msg }, err);
      }
    }
    if (items.length === 0) return;
    const timer = handlerSeconds.startTimer({ consumer: name });
    try {
      await apply(items);
    } finally {
      timer();
    }
  };

  const next = () => {
    if (writing || pending.length === 0 || stopping) return;
    if (pending.length < opts.maxBatch && Date.now() < lingerUntil) {
      lingerTimer ??= setTimeout(() => {
        lingerTimer = undefined;
        next();
      }, lingerUntil - Date.now());
      return;
    }
    lingerUntil = 0;
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
    writing = write(pending.splice(0, opts.maxBatch))
      .catch((err) => log.error({ err }, "batch processing crashed"))
      .finally(() => {
        writing = null;
        next();
      });
  };

  const session = await startPullSession({
    nats: opts.nats,
    consumer: opts.consumer,
    topology: opts.topology,
    log,
    capacity: opts.maxBatch * 2,
    pullExpiresMs: opts.pullExpiresMs,
    checkIntervalMs: opts.checkIntervalMs,
    onMessage(msg) {
      pending.push(msg);
      if (lingerMs > 0 && !writing && pending.length === 1) lingerUntil = Date.now() + lingerMs;
      // Let the rest of what arrived together join the batch: natural batching.
      setImmediate(next);
    },
  });

  log.info({ maxBatch: opts.maxBatch, maxAttempts: opts.maxAttempts }, "consuming in batches");
  return runningLoopOver(session, log, {
    graceMs: opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    onStop: () => {
      stopping = true;
      clearTimeout(lingerTimer);
    },
    // Not started: released now, for another replica as soon as our pull requests are over.
    releaseUnstarted: () => {
      for (const msg of pending.splice(0)) session.releaseUnstarted(msg);
    },
    inHand: () => writing ?? Promise.resolve(),
  });
}
