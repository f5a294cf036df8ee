import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { STREAM_NAME } from "@veriflow/events";
import type { NatsClients } from "@veriflow/nats";

/**
 * Reads who leads the events stream from its cluster info, asking with a short timeout: during
 * an election stream info gets no answer, and the poll's resolution is that timeout.
 */
export interface LeaderWatch {
  /** The leading node's server name; throws when the stream has none within `timeoutMs`. */
  leader(timeoutMs?: number): Promise<string>;
  /**
   * Polls until a node other than `killed` leads, or `killed` itself once `restarted()` says it
   * is back (it may win the election it rejoins: the stream was leaderless, so a leader it then
   * reports is a new one); resolves with it and when it was first seen (ms since the epoch). The
   * leaderless window is that minus the kill.
   */
  waitForNewLeader(killed: string, restarted?: () => boolean, timeoutMs?: number): Promise<{ leader: string; at: number }>;
}

export async function createLeaderWatch(client: NatsClients, pollTimeoutMs = 1000): Promise<LeaderWatch> {
  const jsm: JetStreamManager = await jetstreamManager(client.nc, { timeout: pollTimeoutMs });
  let lastError = "";
  const leader = async () => {
    try {
      return (await jsm.streams.info(STREAM_NAME)).cluster?.leader || null;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      return null;
    }
  };
  return {
    async leader(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await leader();
        if (now !== null) return now;
        if (Date.now() > deadline) throw new Error(`stream ${STREAM_NAME} has no leader (${lastError || "cluster info without one"})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitForNewLeader(killed, restarted = () => false, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const back = restarted();
        const now = await leader();
        if (now !== null && (now !== killed || back)) return { leader: now, at: Date.now() };
        if (Date.now() > deadline) throw new Error(`stream ${STREAM_NAME} had no leader but ${killed} within ${timeoutMs / 1000} s (${lastError})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
