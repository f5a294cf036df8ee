import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import { lookupAlways } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FetchRequest } from "ethers";
import { createGuardedAgent } from "../manifest/safe-http.js";
import { chainRpcRequests } from "./chain-metrics.js";
import { createChainEndpoints } from "./chain-access.js";
import { createRpcProvider } from "./rpc.js";
import { createRpcGetUrl } from "./rpc-fetch.js";

// A JSON-RPC endpoint on 127.0.0.1 that answers as each test tells it; nothing here
// connects anywhere else (the refused addresses are refused before a socket is opened).
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
interface Endpoint {
  server: Server;
  url: string;
  port: number;
  seen: { method: string; authorization?: string }[];
  handle: Handler;
}

async function startEndpoint(): Promise<Endpoint> {
  const ep = { seen: [], handle: answerChainId } as unknown as Endpoint;
  ep.server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      ep.seen.push({ method: (JSON.parse(body || "{}") as { method?: string }).method ?? "", authorization: req.headers.authorization });
      ep.handle(req, body, res);
    });
  });
  await new Promise<void>((resolve) => ep.server.listen(0, "127.0.0.1", resolve));
  ep.port = (ep.server.address() as AddressInfo).port;
  ep.url = `http://127.0.0.1:${ep.port}/`;
  return ep;
}

const answerChainId: Handler = (_req, body, res) => {
  const { id } = JSON.parse(body) as { id: number };
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id, result: "0x7a69" }));
};


let rpc: Endpoint;
let elsewhere: Endpoint;
beforeAll(async () => {
  [rpc, elsewhere] = await Promise.all([startEndpoint(), startEndpoint()]);
});
afterAll(async () => {
  for (const ep of [rpc, elsewhere]) ep?.server.closeAllConnections();
  await Promise.all([rpc, elsewhere].map((ep) => ep && new Promise((r) => ep.server.close(r))));
});

function providerFor(url: string, opts: { allowed?: string[]; lookup?: LookupFunction; maxResponseBytes?: number; timeoutMs?: number } = {}) {
  const agent = createGuardedAgent({
    allowedPrivateHosts: opts.allowed ?? [],
    connectTimeoutMs: 1000,
    lookup: opts.lookup,
    refusal: { code: "E_RPC_HOST_NOT_ALLOWED", allowSetting: "ALLOWED_PRIVATE_HOSTS" },
  });
  const provider = createRpcProvider(url, { timeoutMs: opts.timeoutMs ?? 2000, getUrl: createRpcGetUrl({ dispatcher: agent, maxResponseBytes: opts.maxResponseBytes ?? 64 * 1024 }) });
  return {
    chainId: () => provider.send("eth_chainId", []) as Promise<string>,
    close: async () => {
      provider.destroy();
      await agent.close();
    },
  };
}

const sent = async (method: string) => (await chainRpcRequests.get()).values.find((v) => v.labels.method === method)?.value ?? 0;

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as { code?: string; message: string });

describe("a per-job rpcUrl goes through the manifest fetcher's guard", () => {
  it("reaches an allowed endpoint, with the basic credentials its URL carries", async () => {
    rpc.handle = answerChainId;
    const p = providerFor(`http://user:p%40ss@127.0.0.1:${rpc.port}/`, { allowed: [`127.0.0.1:${rpc.port}`] });
    expect(await p.chainId()).toBe("0x7a69");
    expect(rpc.seen.at(-1)).toEqual({ method: "eth_chainId", authorization: `Basic ${Buffer.from("user:p@ss").toString("base64")}` });
    await p.close();
  });

  it("refuses a name that resolves to a non-public address on connect (DNS rebinding), without sending, and without saying where it resolved", async () => {
    const before = rpc.seen.length;
    const p = providerFor(`http://rpc.rebinding.example:${rpc.port}/`, { lookup: lookupAlways("127.0.0.1") });
    const err = await failure(p.chainId());
    expect(err).toMatchObject({ code: "E_RPC_HOST_NOT_ALLOWED", message: expect.stringContaining("resolves to a non-public address") });
    expect(err!.message).not.toContain("127.0.0.1");
    expect(rpc.seen.length).toBe(before);
    await p.close();
  });

  it("refuses non-public literals before any connection: createChainEndpoints exempts only the hosts the operator named", async () => {
    const chains = createChainEndpoints({
      rpcUrl: rpc.url,
      rpcUrlAllowlist: ["*"],
      allowedPrivateHosts: [],
      rpcTimeoutMs: 2000,
      rpcMaxResponseBytes: 64 * 1024,
      maxBatch: 10,
      maxInFlight: 1,
      blockMaxAgeMs: 500,
      readWindowMs: 5,
      readCacheEntries: 100,
      logsFromBlock: 0,
      logsChunk: 100,
      logsMaxRange: 100,
    });
    expect(await chains.main.chainId()).toBe(31337); // RPC_URL on 127.0.0.1: named by the operator
    for (const url of ["http://10.0.0.1:8545/", "http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://[::ffff:10.0.0.1]/"]) {
      expect(await failure(chains.chainFor(url).chainId()), url).toMatchObject({ code: "E_RPC_HOST_NOT_ALLOWED" });
    }
    await chains.close();
  });

  it("does not follow a redirect, not even to an allowed host", async () => {
    rpc.handle = (_req, _body, res) => res.writeHead(307, { location: elsewhere.url }).end();
    const before = elsewhere.seen.length;
    const p = providerFor(rpc.url, { allowed: ["127.0.0.1"] });
    expect(await failure(p.chainId())).toMatchObject({ code: "E_RPC_REDIRECTED", message: expect.stringContaining("307") });
    expect(elsewhere.seen.length).toBe(before);
    await p.close();
  });

  it("stops reading an answer past the size limit", async () => {
    rpc.handle = (_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"jsonrpc":"2.0","id":1,"result":"0x${"0".repeat(200_000)}"}`);
    };
    const p = providerFor(rpc.url, { allowed: ["127.0.0.1"], maxResponseBytes: 64 * 1024 });
    expect(await failure(p.chainId())).toMatchObject({ code: "E_RPC_RESPONSE_TOO_LARGE" });
    await p.close();
  });

  it("gives up on an endpoint that does not answer within the timeout", async () => {
    rpc.handle = () => {}; // never answers
    const p = providerFor(rpc.url, { allowed: ["127.0.0.1"], timeoutMs: 300 });
    const started = Date.now();
    expect(await failure(p.chainId())).toMatchObject({ code: "E_RPC_UNAVAILABLE", message: expect.stringContaining("within 300 ms") });
    expect(Date.now() - started).toBeLessThan(2000);
    await p.close();
    rpc.server.closeAllConnections();
  });

  it("counts every call it sends by method, each call of a JSON-RPC batch, answered or not", async () => {
    rpc.handle = answerChainId;
    const [chainIds, blockNumbers] = [await sent("eth_chainId"), await sent("eth_blockNumber")];
    const p = providerFor(rpc.url, { allowed: ["127.0.0.1"] });
    await p.chainId();
    expect(await sent("eth_chainId")).toBe(chainIds + 1);
    // A batch, as a provider with batching would send it (the pipeline's providers do not batch).
    const agent = createGuardedAgent({ allowedPrivateHosts: ["127.0.0.1"], connectTimeoutMs: 1000, refusal: { code: "E_RPC_HOST_NOT_ALLOWED", allowSetting: "ALLOWED_PRIVATE_HOSTS" } });
    const getUrl = createRpcGetUrl({ dispatcher: agent, maxResponseBytes: 64 * 1024 });
    const batch = new FetchRequest(rpc.url);
    batch.body = JSON.stringify(["eth_chainId", "eth_blockNumber", "eth_blockNumber"].map((method, id) => ({ jsonrpc: "2.0", id, method, params: [] })));
    rpc.handle = (_req, _body, res) => res.writeHead(500).end(); // refused or not, they were sent
    await getUrl(batch);
    expect(await sent("eth_chainId")).toBe(chainIds + 2);
    expect(await sent("eth_blockNumber")).toBe(blockNumbers + 2);
    await p.close();
    await agent.close();
  });
});
