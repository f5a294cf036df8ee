import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerConfig, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { InvalidEventError, loadContract, type Contract, type VeriflowEvent } from "./contract.js";

/** The stream and subjects of docs/events.md. */
export const STREAM = "VERIFLOW";
export const COMPLETIONS = "veriflow.verification.completed.*";
export const FAILURES = "veriflow.verification.failed.*";

export interface DeliveryInfo {
  subject: string;
  /** 1 on first delivery; more after a nak or a missed ack. */
  deliveryCount: number;
  /** The stream sequence: per job, events arrive in this (causal) order. */
  streamSequence: number;
}

export interface SubscriberOptions {
  natsUrl: string;
  /** A NATS user allowed to create and read its own consumers (veriflow's deployments have `subscriber`). */
  user?: string;
  password?: string;
  /** The durable consumer's name: yours alone; two processes with one name share the work. */
  durable: string;
  /** One filter subject per consumer (nats-server 2.9). */
  filterSubject: string;
  /** `new` (default): only events published after the consumer is first created; `all`: the retained history too. */
  deliverPolicy?: "new" | "all";
  /** Where the JSON Schemas are (default: this repository's docs/events). */
  schemasDir?: string;
  /** Reacts to one event. Throwing asks for a redelivery later; make it idempotent on `event.id`. */
  onEvent: (event: VeriflowEvent, info: DeliveryInfo) => Promise<void> | void;
  /** Told about messages that break the contract (they are terminated, not redelivered). */
  onInvalid?: (err: InvalidEventError, info: DeliveryInfo) => void;
  log?: (line: string, fields: Record<string, unknown>) => void;
  /** How long an unacknowledged message waits before redelivery. */
  ackWaitMs?: number;
}

export interface RunningSubscriber {
  /** Stops pulling, finishes the message in hand, closes the connection. */
  stop(): Promise<void>;
  /** Settles when the loop ends. */
  done: Promise<void>;
}

/** Creates the durable pull consumer unless it exists (its position survives restarts). */
export async function ensureConsumer(nc: NatsConnection, opts: Pick<SubscriberOptions, "durable" | "filterSubject" | "deliverPolicy" | "ackWaitMs">) {
  const jsm = await jetstreamManager(nc);
  const existing = await jsm.consumers.info(STREAM, opts.durable).catch(() => null);
  if (existing) return existing;
  const config: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    filter_subject: opts.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: opts.deliverPolicy === "all" ? DeliverPolicy.All : DeliverPolicy.New,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: 256,
    description: `example subscriber on ${opts.filterSubject}`,
  };
  return jsm.consumers.add(STREAM, config);
}

const infoOf = (m: JsMsg): DeliveryInfo => ({ subject: m.subject, deliveryCount: m.info.deliveryCount, streamSequence: m.info.streamSequence });

/**
 * Handles one message: check it against the contract, react, then ack. A message that
 * breaks the contract is terminated (a retry would not fix it); a failing reaction is
 * nak'ed with a delay that grows with each delivery.
 */
async function handle(m: JsMsg, contract: Contract, opts: SubscriberOptions): Promise<void> {
  const info = infoOf(m);
  let event: VeriflowEvent;
  try {
    event = contract.check(m.data, m.headers);
  } catch (err) {
    const invalid = err instanceof InvalidEventError ? err : new InvalidEventError(String(err));
    opts.log?.("invalid event", { ...info, error: invalid.message });
    opts.onInvalid?.(invalid, info);
    m.term(invalid.message);
    return;
  }
  try {
    await opts.onEvent(event, info);
  } catch (err) {
    opts.log?.("reaction failed, will retry", { ...info, eventId: event.id, error: String(err) });
    m.nak(Math.min(1000 * 2 ** (info.deliveryCount - 1), 60_000));
    return;
  }
  // A confirmed ack: once it returns, this durable will not see the event again.
  await m.ackAck().catch(() => false);
}

export async function startSubscriber(opts: SubscriberOptions): Promise<RunningSubscriber> {
  const contract = await loadContract(opts.schemasDir);
  const login = opts.user === undefined ? {} : { user: opts.user, pass: opts.password };
  const nc = await connect({ servers: opts.natsUrl.split(","), name: `subscriber-${opts.durable}`, maxReconnectAttempts: -1, ...login });
  let messages: ConsumerMessages | undefined;
  try {
    await ensureConsumer(nc, opts);
    const consumer = await jetstream(nc).consumers.get(STREAM, opts.durable);
    messages = await consumer.consume({ max_messages: 64 });
  } catch (err) {
    await nc.close();
    throw err;
  }
  opts.log?.("subscribed", { durable: opts.durable, filterSubject: opts.filterSubject });

  const stream = messages;
  // One message at a time: per job, events are handled in the order they were published.
  const done = (async () => {
    for await (const m of stream) await handle(m, contract, opts);
  })();

  return {
    done,
    async stop() {
      await stream.close().catch(() => {});
      await done.catch(() => {});
      await nc.drain().catch(() => {});
    },
  };
}
