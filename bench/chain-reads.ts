/**
 * What chain-check's registry reads cost the node: JSON-RPC calls per read (one read per
 * verification) and each read's latency, through a chain endpoint made as chain-check makes it
 * (createChainEndpoints, settings from readChainEndpointConfig: the defaults, or CHAIN_* from the
 * environment), against a local hardhat chain (automine: a block per transaction). Prints
 * figures; it is not a test.
 *
 *   npx tsx bench/chain-reads.ts [--rate 100] [--seconds 20] [--contents 200] [--mine-every 0] [--windows 0,1,2,5,10,20]
 *
 * 1. Repeated contents: `--contents` registered contents read over and over, `--rate` reads/s for
 *    `--seconds`; with `--mine-every N` a transaction (an unrelated registration) is mined every
 *    N ms, so blocks advance as on a live chain. Every answer is checked against what was registered.
 * 2. The coalescing window: reads of distinct, never-read hashes at `--rate`/s for 5 s, for each
 *    CHAIN_READ_WINDOW_MS in `--windows` (none: skipped): calls per read against the latency added.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { chainRpcRequests, createChainEndpoints, createRpcProvider, readChainEndpointConfig, type ChainEndpointConfig } from "@veriflow/adapters";
import { EnvReader } from "@veriflow/platform";
import { deployRegistry, registerContent, startChain } from "@veriflow/testing";
import { fmt, out, pct } from "./support/output.js";

const { values: args } = parseArgs({
  options: {
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    contents: { type: "string", default: "200" },
    "mine-every": { type: "string", default: "0" },
    windows: { type: "string", default: "0,1,2,5,10,20" },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const CONTENTS = Number(args.contents);
const MINE_EVERY_MS = Number(args["mine-every"]);
const WINDOWS = args.windows.split(",").filter((w) => w.trim() !== "").map(Number);

const hash = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const sent = async (method: string) => (await chainRpcRequests.get()).values.find((v) => v.labels.method === method)?.value ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const chain = await startChain();
const [alice, bob] = [chain.accounts[0]!, chain.accounts[1]!];
const registry = await deployRegistry(chain.rpcUrl, alice.privateKey);
out(`registering ${CONTENTS} contents…`);
for (let i = 1; i <= CONTENTS; i++) await registerContent(chain.rpcUrl, alice.privateKey, registry, hash(i), `ipfs://bench/${i}`);

const env = { ...process.env, RPC_URL: chain.rpcUrl };
const baseConfig = (over: Partial<ChainEndpointConfig> = {}): ChainEndpointConfig => {
  const r = new EnvReader(env);
  const cfg = readChainEndpointConfig(r);
  if (r.problems.length > 0) throw new Error(r.problems.join("; "));
  return { ...cfg, ...over };
};

/** `read(i)` at `RATE`/s for `seconds`; the latency of each read and how many were wrong. */
async function drive(seconds: number, read: (i: number) => Promise<boolean>) {
  const latencies: number[] = [];
  let wrong = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < RATE * seconds; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    pending.push(
      read(i).then(
        (ok) => {
          latencies.push(performance.now() - t0);
          if (!ok) wrong++;
        },
        () => void wrong++,
      ),
    );
  }
  await Promise.all(pending);
  return { latencies, wrong, elapsed: (performance.now() - started) / 1000 };
}

async function measure(cfg: ChainEndpointConfig, seconds: number, read: (chains: ReturnType<typeof createChainEndpoints>, i: number) => Promise<boolean>) {
  const chains = createChainEndpoints(cfg);
  const before = { call: await sent("eth_call"), block: await sent("eth_blockNumber"), code: await sent("eth_getCode") };
  const run = await drive(seconds, (i) => read(chains, i));
  const calls = (await sent("eth_call")) - before.call;
  const blocks = (await sent("eth_blockNumber")) - before.block;
  const codes = (await sent("eth_getCode")) - before.code;
  await chains.close();
  const reads = run.latencies.length + run.wrong;
  return { ...run, reads, calls, blocks, codes };
}

// 1. Repeated contents.
const cfg = baseConfig();
out(`\nrepeated contents: ${CONTENTS} contents, ${RATE} reads/s for ${SECONDS} s, a transaction every ${MINE_EVERY_MS || "∞"} ms`);
out(`settings: CHAIN_BLOCK_MAX_AGE_MS=${cfg.blockMaxAgeMs} CHAIN_READ_WINDOW_MS=${cfg.readWindowMs} CHAIN_READ_CACHE_ENTRIES=${cfg.readCacheEntries} CHAIN_MAX_BATCH=${cfg.maxBatch} CHAIN_MAX_IN_FLIGHT=${cfg.maxInFlight}`);
let mining = MINE_EVERY_MS > 0;
const miner = (async () => {
  for (let n = 0; mining; n++) {
    await registerContent(chain.rpcUrl, bob.privateKey, registry, hash(1_000_000 + n), "ipfs://unrelated");
    await sleep(MINE_EVERY_MS);
  }
})();
const probe = createRpcProvider(chain.rpcUrl);
const blockBefore = await probe.getBlockNumber(); // every answer must come from this block or a later one
probe.destroy();
const repeated = await measure(cfg, SECONDS, async (chains, i) => {
  const n = 1 + (i % CONTENTS);
  const e = await chains.main.readEntry(registry, hash(n));
  return e.manifestURI === `ipfs://bench/${n}` && e.creator === alice.address && !e.revoked && e.blockNumber !== null && e.blockNumber >= blockBefore;
});
mining = false;
await miner;
out(`reads ${repeated.reads} in ${fmt(repeated.elapsed)} s (${fmt(repeated.reads / repeated.elapsed)}/s), wrong ${repeated.wrong}`);
out(`eth_call ${repeated.calls} (${fmt(repeated.calls / repeated.reads, 4)} per read), eth_blockNumber ${repeated.blocks} (${fmt(repeated.blocks / repeated.reads, 4)} per read), eth_getCode ${repeated.codes}`);
out(`read latency ms: p50 ${fmt(pct(repeated.latencies, 50))} p99 ${fmt(pct(repeated.latencies, 99))} max ${fmt(pct(repeated.latencies, 100))}`);

// 2. The coalescing window, on reads that can't be cached.
if (WINDOWS.length > 0) {
  out(`\nwindow sweep: distinct never-read hashes, ${RATE} reads/s for 5 s`);
  out("window_ms  eth_call  per_read  p50_ms  p99_ms");
}
for (const readWindowMs of WINDOWS) {
  const fresh = Array.from({ length: RATE * 5 }, () => "0x" + randomBytes(32).toString("hex"));
  const r = await measure(baseConfig({ readWindowMs }), 5, async (chains, i) => (await chains.main.readEntry(registry, fresh[i]!)).timestamp === 0);
  out(`${String(readWindowMs).padStart(9)}  ${String(r.calls).padStart(8)}  ${fmt(r.calls / r.reads, 3).padStart(8)}  ${fmt(pct(r.latencies, 50)).padStart(6)}  ${fmt(pct(r.latencies, 99)).padStart(6)}${r.wrong ? `  wrong ${r.wrong}` : ""}`);
}

await chain.stop();
