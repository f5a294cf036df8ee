import { loadConfig as loadChainCheckConfig } from "../../services/chain-check/src/config.js";
import { startChainCheckService } from "../../services/chain-check/src/service.js";
import { loadConfig as loadGatewayConfig } from "../../services/gateway/src/config.js";
import { startGatewayService } from "../../services/gateway/src/service.js";
import { loadConfig as loadHashingConfig } from "../../services/hashing/src/config.js";
import { startHashingService } from "../../services/hashing/src/service.js";
import { loadConfig as loadManifestConfig } from "../../services/manifest/src/config.js";
import { startManifestService } from "../../services/manifest/src/service.js";
import { loadConfig as loadStatusConfig } from "../../services/status/src/config.js";
import { MIGRATIONS_DIR, startStatusService } from "../../services/status/src/service.js";
import { loadConfig as loadWebhooksConfig } from "../../services/webhooks/src/config.js";
import { startWebhooksService } from "../../services/webhooks/src/service.js";
import { createLogger, createSilentLogger, type Env, type RunningService } from "@veriflow/platform";
import {
  createTestDatabase,
  publishContent,
  type PublishContentInput,
  type PublishedContent,
  deployRegistry,
  findFreePort,
  startChain,
  startManifestServer,
  startNatsServer,
  type ChainHandle,
  type ManifestServer as ManifestServerHandle,
  type NatsServerHandle,
  type TestDatabase,
} from "@veriflow/testing";

export interface System {
  gatewayUrl: string;
  statusUrl: string;
  /** host:port of the gateway's gRPC SubmissionService. */
  gatewayGrpcAddress: string;
  /** host:port of the status service's gRPC JobService. */
  statusGrpcAddress: string;
  webhooksUrl: string;
  nats: NatsServerHandle;
  db: TestDatabase;
  chain: ChainHandle;
  registry: string;
  manifests: ManifestServerHandle;
  env: Env;
  services: Record<"status" | "gateway" | "hashing" | "manifest" | "chainCheck" | "webhooks", RunningService>;
  /** A creator's publication on this system's chain: signed by account 0 unless told otherwise, served over http. */
  publish(content: string | Uint8Array, opts?: Partial<PublishContentInput>): Promise<PublishedContent>;
  stop(): Promise<void>;
}

/**
 * The whole system on real servers: its own nats-server, database, hardhat chain and
 * manifest server, and the five services started in-process from their composition
 * roots with the same config loaders their mains use.
 */
export async function startSystem(extraEnv: Env = {}): Promise<System> {
  const [nats, db, chain, manifests] = await Promise.all([
    startNatsServer(),
    createTestDatabase({ migrationsDir: MIGRATIONS_DIR }),
    startChain(),
    startManifestServer(),
  ]);
  const registry = await deployRegistry(chain.rpcUrl, chain.accounts[0]!.privateKey);
  const statusPort = await findFreePort();
  const webhooksPort = await findFreePort();
  const env: Env = {
    NATS_URL: nats.url,
    DATABASE_URL: db.url,
    RPC_URL: chain.rpcUrl,
    IPFS_GATEWAYS: manifests.url,
    MANIFEST_ALLOW_HTTP: "true",
    ALLOWED_PRIVATE_HOSTS: `127.0.0.1,localhost`,
    STATUS_PORT: String(statusPort),
    STATUS_URL: `http://127.0.0.1:${statusPort}`,
    WEBHOOKS_PORT: String(webhooksPort),
    WEBHOOKS_HOST: "127.0.0.1",
    WEBHOOKS_URL: `http://127.0.0.1:${webhooksPort}`,
    WEBHOOK_SIGNING_SECRET: "whsec_" + Buffer.from("veriflow test signing secret, 32b").toString("base64"),
    WEBHOOK_ALLOWED_PRIVATE_HOSTS: "127.0.0.1",
    WEBHOOK_RETRY_SCHEDULE_MS: "200,400,800",
    WEBHOOK_POLL_INTERVAL_MS: "50",
    WEBHOOK_TIMEOUT_MS: "2000",
    GATEWAY_PORT: "0",
    GATEWAY_GRPC_PORT: "0",
    STATUS_GRPC_PORT: "0",
    GATEWAY_HOST: "127.0.0.1",
    STATUS_HOST: "127.0.0.1",
    OPS_PORT: "0",
    RETRY_BASE_MS: "50",
    RETRY_MAX_MS: "400",
    MANIFEST_TIMEOUT_MS: "2000",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...extraEnv,
  };
  const log = (name: string) => (env.LOG_LEVEL === "silent" ? createSilentLogger() : createLogger(name, env.LOG_LEVEL));
  const status = await startStatusService(loadStatusConfig(env), log("status"));
  const [gateway, hashing, manifest, chainCheck, webhooks] = await Promise.all([
    startGatewayService(loadGatewayConfig(env), log("gateway")),
    startHashingService(loadHashingConfig(env), log("hashing")),
    startManifestService(loadManifestConfig(env), log("manifest")),
    startChainCheckService(loadChainCheckConfig(env), log("chain-check")),
    startWebhooksService(loadWebhooksConfig(env), log("webhooks")),
  ]);
  const services = { status, gateway, hashing, manifest, chainCheck, webhooks };
  return {
    gatewayUrl: `http://127.0.0.1:${gateway.port}`,
    gatewayGrpcAddress: `127.0.0.1:${gateway.grpcPort}`,
    statusGrpcAddress: `127.0.0.1:${status.grpcPort}`,
    statusUrl: env.STATUS_URL!,
    webhooksUrl: env.WEBHOOKS_URL!,
    nats,
    db,
    chain,
    registry,
    manifests,
    env,
    services,
    publish: (content, opts = {}) =>
      publishContent({
        chain,
        registry,
        manifests,
        content,
        via: "http",
        ...opts,
      }),
    async stop() {
      await Promise.allSettled(Object.values(services).map((s) => s.stop()));
      await Promise.allSettled([nats.stop(), db.drop(), chain.stop(), manifests.stop()]);
    },
  };
}
