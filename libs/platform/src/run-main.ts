import { ConfigError, type Env } from "./config.js";
import { createLogger, type Logger } from "./logger.js";

/** What a started service hands back to its main (or to a test that started it in-process). */
export interface RunningService {
  /** The port of its /healthz, /readyz and /metrics endpoints. */
  opsPort: number;
  /** The public port, for services that serve one. */
  port?: number;
  /** The gRPC port, for services that serve gRPC. */
  grpcPort?: number;
  /** The REST routes on its public port, read from its routers (`routesOf`, @veriflow/http): what a test must reach without a list of its own. */
  routes?: { path: string; methods: string[] }[];
  stop(): Promise<void>;
}

/** A service as its main (and the test system) runs it: a name, its config loader, its composition root. */
export interface ServiceDefinition<C extends { logLevel: string } = { logLevel: string }> {
  name: string;
  loadConfig: (env: Env) => C;
  start: (config: C, log: Logger) => Promise<RunningService>;
}

export function defineService<C extends { logLevel: string }>(definition: ServiceDefinition<C>): ServiceDefinition<C> {
  return definition;
}

/**
 * The body of every service's main.ts: config from the process env, a logger, start,
 * and a graceful stop on SIGINT/SIGTERM. The only place process.env is read.
 */
export async function runMain<C extends { logLevel: string }>({ name, loadConfig, start }: ServiceDefinition<C>): Promise<void> {
  let config: C;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`veriflow-${name}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(name, config.logLevel);
  let service: RunningService;
  try {
    service = await start(config, log);
  } catch (err) {
    // Some settings are read at start (the gateway reads every stage's): still a config error.
    if (err instanceof ConfigError) {
      console.error(`veriflow-${name}: ${err.message}`);
      process.exit(2);
    }
    log.fatal({ err }, "failed to start");
    process.exit(1);
  }
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => {
      log.error("shutdown timed out");
      process.exit(1);
    }, 20_000).unref();
    void service.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
