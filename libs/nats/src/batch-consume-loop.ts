import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { STREAM_NAME, decodeEvent, type AnyEnvelope, type ConsumerSpec } from "@veriflow/events";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { deadLetter, isReplayForAnother } from "./dead-letter.js";
import { errorMessage } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { handlerSeconds, messagesHandled, registerConsumerMetrics } from "./metrics.js";
import type { RunningLoop } from "./consume-loop.js";

export interface BatchConsumeLoopOptions {
  js: JetStreamClient;
  consumer: ConsumerSpec;
  /** Applies a batch atomically; throwing naks the whole batch for a later retry. */
  handleBatch: (events: AnyEnvelope[]) => Promise<void>;
  log: Logger;
  maxBatch: number;
  backoff: BackoffPolicy;
}

/**
 * For projections: takes whatever has arrived (up to maxBatch) as one batch, so a busy
 * stream is written in large transactions and a quiet one with no added latency. A
 * projection never gives up on an event: a database outage only delays it.
 */
export async function runBatchConsumeLoop(opts: BatchConsumeLoopOptions): Promise<RunningLoop> {
  registerConsumerMetrics();
  const name = opts.consumer.durable;
  const log = opts.log.child({ consumer: name });
  const consumer = await opts.js.consumers.get(STREAM_NAME, name);
  let messages: ConsumerMessages | undefined;
  let stopping = false;

  const flush = async (batch: JsMsg[]) => {
    const events: AnyEnvelope[] = [];
    const usable: JsMsg[] = [];
    for (const msg of batch) {
      if (isReplayForAnother(msg, name)) {
        msg.ack();
        continue;
      }
      try {
        events.push(decodeEvent(msg.data));
        usable.push(msg);
      } catch (err) {
        await deadLetter(opts.js, name, msg, err, log);
        msg.term();
        messagesHandled.inc({ consumer: name, outcome: "dead_letter" });
      }
    }
    if (events.length === 0) return;
    const timer = handlerSeconds.startTimer({ consumer: name });
    try {
      await opts.handleBatch(events);
      for (const msg of usable) msg.ack();
      messagesHandled.inc({ consumer: name, outcome: "ok" }, usable.length);
    } catch (err) {
      const attempt = Math.max(...usable.map((m) => m.info.deliveryCount));
      const delay = backoffDelay(attempt, opts.backoff);
      for (const msg of usable) msg.nak(delay);
      messagesHandled.inc({ consumer: name, outcome: "retry" }, usable.length);
      log.warn({ err: errorMessage(err), size: usable.length, delayMs: delay }, "batch failed, retrying");
    } finally {
      timer();
    }
  };

  const done = (async () => {
    while (!stopping) {
      messages = await consumer.consume({ max_messages: opts.maxBatch * 2 });
      let batch: JsMsg[] = [];
      for await (const msg of messages) {
        batch.push(msg);
        // Flush when full, or when nothing else is waiting: natural batching.
        if (batch.length >= opts.maxBatch || messages.getPending() === 0) {
          const current = batch;
          batch = [];
          await flush(current);
        }
      }
      if (batch.length > 0) await flush(batch);
      if (!stopping) await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  log.info({ maxBatch: opts.maxBatch }, "consuming in batches");
  return {
    done,
    async stop() {
      stopping = true;
      await messages?.close().catch(() => {});
      await done;
    },
  };
}
