import type { Scope } from "@veriflow/auth";
import { HttpError } from "@veriflow/errors";
import type { JobPriority, JobRequest, JobType } from "@veriflow/events";

/** What decides a submission's class besides what it asked for. */
export interface PriorityContext {
  /** The scopes of the key it came with. */
  scopes: readonly Scope[];
  /** A client holds the connection open for the outcome (`/api/verify`, `?wait=`). */
  waits: boolean;
}

/**
 * The class a job runs in when it asks for none. Interactive: a single verification, and
 * anything a client waits for on its connection. Bulk: an asynchronous proof, whose log search
 * is the slowest step of any job (many block-range reads) and whose document nobody is waiting
 * on; as its own third class it would cost a third consumer per stage for no one's latency.
 */
export function defaultPriority(request: Pick<JobRequest, "jobType">, ctx: Pick<PriorityContext, "waits">): JobPriority {
  return ctx.waits || request.jobType === "verify" ? "interactive" : "bulk";
}

/**
 * The request with its class settled. Any key may lower its work to bulk; asking for
 * interactive where the default is bulk needs the `interactive` scope (403 otherwise).
 */
export function withPriority(request: JobRequest, ctx: PriorityContext): JobRequest {
  return { ...request, priority: settlePriority(request.jobType, request.priority, ctx) };
}

/** The class a job of `jobType` runs in when it asked for `asked` (undefined: nothing). */
export function settlePriority(jobType: JobType, asked: JobPriority | undefined, ctx: PriorityContext): JobPriority {
  const fallback = defaultPriority({ jobType }, ctx);
  const settled = asked ?? fallback;
  if (settled === "interactive" && fallback === "bulk" && !ctx.scopes.includes("interactive")) {
    throw new HttpError("E_PRIORITY_NOT_ALLOWED", `a ${jobType} job submitted without waiting runs as bulk work; this API key lacks the "interactive" scope needed to ask for interactive`);
  }
  return settled;
}
