import { readRegistryLogs, type LogReader } from "@veriflow/adapters";
import type { AnyEnvelope, RegistryChangedEvent } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import type { Sql, TransactionSql } from "@veriflow/pg";
import { changedAtOf, registryChangedEvent, reverifyEvent } from "./handlers.js";
import { planReadWindow, reconcileLogs, type RegistryLog } from "./read-window.js";
import { recheckOnce } from "./rechecks.js";
import { knownLogs, listRegistries, lockRegistry, saveWindow, takeJobsToReverify } from "./store.js";

export interface FollowerDeps {
  sql: Sql;
  log: Logger;
  chain: LogReader & { getBlockNumber(): Promise<number> };
  publishChanges(events: readonly RegistryChangedEvent[]): Promise<void>;
  publishRuns(events: readonly AnyEnvelope[]): Promise<void>;
  /** Forgets the known verdicts of a registry entry decided before its change at `changedAt` (none is answered from again). */
  forgetKnownVerdicts?(registryAddress: string, contentHash: string, changedAt: number): Promise<unknown>;
  confirmations: number;
  reorgDepth: number;
  maxRange: number;
  now(): Date;
}

export interface PassResult {
  changes: RegistryChangedEvent[];
  runs: AnyEnvelope[];
}

/**
 * One pass over every followed registry. Each registry is read in a transaction that holds
 * its checkpoint row (FOR UPDATE SKIP LOCKED: with several replicas, each registry is read by
 * one at a time, and the others move on): the window's logs are reconciled with those known,
 * each new (or vanished) log becomes a registry.changed and re-verifies the latest completed
 * job of each (tenant, content hash, manifest URI) it touches, both published before the
 * checkpoint commits. A crash in between reads the window again: the same log makes the same
 * event id (the stream drops it) and is then known.
 */
export async function followOnce(deps: FollowerDeps): Promise<PassResult> {
  const result: PassResult = { changes: [], runs: [] };
  const registries = await listRegistries(deps.sql);
  if (registries.length === 0) return result;
  const head = await deps.chain.getBlockNumber();
  for (const { address } of registries) {
    const pass = await deps.sql.begin(async (tx) => {
      const registry = await lockRegistry(tx, address);
      if (!registry) return null;
      const window = planReadWindow({ ...registry, head, confirmations: deps.confirmations, reorgDepth: deps.reorgDepth, maxRange: deps.maxRange });
      if (!window) return null;
      const read = await readRegistryLogs(deps.chain, address, window.fromBlock, window.toBlock);
      const { added, removed } = reconcileLogs(await knownLogs(tx, address, window.fromBlock, window.toBlock), read, window);
      const now = deps.now();
      const changes = [...added.map((l) => registryChangedEvent(address, l, false, now)), ...removed.map((l) => registryChangedEvent(address, l, true, now))];
      const changedAt = changedAtOf(added, removed, registry.nextBlock);
      // Before anything is published: a failed forget fails the pass, which reads the window again.
      for (const [hash, at] of changedAt) await deps.forgetKnownVerdicts?.(address, hash, at);
      const runs = await reverifications(tx, address, [...added, ...removed], changes, changedAt, now);
      if (changes.length > 0) await deps.publishChanges(changes);
      if (runs.length > 0) await deps.publishRuns(runs);
      await saveWindow(tx, address, added, removed, window.nextBlock, window.nextBlock - deps.reorgDepth);
      if (changes.length > 0) deps.log.info({ registry: address, ...window, changes: changes.length, reverifications: runs.length }, "registry changed");
      return { changes, runs };
    });
    if (pass) {
      result.changes.push(...pass.changes);
      result.runs.push(...pass.runs);
    }
  }
  return result;
}

/**
 * Each changed content hash's latest change: its block, or for a log that left the chain every
 * block (Number.MAX_SAFE_INTEGER), since a verdict may have been read on the replaced blocks.
 */
/** One new run per job whose entry changed (verdict read before `changedAt`), caused by the first change that touched it. */
async function reverifications(
  tx: TransactionSql,
  address: string,
  logs: readonly RegistryLog[],
  changes: readonly RegistryChangedEvent[],
  changedAt: ReadonlyMap<string, number>,
  now: Date,
): Promise<AnyEnvelope[]> {
  const causeOf = new Map<string, string>();
  logs.forEach((l, i) => {
    if (!causeOf.has(l.contentHash)) causeOf.set(l.contentHash, changes[i]!.id);
  });
  const jobs = await takeJobsToReverify(tx, address, changedAt);
  return jobs.map((job) => reverifyEvent(job.hashed, job.run, causeOf.get(job.contentHash)!, now) as AnyEnvelope);
}

export interface Follower {
  stop(): Promise<void>;
  /** Whether the last pass reached the chain and the database. */
  healthy(): boolean;
}

/**
 * Runs a pass every `pollMs` until stopped: the registries' logs, then the scheduled re-checks
 * that are due. A failed pass is logged and the next one tries again.
 */
export function startFollower(deps: FollowerDeps & { pollMs: number }): Follower {
  let stopped = false;
  let healthy = true;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = followOnce(deps)
      .then(() => recheckOnce(deps))
      .then(() => {
        healthy = true;
      })
      .catch((err: unknown) => {
        healthy = false;
        deps.log.warn({ err }, "registry pass failed");
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, deps.pollMs);
      });
  };
  tick();
  return {
    healthy: () => healthy,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
