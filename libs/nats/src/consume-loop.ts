import type { JsMsg } from "@nats-io/jetstream";
import { decodeEventFrom, type AnyEnvelope, type ConsumerSpec, type Envelope, type EventType } from "@veriflow/events";
import { errorCode, errorMessage, isPermanent } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { HandlerContext } from "@veriflow/pipeline";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { deadLetter, isReplayForAnother } from "./dead-letter.js";
import { handlerSeconds, messagesHandled, observeStageDuration, registerConsumerMetrics } from "./metrics.js";
import type { NatsClients } from "./nats.js";
import type { ClassSlots } from "./priority-slots.js";
import { findPriorOutcome } from "./prior-outcome.js";
import { publishEvents } from "./publish-events.js";
import { startPullSession, type PullSession } from "./pull-session.js";
import { startMessageSpan } from "./trace-headers.js";
import { TRACING_OFF, context, failSpan, type Context, type Span, type Tracing } from "@veriflow/tracing";
import type { TopologyConfig } from "./topology.js";

/** A handler receives one event and returns the events it causes; it publishes nothing itself. */
export type Handler<T extends EventType> = (event: Envelope<T>, ctx: HandlerContext) => Promise<readonly (AnyEnvelope | Envelope)[]>;

export interface ConsumeLoopOptions<T extends EventType> {
  nats: NatsClients;
  /** How the stream and consumer are (re)created if they disappear while running. */
  topology: TopologyConfig;
  consumer: ConsumerSpec;
  /** The event type this consumer expects; anything else is dead-lettered. */
  eventType: T;
  /** The types the handler returns: a redelivered input whose outputs are stored is not handled again. */
  produces: readonly EventType[];
  handle: Handler<T>;
  /** The events that record giving up on `event` (e.g. verification.failed). */
  onGiveUp: (event: Envelope<T>, err: unknown, attempts: number) => AnyEnvelope[];
  /**
   * Runs once the message is acknowledged for sure, whether it was handled or given up on
   * (its give-up events are stored first): the stage is done with it, e.g. its upload can go.
   * Best effort, and outside the message's concurrency slot: the next message starts while it
   * runs. At most `concurrency` run at once; a message finishing while they all do waits for
   * one to end (in its slot), so they never pile up. stop() waits for them within the grace
   * period; one still running after it is left unfinished.
   */
  afterAck?: (event: Envelope<T>) => Promise<void>;
  log: Logger;
  /** The service's tracing: each event is handled in a span of the trace its message carries (TRACING_OFF when not given). */
  tracing?: Tracing;
  concurrency: number;
  /**
   * The stage's slots this loop's class takes (priority-slots.ts), when a stage runs one loop
   * per priority class: a message received waits (held, kept in progress) until one is free.
   */
  slots?: ClassSlots;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** How often messages in hand tell the server they are still being worked on (default: heartbeatIntervalOf(ack wait)). */
  workingIntervalMs?: number;
  /** How long stop() lets messages in hand finish before nak'ing them (default 15 s). */
  shutdownGraceMs?: number;
  /** Pull request expiry and consumer check interval (tests shorten them). */
  pullExpiresMs?: number;
  checkIntervalMs?: number;
}

export interface RunningLoop {
  /** Stops pulling (what arrives is nak'ed), lets messages in hand finish within the grace period, naks the rest. */
  stop(): Promise<void>;
  /** Settles once stopped. */
  done: Promise<void>;
  /** The consumer exists and is being pulled from (for /readyz). */
  ready(): boolean;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 15_000;

/**
 * The RunningLoop of a loop over `session`, both loops' one shutdown: stop() stops pulling,
 * hands back what was not started (`releaseUnstarted`), gives the work in hand `graceMs`
 * to finish, then releases whatever is still held.
 */
export function runningLoopOver(
  session: PullSession,
  log: Logger,
  opts: { graceMs: number; inHand: () => Promise<unknown>; releaseUnstarted?: () => void; onStop?: () => void },
): RunningLoop {
  let stopped: Promise<void> | undefined;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (markDone = resolve));
  return {
    done,
    ready: () => session.ready(),
    stop() {
      stopped ??= (async () => {
        opts.onStop?.();
        const pulling = session.stopPulling();
        opts.releaseUnstarted?.();
        const finished = await Promise.race([
          opts.inHand().then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), opts.graceMs).unref()),
        ]);
        await pulling;
        if (!finished) log.warn({ released: session.nakHeld(), graceMs: opts.graceMs }, "shutdown grace over: released unfinished messages");
        session.close();
        markDone();
      })();
      return stopped;
    },
  };
}

/**
 * decode → (a redelivery: is its outcome already stored?) → handle → publish outputs → ack;
 * on error nak with a computed backoff, or, for a PermanentError or the last attempt,
 * publish the give-up events and ack. The loop, not the server, decides the last attempt;
 * a delivery past it (the give-up's publish could not be confirmed) is acked if the job's
 * terminal event is stored, and otherwise tried once more and given up on whatever fails.
 * Terminal events share the job's id, so however a publish or an ack was lost, the stream
 * keeps one terminal event per job.
 */
export async function runConsumeLoop<T extends EventType>(opts: ConsumeLoopOptions<T>): Promise<RunningLoop> {
  registerConsumerMetrics();
  const name = opts.consumer.durable;
  const log = opts.log.child({ consumer: name });
  const inFlight = new Set<Promise<void>>();
  const afterAcks = new Set<Promise<void>>();

  /** Acks `msg` (confirmed when there is an after-ack step) and starts that step, once there is room for it. */
  const ackDone = async (msg: JsMsg, event: Envelope<T>, elog: Logger) => {
    const { afterAck } = opts;
    if (!afterAck) return msg.ack();
    // Only a confirmed ack makes the side effect safe: a lost ack means redelivery.
    if (!(await msg.ackAck().catch(() => false))) return;
    while (afterAcks.size >= opts.concurrency) await Promise.race(afterAcks);
    const step: Promise<void> = afterAck(event)
      .catch((err) => elog.warn({ err }, "after-ack step failed"))
      .finally(() => afterAcks.delete(step));
    afterAcks.add(step);
  };

  /** The input's outcome is already stored (a redelivery): ack it without handling it again. */
  const alreadyDone = async (msg: JsMsg, event: Envelope<T>, elog: Logger) => {
    const prior = await findPriorOutcome(opts.nats.jsm, event, opts.produces);
    if (!prior) return false;
    await ackDone(msg, event, elog);
    messagesHandled.inc({ consumer: name, outcome: "already_done" });
    elog.info({ found: prior.type, foundId: prior.id }, "already done: acked without handling again");
    return true;
  };

  const giveUp = async (msg: JsMsg, event: Envelope<T>, err: unknown, attempt: number, elog: Logger, ctx: Context) => {
    if (await alreadyDone(msg, event, elog)) return;
    const acks = await publishEvents(opts.nats.js, opts.onGiveUp(event, err, attempt), ctx);
    observeStageDuration(name, event, "failed");
    await ackDone(msg, event, elog);
    messagesHandled.inc({ consumer: name, outcome: "failed" });
    // A duplicate: the job's terminal event was already stored (its id is the job's), so this changed nothing.
    const duplicate = acks.some((a) => a.duplicate);
    elog.warn({ code: errorCode(err), err: errorMessage(err), permanent: isPermanent(err), duplicate }, "gave up");
  };

  const processOne = async (msg: JsMsg): Promise<void> => {
    if (isReplayForAnother(msg, name)) return msg.ack();
    let event: Envelope<T>;
    try {
      const decoded = decodeEventFrom(msg.subject, msg.data);
      if (decoded.type !== opts.eventType) throw new Error(`expected ${opts.eventType}, got ${decoded.type}`);
      event = decoded as unknown as Envelope<T>;
    } catch (err) {
      if (await deadLetter(opts.nats.js, name, msg, err, log)) msg.term();
      else msg.nak(backoffDelay(msg.info.deliveryCount, opts.backoff));
      messagesHandled.inc({ consumer: name, outcome: "dead_letter" });
      return;
    }
    // The handler, its logs and the events it publishes run in the span of the event's trace.
    const traced = startMessageSpan(opts.tracing ?? TRACING_OFF, name, msg, event);
    return context.with(traced.ctx, () => handleDecoded(msg, event, traced)).finally(() => traced.span.end());
  };

  const handleDecoded = async (msg: JsMsg, event: Envelope<T>, { span, ctx }: { span: Span; ctx: Context }): Promise<void> => {
    const attempt = msg.info.deliveryCount;
    const elog = log.child({ jobId: event.correlationId, traceId: span.spanContext().traceId, eventId: event.id, attempt });
    const timer = handlerSeconds.startTimer({ consumer: name });
    try {
      if (attempt > 1 && (await alreadyDone(msg, event, elog))) return;
      const outputs = await opts.handle(event, { attempt, log: elog });
      await publishEvents(opts.nats.js, outputs, ctx);
      observeStageDuration(name, event, "ok");
      await ackDone(msg, event, elog);
      messagesHandled.inc({ consumer: name, outcome: "ok" });
    } catch (err) {
      failSpan(span, err);
      try {
        if (isPermanent(err) || attempt >= opts.maxAttempts) return await giveUp(msg, event, err, Math.min(attempt, opts.maxAttempts), elog, ctx);
        const delay = backoffDelay(attempt, opts.backoff);
        msg.nak(delay);
        messagesHandled.inc({ consumer: name, outcome: "retry" });
        elog.info({ code: errorCode(err), err: errorMessage(err), delayMs: delay }, "retrying");
      } catch (giveUpErr) {
        // Could not record the failure (or look for a stored outcome): let it come back.
        msg.nak(backoffDelay(attempt, opts.backoff));
        elog.error({ err: giveUpErr }, "could not publish give-up events");
      }
    } finally {
      timer();
    }
  };

  /** Waits for one of the stage's slots, if shared; a stopping loop gives its waiting messages back unstarted. */
  const processInSlot = async (msg: JsMsg): Promise<void> => {
    const { slots } = opts;
    if (!slots) return processOne(msg);
    if (!(await slots.acquire())) return session.releaseUnstarted(msg);
    try {
      await processOne(msg);
    } finally {
      slots.release();
    }
  };

  const session: PullSession = await startPullSession({
    nats: opts.nats,
    consumer: opts.consumer,
    topology: opts.topology,
    log,
    // Every message received starts at once: nothing waits in a buffer.
    capacity: opts.concurrency,
    workingIntervalMs: opts.workingIntervalMs,
    pullExpiresMs: opts.pullExpiresMs,
    checkIntervalMs: opts.checkIntervalMs,
    onMessage(msg) {
      const p = processInSlot(msg)
        .catch((err) => log.error({ err }, "message processing crashed"))
        .finally(() => {
          inFlight.delete(p);
          session.release(msg);
        });
      inFlight.add(p);
    },
  });

  log.info({ concurrency: opts.concurrency, maxAttempts: opts.maxAttempts }, "consuming");
  return runningLoopOver(session, log, {
    graceMs: opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    releaseUnstarted: () => opts.slots?.cancel(),
    // The messages in hand, then the after-ack steps they started.
    inHand: async () => {
      await Promise.allSettled([...inFlight]);
      await Promise.allSettled([...afterAcks]);
    },
  });
}
