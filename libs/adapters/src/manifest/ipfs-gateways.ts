import type { Dispatcher } from "undici";
import { PermanentError, TransientError, errorMessage } from "@veriflow/errors";
import { redactUrl, type Logger } from "@veriflow/platform";
import { parseIpfsUri, resolveIpfs, verifyBlock, type FetchBlock } from "@veriflow/verify";
import { describeNetworkError } from "../network-error.js";
import { LruCache } from "../lru-cache.js";
import { boundedGet } from "./safe-http.js";

/**
 * ipfs:// reads through trustless HTTP gateways: raw blocks (`GET /ipfs/<cid>?format=raw`,
 * `Accept: application/vnd.ipld.raw`), each verified against its CID, assembled by
 * resolveIpfs. Gateways are tried in order, each with its own deadline for the whole
 * resolution; verified blocks are kept in a small LRU shared by all gateways.
 */

type CID = Parameters<FetchBlock>[0];

/** Blocks beyond this are not served by the IPFS network; a bigger answer is a bad gateway. */
const MAX_BLOCK_BYTES = 2 * 1024 * 1024;

export interface IpfsGatewayOptions {
  gateways: readonly string[];
  timeoutMs: number;
  maxBytes: number;
  dispatcher: Dispatcher;
  log?: Pick<Logger, "debug" | "warn"> | undefined;
  /** Verified blocks by multihash (base64), shared by all gateways. */
  cache?: LruCache<string, Uint8Array>;
}

/** A gateway that could not serve a block (down, slow, 4xx/5xx, not a raw block). */
class GatewayFailure extends Error {
  override name = "GatewayFailure";
}

export function createIpfsReader(opts: IpfsGatewayOptions) {
  const gateways = opts.gateways.map((g) => g.replace(/\/+$/, ""));
  const cache = opts.cache ?? new LruCache<string, Uint8Array>(4096, 32 * 1024 * 1024, (block) => block.length);

  async function fetchBlock(gateway: string, cid: CID, signal: AbortSignal): Promise<Uint8Array> {
    const key = keyOf(cid.multihash.bytes);
    const hit = cache.get(key);
    if (hit) return hit;
    const cidText = cid.toString();
    let res;
    try {
      res = await boundedGet(opts.dispatcher, new URL(`${gateway}/ipfs/${cidText}?format=raw`), {
        signal,
        timeoutMs: opts.timeoutMs,
        maxBytes: MAX_BLOCK_BYTES,
        tooLargeCode: "E_IPFS_BLOCK_TOO_LARGE",
        headers: { accept: "application/vnd.ipld.raw", "user-agent": "veriflow-manifest" },
      });
    } catch (err) {
      const why = signal.aborted ? `timed out after ${opts.timeoutMs} ms` : err instanceof PermanentError ? err.message : describeNetworkError(err);
      throw new GatewayFailure(why, { cause: err });
    }
    if (res.body === null) throw new GatewayFailure(`answered ${res.status} for block ${cidText}`);
    const type = String(res.headers["content-type"] ?? "");
    if (type !== "" && !type.startsWith("application/vnd.ipld.raw")) {
      throw new GatewayFailure(`answered ${type} instead of a raw block (not a trustless gateway?)`);
    }
    verifyBlock(cid, res.body); // E_CID_MISMATCH: substituted bytes are never used nor cached
    cache.set(key, res.body);
    return res.body;
  }

  /** Resolves an ipfs:// URI to verified bytes; returns the root CID they were checked against. */
  async function readIpfs(uri: string): Promise<{ bytes: Uint8Array; cid: string }> {
    const { cid, path } = parseIpfsUri(uri);
    const failures: string[] = [];
    let tampered = 0;
    for (const gateway of gateways) {
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), opts.timeoutMs);
      try {
        const bytes = await resolveIpfs(cid, path, (c) => fetchBlock(gateway, c, deadline.signal), { maxBytes: opts.maxBytes });
        return { bytes, cid: cid.toString() };
      } catch (err) {
        const isTamper = err instanceof PermanentError && err.code === "E_CID_MISMATCH";
        if (!isTamper && !(err instanceof GatewayFailure)) throw err; // a verdict on verified content: same everywhere
        if (isTamper) tampered++;
        failures.push(`${redactUrl(gateway)}: ${errorMessage(err)}`);
        opts.log?.warn({ gateway: redactUrl(gateway), cid: cid.toString(), err: errorMessage(err), tampered: isTamper }, "ipfs gateway failed");
      } finally {
        clearTimeout(timer);
        deadline.abort(); // cancels block fetches still in flight after a failure
      }
    }
    if (gateways.length > 0 && tampered === gateways.length) {
      throw new PermanentError("E_CID_MISMATCH", `every gateway returned bytes that do not match ${cid}: ${failures.join("; ")}`);
    }
    const why = gateways.length === 0 ? "no IPFS gateway is configured" : failures.join("; ");
    throw new TransientError("E_IPFS_UNAVAILABLE", `could not fetch ${uri} from IPFS: ${why}`);
  }

  return { readIpfs, cache };
}

const keyOf = (multihash: Uint8Array) => Buffer.from(multihash.buffer, multihash.byteOffset, multihash.byteLength).toString("base64");
