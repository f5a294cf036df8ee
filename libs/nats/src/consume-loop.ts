import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { STREAM_NAME, decodeEvent, type AnyEnvelope, type ConsumerSpec, type Envelope, type EventType } from "@veriflow/events";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { deadLetter, isReplayForAnother } from "./dead-letter.js";
import { errorCode, errorMessage, isPermanent } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { handlerSeconds, messagesHandled, registerConsumerMetrics } from "./metrics.js";
import { publishEvents } from "./publish-events.js";
import type { HandlerContext } from "@veriflow/pipeline";

/** A handler receives one event and returns the events it causes; it publishes nothing itself. */
export type Handler<T extends EventType> = (event: Envelope<T>, ctx: HandlerContext) => Promise<readonly (AnyEnvelope | Envelope)[]>;

export interface ConsumeLoopOptions<T extends EventType> {
  js: JetStreamClient;
  consumer: ConsumerSpec;
  /** The event type this consumer expects; anything else is dead-lettered. */
  eventType: T;
  handle: Handler<T>;
  /** The events that record giving up on `event` (e.g. verification.failed). */
  onGiveUp: (event: Envelope<T>, err: unknown, attempts: number) => AnyEnvelope[];
  /** Runs once the message is acknowledged for sure (e.g. deleting an upload). Best effort. */
  afterAck?: (event: Envelope<T>) => Promise<void>;
  log: Logger;
  concurrency: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** How often a long-running handler tells the server it is still working. */
  workingIntervalMs: number;
}

export interface RunningLoop {
  /** Stops fetching, waits for in-flight messages to finish. */
  stop(): Promise<void>;
  /** Settles when the loop ends (after stop(), or on a fatal error). */
  done: Promise<void>;
}

/**
 * decode → handle → publish outputs → ack; on error nak with a computed backoff, or,
 * for a PermanentError or the last attempt, publish the give-up events and ack.
 * The loop, not the server, decides what the last attempt is.
 */
export async function runConsumeLoop<T extends EventType>(opts: ConsumeLoopOptions<T>): Promise<RunningLoop> {
  registerConsumerMetrics();
  const name = opts.consumer.durable;
  const log = opts.log.child({ consumer: name });
  const consumer = await opts.js.consumers.get(STREAM_NAME, name);
  const inFlight = new Set<Promise<void>>();
  let messages: ConsumerMessages | undefined;
  let stopping = false;

  const processOne = async (msg: JsMsg): Promise<void> => {
    if (isReplayForAnother(msg, name)) return msg.ack();
    let event: Envelope<T>;
    try {
      const decoded = decodeEvent(msg.data);
      if (decoded.type !== opts.eventType) throw new Error(`expected ${opts.eventType}, got ${decoded.type}`);
      event = decoded as unknown as Envelope<T>;
    } catch (err) {
      await deadLetter(opts.js, name, msg, err, log);
      msg.term();
      messagesHandled.inc({ consumer: name, outcome: "dead_letter" });
      return;
    }

    const attempt = msg.info.deliveryCount;
    const elog = log.child({ jobId: event.correlationId, eventId: event.id, attempt });
    const working = setInterval(() => msg.working(), opts.workingIntervalMs);
    const timer = handlerSeconds.startTimer({ consumer: name });
    try {
      const outputs = await opts.handle(event, { attempt, log: elog });
      await publishEvents(opts.js, outputs);
      if (opts.afterAck) {
        // Only a confirmed ack makes the side effect safe: a lost ack means redelivery.
        if (await msg.ackAck().catch(() => false)) await opts.afterAck(event).catch((err) => elog.warn({ err }, "after-ack step failed"));
      } else msg.ack();
      messagesHandled.inc({ consumer: name, outcome: "ok" });
    } catch (err) {
      const lastAttempt = attempt >= opts.maxAttempts;
      if (isPermanent(err) || lastAttempt) {
        try {
          await publishEvents(opts.js, opts.onGiveUp(event, err, attempt));
          msg.ack();
          messagesHandled.inc({ consumer: name, outcome: "failed" });
          elog.warn({ code: errorCode(err), err: errorMessage(err), permanent: isPermanent(err) }, "gave up");
        } catch (publishErr) {
          // Could not record the failure: let the message come back and try again.
          msg.nak(backoffDelay(attempt, opts.backoff));
          elog.error({ err: publishErr }, "could not publish give-up events");
        }
      } else {
        const delay = backoffDelay(attempt, opts.backoff);
        msg.nak(delay);
        messagesHandled.inc({ consumer: name, outcome: "retry" });
        elog.info({ code: errorCode(err), err: errorMessage(err), delayMs: delay }, "retrying");
      }
    } finally {
      clearInterval(working);
      timer();
    }
  };

  const done = (async () => {
    // Reopen the subscription if it ends while we are not stopping (e.g. consumer deleted).
    while (!stopping) {
      messages = await consumer.consume({ max_messages: Math.max(opts.concurrency * 2, 16) });
      for await (const msg of messages) {
        const p = processOne(msg).catch((err) => log.error({ err }, "message processing crashed"));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        // Bounded concurrency: wait for a free slot before taking the next message.
        while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
      }
      if (!stopping) await new Promise((r) => setTimeout(r, 1000));
    }
    await Promise.allSettled(inFlight);
  })();

  log.info({ concurrency: opts.concurrency, maxAttempts: opts.maxAttempts }, "consuming");
  return {
    done,
    async stop() {
      stopping = true;
      await messages?.close().catch(() => {});
      await done;
    },
  };
}
