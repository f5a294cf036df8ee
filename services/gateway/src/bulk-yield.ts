/**
 * Bulk uploads give way to interactive ones in the same gateway. Stage slots put a single
 * verification ahead of a batch's jobs once they are queued (priority-slots.ts), but before
 * that both are bytes through one process: the bench's batch load (8 batches of 100 files
 * uploading at once) made a single submission's send → queued take 2.6 s at the median, most of
 * its latency. While an interactive submission is being stored, a batch's next file waits
 * before it is stored (putUpload's `pace`), which through back-pressure also stops reading
 * and parsing the batch's body, and so does each of its jobs' request events before it is
 * published (acceptBatch). A batch is paused at most `maxPauseMs` a step, so a steady
 * stream of single submissions slows batches down but never stops them.
 */
export interface BulkYield {
  /** An interactive submission starts being stored; call what it returns once it is queued or refused. */
  interactive(): () => void;
  /** Before a bulk upload's next chunk: null to go on at once, else a promise of its turn. */
  turn(): Promise<void> | null;
  /** Interactive submissions being stored now. */
  active(): number;
}

/** How long a bulk upload waits at most for interactive ones before it stores its next chunk. */
export const BULK_MAX_PAUSE_MS = 250;

export function createBulkYield(maxPauseMs = BULK_MAX_PAUSE_MS): BulkYield {
  let active = 0;
  let waiters: (() => void)[] = [];
  const wakeAll = () => {
    const ready = waiters;
    waiters = [];
    for (const wake of ready) wake();
  };
  return {
    interactive() {
      active++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        active--;
        if (active === 0) wakeAll();
      };
    },
    turn() {
      if (active === 0) return null;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== wake);
          resolve();
        }, maxPauseMs);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push(wake);
      });
    },
    active: () => active,
  };
}
