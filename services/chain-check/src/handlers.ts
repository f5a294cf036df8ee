import { createEvent, type AnyEnvelope, type Envelope, type OnchainEntry, type Registration } from "@veriflow/events";
import { PermanentError, type HandlerContext } from "@veriflow/platform";
import { buildProofDocument, computeVerdict, parseDid } from "@veriflow/verify";

/** What the chain stage needs of one RPC endpoint. */
export interface ChainAccess {
  readEntry(registry: string, contentHash: string): Promise<OnchainEntry>;
  findRegistration(registry: string, contentHash: string): Promise<Registration | null>;
  chainId(): Promise<number>;
}

export interface ChainCheckDeps {
  /** The configured chain for null; a per-job endpoint only where allowed. */
  chainFor(rpcUrl: string | null): ChainAccess;
  rpcUrlAllowed(rpcUrl: string): boolean;
  now(): Date;
}

export function createHandlers(deps: ChainCheckDeps) {
  return {
    async onManifestChecked(event: Envelope<"manifest.checked">, ctx: HandlerContext): Promise<AnyEnvelope[]> {
      const { request, contentHash, manifest, recovered } = event.data;
      if (request.rpcUrl !== null && !deps.rpcUrlAllowed(request.rpcUrl)) {
        throw new PermanentError("E_RPC_URL_NOT_ALLOWED", "the job's rpcUrl is not in RPC_URL_ALLOWLIST");
      }
      const chain = deps.chainFor(request.rpcUrl);
      const onchain = await chain.readEntry(request.registryAddress, contentHash);
      const verify = computeVerdict({
        fileHash: contentHash,
        manifestContentHash: manifest.contentHash,
        recovered,
        creatorDidAddress: parseDid(manifest.creatorDid).address,
        submittedManifestUri: request.manifestUri,
        onchain,
      });
      let result = verify;
      if (request.jobType === "proof") {
        const registered = onchain.timestamp !== 0;
        const [chainId, registration] = await Promise.all([
          chain.chainId(),
          registered ? chain.findRegistration(request.registryAddress, contentHash) : Promise.resolve(null),
        ]);
        result = buildProofDocument({
          verify,
          chainId,
          registryAddress: request.registryAddress,
          registration,
          manifest,
          generatedAt: deps.now().toISOString(),
        });
      }
      ctx.log.debug({ contentHash, status: verify.status, reasons: verify.reasons }, "verdict");
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
