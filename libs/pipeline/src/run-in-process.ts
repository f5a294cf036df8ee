import { isTerminalType, stageConsuming, type AnyEnvelope, type Envelope, type StageName } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import { failedEventFor } from "./give-up.js";
import type { HandlerContext, StageHandlers } from "./stage-module.js";

export type TerminalEnvelope = Envelope<"verification.completed"> | Envelope<"verification.failed">;

export interface PipelineRun {
  /** The job's one terminal event. */
  outcome: TerminalEnvelope;
  /** Every event of the job in the order it was caused, the request first. */
  events: AnyEnvelope[];
}

/** A job causes one event per stage; more than this means the descriptor loops. */
const MAX_EVENTS = 64;

/**
 * Runs one job through the pipeline without a broker: each event goes to the handler of
 * the stage that consumes it (pipeline.ts), and its outputs go on to the next stage,
 * until a terminal event. A handler that throws ends the job the way a stage that gives
 * up does, with `verification.failed` naming the stage: one attempt, no retries, since
 * whoever runs this (the gateway's fallback) has a client waiting.
 */
export async function runInProcess(
  handlers: StageHandlers,
  request: Envelope<"verification.requested">,
  opts: { log: Logger; signal?: AbortSignal },
): Promise<PipelineRun> {
  const events: AnyEnvelope[] = [request];
  const pending: AnyEnvelope[] = [request];
  for (let event = pending.shift(); event; event = pending.shift()) {
    if (isTerminalType(event.type)) return { outcome: event as TerminalEnvelope, events };
    opts.signal?.throwIfAborted();
    const spec = stageConsuming(event.type);
    if (!spec) throw new Error(`no stage consumes ${event.type}, and it is not a terminal event`);
    const stage = spec.service as StageName;
    // The descriptor pairs each stage with the event type it consumes; the map's type pairs each handler with its stage.
    const handle = handlers[stage] as unknown as (e: AnyEnvelope, ctx: HandlerContext) => Promise<AnyEnvelope[]>;
    const log = opts.log.child({ stage, jobId: event.correlationId });
    let outputs: AnyEnvelope[];
    try {
      outputs = await handle(event, { attempt: 1, log });
    } catch (err) {
      const failed = failedEventFor(stage, event, err, 1);
      log.warn({ err, code: failed.data.code }, "stage failed in-process");
      outputs = [failed];
    }
    events.push(...outputs);
    pending.push(...outputs);
    if (events.length > MAX_EVENTS) throw new Error(`job ${request.correlationId} caused more than ${MAX_EVENTS} events in-process`);
  }
  throw new Error(`job ${request.correlationId} ended without a terminal event`);
}
