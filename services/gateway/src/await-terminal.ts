import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeEvent, subjectFor, terminalEventTypes, type Envelope } from "@veriflow/events";
import { findLastEvent } from "@veriflow/nats";

/** A job's outcome: a verdict reached, or a stage that gave up. */
export type TerminalEvent = Envelope<"verification.completed"> | Envelope<"verification.failed">;

export interface TerminalWatch {
  /**
   * Resolves with the job's terminal event, or null when `timeoutMs` passed (after one
   * last read of the stream) or `signal` aborted first. Unsubscribes when it settles.
   */
  wait(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<TerminalEvent | null>;
  /** Unsubscribes; idempotent. */
  close(): void;
}

/** The longest the stream read at the deadline (or after a reconnect) may take. */
const LOOKUP_TIMEOUT_MS = 2000;

/**
 * Watches one job for its terminal event over core NATS: subscribes to
 * `veriflow.verification.completed.<jobId>` and `….failed.<jobId>`. Call it BEFORE
 * publishing the job's request: the SUBs go out on the connection ahead of the request,
 * so the server routes the outcome to us however fast the pipeline is.
 *
 * A core subscription misses what is published while the connection is down, so the
 * stream is read by subject as well: after every reconnect during the wait, and once at
 * the deadline.
 */
export function watchTerminal(nats: { nc: NatsConnection; jsm: JetStreamManager }, jobId: string): TerminalWatch {
  let settle!: (event: TerminalEvent) => void;
  const arrived = new Promise<TerminalEvent>((resolve) => (settle = resolve));
  const subs: Subscription[] = terminalEventTypes.map((type) => nats.nc.subscribe(subjectFor(type, jobId), { max: 1 }));
  for (const sub of subs) {
    void (async () => {
      for await (const m of sub) {
        try {
          const event = decodeEvent(m.data);
          if (event.type === "verification.completed" || event.type === "verification.failed") settle(event);
        } catch {
          // Not an event of ours: the stream read at the deadline still finds the real one.
        }
      }
    })().catch(() => {});
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const sub of subs) if (!sub.isClosed()) sub.unsubscribe();
  };

  const lookup = () => findTerminalEvent(nats.jsm, jobId);

  return {
    close,
    async wait({ timeoutMs, signal }) {
      const cleanups: (() => void)[] = [];
      try {
        const outcomes: Promise<TerminalEvent | null | "deadline">[] = [arrived];
        outcomes.push(
          new Promise((resolve) => {
            const timer = setTimeout(() => resolve("deadline"), timeoutMs);
            cleanups.push(() => clearTimeout(timer));
          }),
        );
        if (signal) {
          outcomes.push(
            new Promise((resolve) => {
              if (signal.aborted) return resolve(null);
              const onAbort = () => resolve(null);
              signal.addEventListener("abort", onAbort, { once: true });
              cleanups.push(() => signal.removeEventListener("abort", onAbort));
            }),
          );
        }
        // After a reconnect, what was published meanwhile is only in the stream.
        const status = nats.nc.status();
        // The connection's status iterators are queued iterators: stop() unregisters one.
        cleanups.push(() => (status as unknown as { stop(): void }).stop());
        outcomes.push(
          (async () => {
            for await (const s of status) {
              if (s.type !== "reconnect") continue;
              const found = await lookup();
              if (found) return found;
            }
            return new Promise<never>(() => {});
          })().catch(() => new Promise<never>(() => {})),
        );
        const first = await Promise.race(outcomes);
        if (first !== "deadline") return first;
        // The deadline: one last look, in case the subscription missed the outcome.
        return await lookup();
      } finally {
        for (const c of cleanups) c();
        close();
      }
    },
  };
}

/** The job's terminal event read straight from the stream; null when there is none (or the stream does not answer in time). */
export async function findTerminalEvent(jsm: JetStreamManager, jobId: string): Promise<TerminalEvent | null> {
  const read = Promise.all(terminalEventTypes.map((type) => findLastEvent(jsm, type, jobId))).then(
    (found) => (found.find((e) => e !== null) as TerminalEvent | undefined) ?? null,
    () => null,
  );
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), LOOKUP_TIMEOUT_MS)));
  try {
    return await Promise.race([read, giveUp]);
  } finally {
    clearTimeout(timer);
  }
}
