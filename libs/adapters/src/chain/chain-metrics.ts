import { Counter } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const chainRpcRequests = new Counter({
  name: "veriflow_chain_rpc_requests_total",
  help: "JSON-RPC calls sent to chain endpoints, by method (each call of a JSON-RPC batch, each retry of a rate-limited request).",
  labelNames: ["method"] as const,
  registers: [],
});

export const chainReadCache = new Counter({
  name: "veriflow_chain_read_cache_total",
  help: "Registry entry reads, by outcome: hit (answered by a read of the same registry, hash and block, done or in flight), miss (sent to the node).",
  labelNames: ["outcome"] as const,
  registers: [],
});

/** Called where chain endpoints are made: a process that reads the chain reports these. */
export function registerChainMetrics(): void {
  registerMetrics(chainRpcRequests, chainReadCache);
}

/** Counts the calls of one JSON-RPC request body (an object, or an array for a batch); returns their methods. */
export function countRpcRequest(body: Uint8Array | null): string[] {
  const methods: string[] = [];
  if (body === null) return methods;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch {
    return methods; // ethers only sends JSON; anything else is not a JSON-RPC call to count
  }
  for (const call of [payload].flat()) {
    const method = (call as { method?: unknown } | null)?.method;
    if (typeof method === "string") {
      chainRpcRequests.inc({ method });
      methods.push(method);
    }
  }
  return methods;
}
