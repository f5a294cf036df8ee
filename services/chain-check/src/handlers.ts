import type { RpcUrlCheck } from "@veriflow/adapters";
import { createEvent, type Envelope } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import type { HandlerContext } from "@veriflow/pipeline";
import { decideOnChain, type ChainAccess } from "@veriflow/verify";

export interface ChainCheckDeps {
  /** The configured chain for null; a per-job endpoint only where allowed. */
  chainFor(rpcUrl: string | null): ChainAccess;
  /** Whether the job may name its own endpoint (checkRpcUrl, @veriflow/adapters). */
  checkRpcUrl(rpcUrl: string): RpcUrlCheck;
  now(): Date;
}

export function createHandlers(deps: ChainCheckDeps) {
  return {
    async onManifestChecked(event: Envelope<"manifest.checked">, ctx: HandlerContext): Promise<Envelope<"verification.completed">[]> {
      const { request, contentHash } = event.data;
      const rpc = request.rpcUrl === null ? null : deps.checkRpcUrl(request.rpcUrl);
      if (rpc && !rpc.ok) throw new PermanentError(rpc.code, rpc.message);
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
