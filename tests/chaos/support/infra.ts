import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { serviceNames, type ServiceName } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import {
  deployRegistry,
  startChain,
  startEmbeddedPostgres,
  startManifestServer,
  startNatsServer,
  type ChainHandle,
  type EmbeddedPostgresHandle,
  type ManifestServer,
  type NatsServerHandle,
} from "@veriflow/testing";
import { startLocalStack, type LocalStack } from "../../../deploy/local/src/local-stack.js";
import { prepareCases, type Case } from "./cases.js";
import { startCallbackReceiver, type CallbackReceiver } from "./callbacks.js";

/**
 * What every scenario shares, started once: the chain with the registry and the suite's
 * contents, the manifest server (also the services' IPFS gateway), the callback receiver,
 * and a private PostgreSQL cluster (each scenario gets a database of its own on it). None
 * of these is a target of a fault except PostgreSQL, which one scenario stops and starts.
 */
export interface Infra {
  workDir: string;
  chain: ChainHandle;
  registry: string;
  manifests: ManifestServer;
  cases: Case[];
  pg: EmbeddedPostgresHandle;
  callbacks: CallbackReceiver;
  signingSecret: string;
  stop(): Promise<void>;
}

export async function startInfra(): Promise<Infra> {
  const workDir = await mkdtemp(join(tmpdir(), "veriflow-chaos-"));
  // Run as root, embedded PostgreSQL runs as the postgres user: it must reach its directory.
  await chmod(workDir, 0o755);
  const stops: (() => Promise<void>)[] = [() => rm(workDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const pgDir = join(workDir, "postgres");
    const [chain, manifests, pg] = await Promise.all([
      startChain(),
      startManifestServer(),
      startEmbeddedPostgres({ dataDir: pgDir, ephemeral: true, crashSafe: true }),
    ]);
    stops.push(() => chain.stop(), () => manifests.stop(), () => pg.stop());
    const registry = await deployRegistry(chain.rpcUrl, chain.accounts[0]!.privateKey);
    const cases = await prepareCases(chain, registry, manifests);
    const signingSecret = "whsec_" + randomBytes(32).toString("base64");
    const callbacks = await startCallbackReceiver(signingSecret);
    stops.push(() => callbacks.stop());
    return { workDir, chain, registry, manifests, cases, pg, callbacks, signingSecret, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Settings every scenario's services run with (besides the addresses). */
export interface ServiceSettings {
  /** Redelivery deadline: how soon a killed consumer's in-flight messages come back. */
  ackWaitMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * One scenario's system: its own nats-server (fresh store, free port), its own database,
 * and every service of the pipeline descriptor as a process from its build output, started
 * by the local stack `npm start` runs. The harness holds a NATS connection of its own.
 */
export interface ScenarioStack {
  nats: NatsServerHandle;
  local: LocalStack;
  /** The harness's connection (reconnects forever, like the services'). */
  client: NatsClients;
  stop(): Promise<void>;
}

export async function startScenarioStack(
  infra: Infra,
  scenario: string,
  opts: { maxFileStore?: number; settings: ServiceSettings; print: (line: string) => void },
): Promise<ScenarioStack> {
  const dir = join(infra.workDir, scenario);
  await mkdir(dir, { recursive: true });
  const nats = await startNatsServer({ storeDir: join(dir, "nats"), maxFileStore: opts.maxFileStore });
  const stops: (() => Promise<void>)[] = [() => nats.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const databaseUrl = await createDatabase(infra.pg.url, `chaos_${scenario.replace(/[^a-z0-9]/gi, "_")}`);
    const local = await startLocalStack({
      dataDir: join(dir, "stack"),
      env: {
        ...systemEnv(infra, { natsUrl: nats.url, databaseUrl, settings: opts.settings }),
        ...(opts.maxFileStore === undefined ? {} : storesWithin(opts.maxFileStore)),
      },
      print: opts.print,
      freePorts: true,
    });
    stops.push(() => local.stop());
    const client = await connectNats({ url: nats.url, name: "veriflow-chaos", log: createSilentLogger() });
    stops.push(() => client.close());
    return { nats, local, client, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The env a suite's services run with besides their ports: the suite's chain, manifest server
 * and callback secret, short retry and sweep intervals so a drain sees them through.
 */
export function systemEnv(infra: Infra, opts: { natsUrl: string; databaseUrl: string; settings: ServiceSettings }): Record<string, string> {
  return {
    NATS_URL: opts.natsUrl,
    DATABASE_URL: opts.databaseUrl,
    RPC_URL: infra.chain.rpcUrl,
    IPFS_GATEWAYS: infra.manifests.url,
    GATEWAY_HOST: "127.0.0.1",
    STATUS_HOST: "127.0.0.1",
    WEBHOOKS_HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    CONSUMER_ACK_WAIT_MS: String(opts.settings.ackWaitMs),
    RETRY_BASE_MS: String(opts.settings.retryBaseMs),
    RETRY_MAX_MS: String(opts.settings.retryMaxMs),
    WEBHOOK_SIGNING_SECRET: infra.signingSecret,
    // Callbacks that fail are retried within the drain, not over hours.
    WEBHOOK_RETRY_SCHEDULE_MS: "250,500,1000,2000",
    WEBHOOK_POLL_INTERVAL_MS: "200",
    WEBHOOK_TIMEOUT_MS: "2000",
    // Uploads left behind (hashing killed between its ack and the delete) are swept within the drain.
    UPLOADS_SWEEP_INTERVAL_MS: "2000",
    UPLOADS_SWEEP_MIN_AGE_MS: "2000",
    UPLOADS_SWEEP_GRACE_MS: "15000",
    // Large uploads are read while they are stored (off by default): the faults hit that path too.
    UPLOADS_FOLLOW_MAX: "4",
    // The load is one anonymous address: limits that never bind (the limiter still runs, and fails open while NATS is down).
    RATE_LIMITS: "ip:100000000/100000000",
  };
}

/**
 * Every JetStream store's max_bytes sized to fit a small max_file_store (JetStream reserves
 * them all when it creates the streams): dead letters, idempotency keys and rate-limit counters
 * at the minimum, as are registry-watch's stream and the known verdicts' bucket (each a tenth
 * of the events', at least the minimum: with the events below 640 KiB, the minimum); of the
 * rest, 55 % for events and 30 % for uploads, the remainder left for the small bookkeeping
 * streams. (The known verdicts' bucket, added without this, made the gateway fail to start.)
 */
function storesWithin(maxFileStore: number): Record<string, string> {
  const min = 64 * 1024;
  const rest = Math.max(0, maxFileStore - 5 * min);
  const uploads = Math.max(min, Math.floor(rest * 0.3));
  return {
    STREAM_MAX_BYTES: String(Math.max(min, Math.floor(rest * 0.55))),
    UPLOADS_MAX_BYTES: String(uploads),
    GATEWAY_MAX_UPLOAD_BYTES: String(uploads),
    DEAD_LETTER_MAX_BYTES: String(min),
    IDEMPOTENCY_MAX_BYTES: String(min),
    RATE_LIMITS_MAX_BYTES: String(min),
  };
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Resolves once a service replica's /readyz answers 200 (NATS connected; status also PostgreSQL). */
export async function waitReady(stack: { local: LocalStack }, name: ServiceName, timeoutMs = 60_000, replica = 0): Promise<void> {
  const url = `http://127.0.0.1:${stack.local.opsPorts[name][replica]}/readyz`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Read each time: restartService replaces the element.
    const p = stack.local.services[name][replica]!.child;
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${name}#${replica} exited (${p.exitCode ?? p.signalCode}) before it was ready`);
    if (await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Service replicas not running at the end (every one the suite killed was restarted: a crash it did not cause). */
export function exitedOnTheirOwn(stack: { local: LocalStack }): string[] {
  return serviceNames
    .flatMap((n) => stack.local.services[n])
    .filter((s) => s.child.exitCode !== null || s.child.signalCode !== null)
    .map((s) => `${s.name}${s.replica ? `#${s.replica}` : ""}(${s.child.exitCode ?? s.child.signalCode})`);
}
