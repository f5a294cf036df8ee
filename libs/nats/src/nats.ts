import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { setSha256Backend } from "@nats-io/obj";
import { connect, credsAuthenticator, errors, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { readFile } from "node:fs/promises";
import { describeNatsAuth, redactUrl, type Logger, type NatsAuth, type NatsTls } from "@veriflow/platform";
import { whileUnavailable } from "./while-unavailable.js";

// The object store's default SHA-256 is pure JS (browser-safe); on Node the native
// one is many times faster, which matters for large uploads.
setSha256Backend("native");

/** How long a JetStream API call or publish waits for its answer, unless a connection says otherwise. */
export const DEFAULT_JETSTREAM_TIMEOUT_MS = 10_000;

export interface NatsClients {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** True while the connection is up (false while reconnecting). */
  isConnected(): boolean;
  /** When the connection dropped (ms since the epoch) while it is reconnecting; null while it is up. */
  disconnectedAt(): number | null;
  /** Drains subscriptions and closes the connection. */
  close(): Promise<void>;
}

export interface ConnectNatsOptions {
  /** Comma-separated servers, without credentials (readNatsConnectionConfig takes them out): it is logged. */
  url: string;
  /** Who to connect as; anonymous when absent. */
  auth?: NatsAuth | null;
  tls?: NatsTls | null;
  /** Shown in the server's connection list, e.g. "veriflow-hashing". */
  name: string;
  log: Logger;
  /** Keep retrying the first connect instead of failing (services started before NATS). */
  waitOnFirstConnect?: boolean;
  /** JetStream API/publish timeout (default DEFAULT_JETSTREAM_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** Opens one connection that reconnects forever; the only place a connection is made. */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsClients> {
  // With waitOnFirstConnect the call below blocks until NATS answers: say what we wait for.
  opts.log.info({ url: redactUrl(opts.url), as: describeNatsAuth(opts.auth ?? null) }, "connecting to nats");
  const nc = await connect({
    ...(await authOptions(opts.auth ?? null)),
    ...(opts.tls ? { tls: opts.tls } : {}),
    servers: opts.url.split(","),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: 10_000,
    // By default every request builds an Error up front, to give a later timeout the caller's
    // stack: measured at 4–7 % of each service's CPU under load (bench --cpu-prof). Errors keep
    // their type and code, which is all the handling here reads.
    noAsyncTraces: true,
  });
  let connected = true;
  let droppedAt: number | null = null;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        droppedAt = Date.now();
        opts.log.warn({ server: s.server }, "nats disconnected");
      } else if (s.type === "reconnect") {
        connected = true;
        droppedAt = null;
        opts.log.info({ server: s.server }, "nats reconnected");
      } else if (s.type === "error" && s.error instanceof errors.PermissionViolationError) {
        // A deployment whose user lacks a permission the code needs: say which, loudly (deploy/nats/nats-server.conf).
        const { operation, subject } = s.error;
        opts.log.error({ operation, subject, as: describeNatsAuth(opts.auth ?? null) }, "nats refused a permission");
      } else if (s.type === "error" || s.type === "staleConnection" || s.type === "slowConsumer") {
        opts.log.warn({ status: s }, "nats status");
      }
    }
  })().catch(() => {});
  const timeout = opts.timeoutMs ?? DEFAULT_JETSTREAM_TIMEOUT_MS;
  const js = jetstream(nc, { timeout });
  // Asks the server for the account's JetStream info: a server still starting may not answer yet.
  const jsm = await whileUnavailable("jetstream account info", () => jetstreamManager(nc, { timeout }), { log: opts.log });
  opts.log.info({ url: redactUrl(opts.url), as: describeNatsAuth(opts.auth ?? null) }, "nats connected");
  return {
    nc,
    js,
    jsm,
    isConnected: () => connected && !nc.isClosed(),
    disconnectedAt: () => (connected || nc.isClosed() ? null : droppedAt),
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/** connect() options for a way of authenticating; the seed and creds files are read here, at each start. */
async function authOptions(auth: NatsAuth | null): Promise<Partial<ConnectionOptions>> {
  if (auth === null) return {};
  switch (auth.kind) {
    case "password":
      return { user: auth.user, pass: auth.password };
    case "token":
      return { token: auth.token };
    case "nkey":
      return { authenticator: nkeyAuthenticator(new TextEncoder().encode(auth.seed)) };
    case "nkey-file":
      return { authenticator: nkeyAuthenticator(new TextEncoder().encode((await readSecretFile("NATS_NKEY_SEED_FILE", auth.seedFile)).trim())) };
    case "creds":
      return { authenticator: credsAuthenticator(new TextEncoder().encode(await readSecretFile("NATS_CREDS_FILE", auth.credsFile))) };
  }
}

async function readSecretFile(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`${variable}: cannot read ${path}`, { cause: err });
  }
}
