import { STATUS_CODES } from "node:http";
import type { FetchGetUrlFunc } from "ethers";
import type { Dispatcher } from "undici";
import { PermanentError, TransientError } from "@veriflow/errors";
import { redactUrl } from "@veriflow/platform";
import { describeNetworkError } from "../network-error.js";
import { boundedRequest } from "../manifest/safe-http.js";
import { inSpan } from "@veriflow/tracing";
import { countRpcRequest } from "./chain-metrics.js";

export interface RpcFetchOptions {
  /** The manifest fetcher's guarded agent (createGuardedAgent), with the RPC refusal code. */
  dispatcher: Dispatcher;
  /** Largest response body read; a bigger one fails the call (E_RPC_RESPONSE_TOO_LARGE). */
  maxResponseBytes: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * How ethers sends a JSON-RPC request (FetchRequest.getUrlFunc, set per provider, never the
 * process-wide registerGetUrl): through the guarded agent the manifest fetcher uses, so a
 * per-job rpcUrl gets the same address check on every connection it opens (DNS rebinding
 * included), with the request's timeout as a deadline and a cap on the response's size.
 *
 * Redirects are not followed, and not handed to ethers either: ethers follows 301/302/307/308
 * itself with a new FetchRequest that has lost this function, so the redirected request
 * would go out through node:http, unguarded. A JSON-RPC endpoint has no reason to redirect
 * a POST; the job fails with E_RPC_REDIRECTED, naming the status, and the operator
 * configures the final URL.
 *
 * Every call sent is counted here (veriflow_chain_rpc_requests_total), the one place all of
 * them pass: the reader's, the registration search's, the clock's, ethers' 429 retries; and
 * each is a span (named after its JSON-RPC method: eth_call, eth_blockNumber; a batch after
 * its methods), failed when the call fails.
 */
export function createRpcGetUrl(opts: RpcFetchOptions): FetchGetUrlFunc {
  return async (req, signal) => {
    const url = new URL(req.url);
    const deadline = new AbortController();
    signal?.addListener(() => deadline.abort());
    const timer = setTimeout(() => deadline.abort(), req.timeout);
    const headers: Record<string, string> = { ...req.headers };
    delete headers["accept-encoding"]; // undici does not decompress; ask for identity
    if (url.username !== "" || url.password !== "") {
      // What node:http does with user:password@ in a URL, which ethers' own fetch relied on.
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    }
    const methods = countRpcRequest(req.body);
    const attributes = { "rpc.system": "jsonrpc", "rpc.method": methods.join(","), "server.address": url.hostname, "rpc.jsonrpc.batch_size": methods.length };
    return inSpan([...new Set(methods)].join(" ") || "jsonrpc", { attributes }, async () => {
      try {
        const res = await boundedRequest(opts.dispatcher, url, {
          method: req.method === "GET" ? "GET" : "POST",
          body: req.body ?? undefined,
          headers,
          signal: deadline.signal,
          timeoutMs: req.timeout,
          maxBytes: opts.maxResponseBytes,
          tooLargeCode: "E_RPC_RESPONSE_TOO_LARGE",
          readEveryBody: true,
        });
        if (REDIRECTS.has(res.status)) {
          throw new PermanentError("E_RPC_REDIRECTED", `${redactUrl(req.url)} answered ${res.status} (a redirect); redirects are not followed: use the endpoint's final URL`);
        }
        const flat = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
        return { statusCode: res.status, statusMessage: STATUS_CODES[res.status] ?? "", headers: flat, body: res.body !== null && res.body.length > 0 ? res.body : null };
      } catch (err) {
        if (err instanceof PermanentError || err instanceof TransientError) throw err;
        if (deadline.signal.aborted) throw new TransientError("E_RPC_UNAVAILABLE", `${redactUrl(req.url)}: no complete answer within ${req.timeout} ms`, { cause: err });
        throw new TransientError("E_RPC_UNAVAILABLE", `${redactUrl(req.url)}: ${describeNetworkError(err)}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    });
  };
}
