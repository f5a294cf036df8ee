import { isNatsUnavailableError } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";

/**
 * Whether a submission should go through the queue or the in-process fallback. Decided
 * per request, BEFORE the multipart body is read (the file part can be consumed once):
 * the queue is usable while the NATS connection is up and no recent JetStream call
 * failed as unreachable. After such a failure, `probe` runs every `probeEveryMs` until
 * JetStream answers again; meanwhile submissions take the fallback.
 */
export interface QueueHealth {
  usable(): boolean;
  /** Call with any error of a queue path; only "unreachable" errors trip the switch. */
  reportFailure(err: unknown): void;
  close(): void;
}

export function createQueueHealth(opts: {
  isConnected: () => boolean;
  /** True when JetStream answers (e.g. the events stream's info). */
  probe: () => Promise<boolean>;
  probeEveryMs?: number;
  log: Logger;
}): QueueHealth {
  const every = opts.probeEveryMs ?? 1000;
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

  return {
    usable: () => !tripped && opts.isConnected(),
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
