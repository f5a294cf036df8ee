/**
 * When a failed delivery is tried again: a fixed, roughly exponential schedule (the
 * delay before attempt n+1 is schedule[n-1], the last entry repeating), each delay
 * jittered by ±20 % so receivers coming back from an outage are not hit in lockstep.
 * Attempts stop once the next one would start after the delivery's expiry
 * (WEBHOOK_MAX_AGE_MS, 24 h by default).
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR];

export const RETRY_JITTER = 0.2;

/** The delay after failed attempt number `attempt` (1-based). */
export function retryDelayMs(attempt: number, schedule: readonly number[], random: () => number = Math.random): number {
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1]!;
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

/** When attempt `attempt + 1` is due, or null when it would start after `expiresAt`. */
export function nextAttemptAt(attempt: number, now: Date, expiresAt: Date, schedule: readonly number[], random: () => number = Math.random): Date | null {
  const at = new Date(now.getTime() + retryDelayMs(attempt, schedule, random));
  return at.getTime() <= expiresAt.getTime() ? at : null;
}
