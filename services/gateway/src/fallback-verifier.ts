import type { Readable } from "node:stream";
import type multer from "@koa/multer";
import { createChainEndpoints, createManifestFetcher, type ChainEndpointConfig, type ManifestFetchConfig } from "@veriflow/adapters";
import type { JobRequest, ProofDocument, VerifyResult } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { checkManifest, createContentHasher, decideOnChain } from "@veriflow/verify";
import { toHttpError } from "./failure-status.js";

/**
 * The synchronous fallback: while the queue (NATS JetStream) is unreachable the gateway
 * verifies in-process, with the same adapters and the same two steps (checkManifest,
 * decideOnChain) the manifest and chain-check stages run. One attempt, no retries: the
 * client is waiting.
 */
export interface FallbackVerifier {
  /** Throws HttpError (mapped by failure code, see failure-status.ts). */
  verify(request: JobRequest, contentHash: string): Promise<VerifyResult | ProofDocument>;
  close(): Promise<void>;
}

export interface FallbackConfig {
  fetch: ManifestFetchConfig;
  chain: ChainEndpointConfig;
}

export function createFallbackVerifier(config: FallbackConfig, log: Logger): FallbackVerifier {
  const fetcher = createManifestFetcher(config.fetch, log);
  const chains = createChainEndpoints(config.chain);
  return {
    async verify(request, contentHash) {
      let check;
      try {
        const { bytes, cid } = await fetcher.fetchManifest(request.manifestUri);
        check = checkManifest({ bytes, cid, uri: request.manifestUri, contentHash });
      } catch (err) {
        throw toHttpError(err, "manifest");
      }
      try {
        const rpc = request.rpcUrl === null ? null : chains.checkRpcUrl(request.rpcUrl);
        if (rpc && !rpc.ok) throw new PermanentError(rpc.code, rpc.message);
        return await decideOnChain(chains.chainFor(request.rpcUrl), request, contentHash, check, new Date());
      } catch (err) {
        throw toHttpError(err, "chain-check");
      }
    },
    async close() {
      await Promise.allSettled([fetcher.close(), chains.close()]);
    },
  };
}

/** What the hashing storage hands multer instead of a stored file. */
export interface HashedFile {
  contentHash: string;
  size: number;
}

/**
 * A multer storage engine that hashes the file part as it arrives and keeps nothing:
 * each chunk is fed to SHA-256 and dropped, so memory stays flat for any file size.
 */
export function createHashingStorage(): multer.StorageEngine {
  return {
    _handleFile(_req, file, cb) {
      const stream = (file as multer.File & { stream: Readable }).stream;
      const hasher = createContentHasher();
      let size = 0;
      stream.on("data", (chunk: Buffer) => {
        hasher.update(chunk);
        size += chunk.length;
      });
      stream.once("error", (err) => cb(err));
      stream.once("end", () => cb(null, { contentHash: hasher.digest(), size } satisfies HashedFile as unknown as multer.File));
    },
    _removeFile(_req, _file, cb) {
      cb(null as unknown as Error);
    },
  };
}
