import { isNatsUnavailableError } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";

/**
 * Whether a submission should go through the queue or the in-process fallback. Decided
 * per request, BEFORE the multipart body is read (the file part can be consumed once):
 * the queue is usable while the NATS connection is up and no recent JetStream call
 * failed as unreachable. After such a failure, `probe` runs every `probeEveryMs` until
 * JetStream answers again; meanwhile submissions take the fallback.
 *
 * A dropped connection is not an outage yet: in a cluster the client is on another node
 * within moments (a node killed, restarted, drained). So a submission that finds the
 * connection down during its first `reconnectGraceMs` waits for the reconnect, up to the
 * rest of that grace, and goes through the queue if it comes; only a connection down for
 * longer sends submissions to the fallback, at once.
 */
export interface QueueHealth {
  /** The queue is usable now (no waiting): for reports such as the stats' `available`. */
  usable(): boolean;
  /** Whether this submission goes through the queue: usable(), after waiting out a connection drop's grace. */
  decide(): Promise<boolean>;
  /** Call with any error of a queue path; only "unreachable" errors trip the switch. */
  reportFailure(err: unknown): void;
  close(): void;
}

/** A connection back within this is a reconnect (another node of the cluster), not an outage. */
export const RECONNECT_GRACE_MS = 2_000;
const RECONNECT_POLL_MS = 25;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createQueueHealth(opts: {
  isConnected: () => boolean;
  /** When the connection dropped, while it is reconnecting (NatsClients.disconnectedAt). */
  disconnectedAt: () => number | null;
  /** True when JetStream answers (e.g. the events stream's info). */
  probe: () => Promise<boolean>;
  probeEveryMs?: number;
  /** How long a dropped connection is waited for before submissions take the fallback. */
  reconnectGraceMs?: number;
  log: Logger;
}): QueueHealth {
  const every = opts.probeEveryMs ?? 1000;
  const grace = opts.reconnectGraceMs ?? RECONNECT_GRACE_MS;

  let tripped = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const probeOnce = async () => {
    const ok = opts.isConnected() && (await opts.probe().catch(() => false));
    if (ok) {
      tripped = false;
      timer = undefined;
      opts.log.info("queue answers again: submissions go through the pipeline");
    } else schedule();
  };
  const schedule = () => {
    if (closed) return;
    // A timer cannot await: whatever probeOnce throws is logged and the probe goes on.
    timer = setTimeout(() => {
      probeOnce().catch((err: unknown) => {
        opts.log.error({ err }, "queue probe failed");
        schedule();
      });
    }, every);
    timer.unref();
  };

  const usable = () => !tripped && opts.isConnected();
  return {
    usable,
    async decide() {
      const droppedAt = opts.disconnectedAt();
      if (droppedAt !== null) {
        // Reconnecting: wait for it within the drop's grace (past it, the fallback at once).
        const deadline = droppedAt + grace;
        while (!closed && !opts.isConnected() && Date.now() < deadline) await sleep(Math.min(RECONNECT_POLL_MS, deadline - Date.now()));
      }
      return usable();
    },
    reportFailure(err) {
      if (tripped || !isNatsUnavailableError(err)) return;
      tripped = true;
      opts.log.warn({ err }, "queue unreachable: verifying in-process until it answers");
      schedule();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
