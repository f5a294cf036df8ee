import { createEvent, type Envelope } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import type { HandlerContext } from "@veriflow/pipeline";
import { decideOnChain, type ChainAccess } from "@veriflow/verify";

export interface ChainCheckDeps {
  /** The configured chain for null; a per-job endpoint only where allowed. */
  chainFor(rpcUrl: string | null): ChainAccess;
  rpcUrlAllowed(rpcUrl: string): boolean;
  now(): Date;
}

export function createHandlers(deps: ChainCheckDeps) {
  return {
    async onManifestChecked(event: Envelope<"manifest.checked">, ctx: HandlerContext): Promise<Envelope<"verification.completed">[]> {
      const { request, contentHash } = event.data;
      if (request.rpcUrl !== null && !deps.rpcUrlAllowed(request.rpcUrl)) {
        throw new PermanentError("E_RPC_URL_NOT_ALLOWED", "the job's rpcUrl is not in RPC_URL_ALLOWLIST");
      }
      const result = await decideOnChain(deps.chainFor(request.rpcUrl), request, contentHash, event.data, deps.now());
      ctx.log.debug({ contentHash, status: result.status, reasons: result.reasons }, "verdict");
      return [
        createEvent(
          "verification.completed",
          { jobId: event.data.jobId, jobType: request.jobType, contentHash, result, attempts: ctx.attempt },
          event,
          deps.now(),
        ),
      ];
    },
  };
}
