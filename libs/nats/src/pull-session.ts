import type { Consumer, ConsumerInfo, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { STREAM_NAME, type ConsumerSpec } from "@veriflow/events";
import { errorMessage } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { saveConsumerPosition } from "./consumer-position.js";
import { consumerRecreated } from "./metrics.js";
import { isNotFound } from "./nats-errors.js";
import type { NatsClients } from "./nats.js";
import { ensureConsumer, ensureStreams, heartbeatIntervalOf, type TopologyConfig } from "./topology.js";

export interface PullSessionOptions {
  nats: NatsClients;
  consumer: ConsumerSpec;
  /** To recreate the stream and the consumer as the services create them. */
  topology: TopologyConfig;
  log: Logger;
  /** Most messages held at once: received and not yet released. Nothing is pulled beyond it. */
  capacity: number;
  /** Each message received; the session holds it (and keeps it in progress) until `release(msg)`. */
  onMessage(msg: JsMsg): void;
  /** How often every held message is marked in progress (`working()`); heartbeatIntervalOf(ack wait) by default. */
  workingIntervalMs?: number;
  /** How long one pull request waits for messages (its heartbeat is half of it). */
  pullExpiresMs?: number;
  /** How often the consumer's existence and ack floor are read. */
  checkIntervalMs?: number;
}

export interface PullSession {
  /** The message is settled (acked, nak'ed or terminated): it no longer counts against the capacity. */
  release(msg: JsMsg): void;
  /** Messages held now. */
  readonly held: number;
  /** The consumer exists and its pull requests are answered. */
  ready(): boolean;
  /**
   * Stops pulling. Resolves once the open pull requests have ended (within one expiry):
   * until then the server may still deliver to them, and what arrives is released (see
   * `releaseUnstarted`) instead of reaching onMessage.
   */
  stopPulling(): Promise<void>;
  /** Gives back a message that was received but not started, so another replica gets it as soon as our pull requests end. */
  releaseUnstarted(msg: JsMsg): void;
  /** Naks every message still held (shutdown, after the grace period); returns how many. */
  nakHeld(): number;
  close(): void;
}

const MAX_PULLS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pulls a durable consumer's messages with no hidden buffer: pull requests ask only for the
 * capacity not yet held or requested, so every message received is handed over at once and
 * kept in progress (`working()`) until released. Nothing waits unseen in a client queue
 * past its ack wait, and a shutdown can nak everything it holds.
 *
 * It also keeps the consumer alive. A pull that fails (consumer or stream deleted, missed
 * heartbeats, no responders) and the periodic check lead to one recovery: read the consumer;
 * if it is missing, recreate it from where processing stood, which is the lower of the
 * last ack floor read from the server (every message at or below it was acknowledged by
 * some replica) and the oldest message this process still holds, so nothing unfinished is
 * skipped and only the work acknowledged since the last check (a few seconds) is redone;
 * a stream that is gone or was replaced is (re)created and read from its start. The ack
 * floor it reads is also checkpointed (consumer-position.ts), for a consumer found missing
 * when a service starts.
 */
export async function startPullSession(opts: PullSessionOptions): Promise<PullSession> {
  const { nats, log } = opts;
  const durable = opts.consumer.durable;
  const expires = opts.pullExpiresMs ?? 5_000;
  const heartbeatMs = opts.workingIntervalMs ?? heartbeatIntervalOf(opts.topology.ackWaitMs);
  const held = new Map<number, JsMsg>();
  /** Open pull requests, with when each expires on the server. */
  const pulls = new Map<ConsumerMessages, number>();
  let requested = 0;
  let stopped = false;
  let closed = false;
  let consumerOk = true;
  let pullOk = true;
  let ackFloor = 0;
  let streamCreated = "";
  let recovering: Promise<void> | null = null;
  let consumer: Consumer | null = null;

  let saved = -1;
  const noteInfo = (info: ConsumerInfo) => {
    ackFloor = info.ack_floor.stream_seq;
    consumerOk = true;
    // Checkpointed, so that a consumer missing when a service starts resumes from here too.
    if (ackFloor !== saved && streamCreated) {
      const floor = ackFloor;
      saveConsumerPosition(nats.js, durable, { stream: STREAM_NAME, streamCreated, ackFloor: floor }).then(
        () => (saved = floor),
        (err: unknown) => log.debug({ err: errorMessage(err) }, "could not checkpoint the consumer's position"),
      );
    }
  };

  /**
   * A nak'ed message is redelivered at once to a waiting pull request, and nats-server 2.9
   * may still deliver to one whose client has stopped listening: a message given back while
   * our own requests are open could come straight back to us, or be lost to a closed one
   * until its ack wait. So it is given back with a delay that outlasts them.
   */
  const releaseDelay = () => {
    const lastExpiry = Math.max(0, ...pulls.values());
    return lastExpiry > Date.now() ? lastExpiry - Date.now() + 250 : 0;
  };
  const releaseUnstarted = (msg: JsMsg) => {
    msg.nak(releaseDelay());
    if (held.get(msg.seq) === msg) held.delete(msg.seq);
  };

  const accept = (msg: JsMsg) => {
    if (stopped) {
      // Received after we stopped asking: for another replica, once our requests are over.
      msg.nak(releaseDelay());
      return;
    }
    const prior = held.get(msg.seq);
    if (prior) {
      // A redelivery of a message still in hand (its consumer was recreated): later, once this one is done.
      msg.nak(heartbeatMs);
      return;
    }
    held.set(msg.seq, msg);
    opts.onMessage(msg);
  };

  const pull = async (c: Consumer, n: number) => {
    requested += n;
    let received = 0;
    let messages: ConsumerMessages | undefined;
    try {
      messages = await c.fetch({ max_messages: n, expires });
      pulls.set(messages, Date.now() + expires);
      for await (const msg of messages) {
        received++;
        requested--;
        pullOk = true;
        accept(msg);
      }
      // Ended by the server (batch filled, or expired with nothing more): it answers.
      if (!stopped) pullOk = true;
    } catch (err) {
      pullOk = false;
      if (!stopped) {
        log.warn({ err: errorMessage(err) }, "pull failed");
        recover("pull failed");
      }
    } finally {
      requested -= n - received;
      if (messages) pulls.delete(messages);
      pump();
    }
  };

  function pump(): void {
    if (stopped || recovering || !consumer || !nats.isConnected()) return;
    const free = opts.capacity - held.size - requested;
    const least = pulls.size === 0 ? 1 : Math.max(1, Math.ceil(opts.capacity / 4));
    if (free < least || pulls.size >= MAX_PULLS) return;
    void pull(consumer, free);
  }

  /** Where a recreated consumer starts: nothing unfinished is skipped. */
  const resumeAt = () => Math.min(ackFloor + 1, ...held.keys());

  const ensurePresent = async () => {
    try {
      noteInfo(await nats.jsm.consumers.info(STREAM_NAME, durable));
      return;
    } catch (err) {
      if (!isNotFound(err, "consumer") && !isNotFound(err, "stream")) throw err;
      consumerOk = false;
    }
    await ensureStreams(nats.jsm, opts.topology);
    const stream = await nats.jsm.streams.info(STREAM_NAME);
    // A stream that was deleted (and created again) has new sequences: read it from its start.
    const sameStream = stream.created === streamCreated;
    const startSeq = sameStream ? resumeAt() : 1;
    await ensureConsumer(nats.jsm, opts.consumer, opts.topology, { startSeq });
    streamCreated = stream.created;
    consumerRecreated.inc({ consumer: durable });
    log.warn({ startSeq, sameStream, held: held.size }, "consumer was missing: recreated");
    noteInfo(await nats.jsm.consumers.info(STREAM_NAME, durable));
  };

  function recover(reason: string): void {
    if (recovering || stopped) return;
    // Their consumer is gone or the server does not answer them: nothing more comes to them.
    for (const p of pulls.keys()) void p.close();
    recovering = (async () => {
      for (let attempt = 0; !stopped; attempt++) {
        try {
          await ensurePresent();
          consumer = await nats.js.consumers.get(STREAM_NAME, durable);
          if (attempt > 0) log.info({ reason, attempts: attempt + 1 }, "consuming again");
          return;
        } catch (err) {
          if (attempt === 0) log.warn({ reason, err: errorMessage(err) }, "consumer unavailable, retrying");
          await sleep(Math.min(250 * 2 ** attempt, 5_000));
        }
      }
    })().finally(() => {
      recovering = null;
      pump();
    });
  }

  // The first look: the stream's identity and the consumer's position.
  streamCreated = (await nats.jsm.streams.info(STREAM_NAME)).created;
  noteInfo(await nats.jsm.consumers.info(STREAM_NAME, durable));
  consumer = await nats.js.consumers.get(STREAM_NAME, durable);

  // A timer, not something the handlers call: it fires between any two slices of work on the
  // event loop (a handler need not cooperate), and at once after a stall, when overdue.
  const working = setInterval(() => {
    for (const msg of held.values()) msg.working();
  }, heartbeatMs);
  const check = setInterval(() => {
    if (recovering || stopped || !nats.isConnected()) return;
    nats.jsm.consumers.info(STREAM_NAME, durable).then(noteInfo, (err: unknown) => {
      if (isNotFound(err, "consumer") || isNotFound(err, "stream")) {
        consumerOk = false;
        recover("consumer missing");
      }
    });
  }, opts.checkIntervalMs ?? 5_000);
  const statuses = nats.nc.status();
  void (async () => {
    // A pull that ended while disconnected could not be replaced: do it now. (Open ones
    // re-pull by themselves after checking the consumer; after a server restart, a failing
    // one leads to recover().)
    for await (const s of statuses) if (s.type === "reconnect") pump();
  })().catch(() => {});

  pump();
  log.debug({ capacity: opts.capacity, ackFloor }, "pulling");
  return {
    release(msg) {
      if (held.get(msg.seq) === msg) held.delete(msg.seq);
      pump();
    },
    get held() {
      return held.size;
    },
    ready: () => consumerOk && pullOk && recovering === null && !stopped,
    async stopPulling() {
      stopped = true;
      // Keep listening until the open requests end by themselves (filled or expired): what
      // the server sends them meanwhile is released, not lost. Closed if they overstay.
      const deadline = Date.now() + expires + 2_000;
      while (pulls.size > 0 && Date.now() < deadline) await sleep(50);
      await Promise.all([...pulls.keys()].map((p) => p.close().catch(() => {})));
    },
    releaseUnstarted,
    nakHeld() {
      const n = held.size;
      for (const msg of held.values()) msg.nak(releaseDelay());
      held.clear();
      return n;
    },
    close() {
      if (closed) return;
      closed = true;
      stopped = true;
      clearInterval(working);
      clearInterval(check);
      (statuses as { stop?: () => void }).stop?.();
    },
  };
}
