import type { JobPriority } from "@veriflow/events";

/** One class's side of the slots: its consume loop waits here before handling a message. */
export interface ClassSlots {
  /** Resolves true once a message of this class may start; false if cancelled first (the loop stops). */
  acquire(): Promise<boolean>;
  /** A message of this class is done. */
  release(): void;
  /** Every waiter of this class gets false: its message is given back unstarted. */
  cancel(): void;
}

export interface PrioritySlots {
  of(priority: JobPriority): ClassSlots;
  /** Running now, by class (tests, logs). */
  running(priority: JobPriority): number;
  /** The most bulk messages a stage holds: it pulls no more than it may run. */
  readonly bulkLimit: number;
}

/**
 * A stage's concurrency shared by its two consumers (one per priority class, topology.ts).
 * Interactive messages start first whenever a slot is free. Bulk messages use only spare
 * capacity, and never the last eighth (`headroom`): a message of a single submission
 * arriving while a batch fills the stage starts at once instead of waiting for a bulk
 * message to finish. Bulk is never starved either: while bulk waits, interactive work may
 * not take the last tenth (`bulkFloor`, at least one slot), so a stream of interactive
 * work slows a batch down but cannot stop it.
 */
export function createPrioritySlots(capacity: number): PrioritySlots {
  const headroom = Math.floor(capacity / 8);
  const bulkFloor = Math.max(1, Math.floor(capacity / 10));
  const running = { interactive: 0, bulk: 0 };
  const waiting = { interactive: [] as ((ok: boolean) => void)[], bulk: [] as ((ok: boolean) => void)[] };
  const total = () => running.interactive + running.bulk;

  const mayStart = (p: JobPriority): boolean => {
    if (total() >= capacity) return false;
    if (p === "interactive") return waiting.bulk.length === 0 || running.bulk >= bulkFloor || running.interactive < capacity - bulkFloor;
    return running.bulk < capacity - headroom || running.bulk < bulkFloor;
  };

  /** Starts whoever may start, interactive first. */
  const dispatch = () => {
    for (const p of ["interactive", "bulk"] as const) {
      while (waiting[p].length > 0 && mayStart(p)) {
        running[p]++;
        waiting[p].shift()!(true);
      }
    }
  };

  const of = (p: JobPriority): ClassSlots => ({
    acquire() {
      if (waiting[p].length === 0 && mayStart(p)) {
        running[p]++;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => waiting[p].push(resolve));
    },
    release() {
      running[p] = Math.max(0, running[p] - 1);
      dispatch();
    },
    cancel() {
      for (const resolve of waiting[p].splice(0)) resolve(false);
      dispatch();
    },
  });

  return { of, running: (p) => running[p], bulkLimit: Math.max(bulkFloor, capacity - headroom) };
}
