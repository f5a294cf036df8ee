import type { Sql } from "@veriflow/pg";
import { recordAttempts, type AttemptResult, type RecordedAttempt } from "./store.js";

/** Most attempts one statement records. */
const MAX_BATCH = 500;

interface Waiting {
  attempt: AttemptResult;
  resolve(recorded: RecordedAttempt): void;
  reject(err: unknown): void;
}

/**
 * Records attempts with natural batching: an attempt is written at once (on the next
 * microtask) when no write is in flight; attempts that end meanwhile wait for it and go
 * together in the next statement. No added latency when deliveries are few, one statement
 * for many when they are not. A failed write fails every attempt in it (their leases run
 * out and they are sent again, as when a single write failed).
 */
export function createAttemptRecorder(sql: Sql): { record(attempt: AttemptResult): Promise<RecordedAttempt> } {
  const queue: Waiting[] = [];
  let writing: Promise<void> | null = null;

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const recorded = await recordAttempts(sql, batch.map((w) => w.attempt));
        batch.forEach((w, i) => w.resolve(recorded[i]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    writing = null;
  };

  return {
    record(attempt) {
      return new Promise<RecordedAttempt>((resolve, reject) => {
        queue.push({ attempt, resolve, reject });
        writing ??= Promise.resolve().then(drain);
      });
    },
  };
}
