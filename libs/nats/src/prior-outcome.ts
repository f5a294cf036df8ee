import type { JetStreamManager } from "@nats-io/jetstream";
import { EventDecodeError, deriveEventId, isTerminalType, priorityOf, runOf, terminalEventTypes, type AnyEnvelope, type Envelope, type EventType, type JobPriority } from "@veriflow/events";
import { findLastEvent } from "./stream-lookup.js";

/**
 * What the stream already holds for an input a stage is handed again: its job's terminal
 * event of this run or a later one (a retry is run n+1 of the same job, and an earlier
 * run's ending says nothing about it), or the outputs this very input caused
 * (their ids are derived from its id). Null when neither is stored: the input is new work.
 *
 * This is what makes a redelivery harmless even when redoing the work is not: the hashing
 * stage deletes an upload once its hash is acknowledged, so a request redelivered after a
 * crash (or by a recreated consumer) would otherwise find no upload and fail a job that
 * had already moved on.
 */
export async function findPriorOutcome(jsm: JetStreamManager, event: Envelope, produces: readonly EventType[]): Promise<AnyEnvelope | null> {
  const jobId = event.correlationId;
  // The outputs carry the input's request, so they are on the subjects of its priority.
  const priority = "request" in event.data ? priorityOf(event.data.request) : undefined;
  const lookups = [
    findJobEnding(jsm, jobId, runOf(event)),
    ...produces
      .filter((type) => !isTerminalType(type))
      .map(async (type) => {
        const found = await lookup(jsm, type, jobId, priority);
        return found?.id === deriveEventId(event.id, type) ? found : null;
      }),
  ];
  for (const found of await Promise.all(lookups)) if (found) return found;
  return null;
}

/**
 * The job's terminal event of run `fromRun` or a later one, as the stream holds it (its
 * `completed` and `failed` share one id, so at most one is stored per run). Null when
 * the job has not ended since that run began.
 */
export async function findJobEnding(jsm: JetStreamManager, jobId: string, fromRun: number): Promise<AnyEnvelope | null> {
  const found = await Promise.all(terminalEventTypes.map((type) => lookup(jsm, type, jobId)));
  return found.find((e) => e !== null && runOf(e) >= fromRun) ?? null;
}

/** The last event on a job's subject; one that cannot be decoded is not an outcome. */
async function lookup(jsm: JetStreamManager, type: EventType, jobId: string, priority?: JobPriority): Promise<AnyEnvelope | null> {
  return findLastEvent(jsm, type, jobId, priority).catch((err: unknown) => {
    if (err instanceof EventDecodeError) return null;
    throw err;
  });
}
