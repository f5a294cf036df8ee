import { JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { CHAIN_ID } from "./chain.js";

/** One JSON-RPC call as it was sent. */
export interface RecordedCall {
  method: string;
  params: unknown[];
}

/**
 * A provider for a chain from startChain (static network, no batching, no response cache, as the
 * pipeline's are) that keeps every call it sends: a test counts and inspects the calls of the code
 * it hands this provider to, without that code knowing.
 */
export class RecordingProvider extends JsonRpcProvider {
  readonly calls: RecordedCall[] = [];

  constructor(url: string) {
    super(url, Network.from(CHAIN_ID), { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    for (const p of [payload].flat()) this.calls.push({ method: p.method, params: p.params as unknown[] });
    return super._send(payload);
  }

  /** How many `method` calls were sent. */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}
