import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { setSha256Backend } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { redactUrl, type Logger } from "@veriflow/platform";
import { whileUnavailable } from "./while-unavailable.js";

// The object store's default SHA-256 is pure JS (browser-safe); on Node the native
// one is many times faster, which matters for large uploads.
setSha256Backend("native");

export interface NatsClients {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** True while the connection is up (false while reconnecting). */
  isConnected(): boolean;
  /** Drains subscriptions and closes the connection. */
  close(): Promise<void>;
}

export interface ConnectNatsOptions {
  url: string;
  /** Shown in the server's connection list, e.g. "veriflow-hashing". */
  name: string;
  log: Logger;
  /** Keep retrying the first connect instead of failing (services started before NATS). */
  waitOnFirstConnect?: boolean;
  /** JetStream API/publish timeout. */
  timeoutMs?: number;
}

/** Opens one connection that reconnects forever; the only place a connection is made. */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsClients> {
  // With waitOnFirstConnect the call below blocks until NATS answers: say what we wait for.
  opts.log.info({ url: redactUrl(opts.url) }, "connecting to nats");
  const nc = await connect({
    servers: opts.url.split(","),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: 10_000,
  });
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        opts.log.warn({ server: s.server }, "nats disconnected");
      } else if (s.type === "reconnect") {
        connected = true;
        opts.log.info({ server: s.server }, "nats reconnected");
      } else if (s.type === "error" || s.type === "staleConnection" || s.type === "slowConsumer") {
        opts.log.warn({ status: s }, "nats status");
      }
    }
  })().catch(() => {});
  const timeout = opts.timeoutMs ?? 10_000;
  const js = jetstream(nc, { timeout });
  // Asks the server for the account's JetStream info: a server still starting may not answer yet.
  const jsm = await whileUnavailable("jetstream account info", () => jetstreamManager(nc, { timeout }), { log: opts.log });
  opts.log.info({ url: redactUrl(opts.url) }, "nats connected");
  return {
    nc,
    js,
    jsm,
    isConnected: () => connected && !nc.isClosed(),
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
