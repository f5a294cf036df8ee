import * as grpc from "@grpc/grpc-js";
import type { Authenticator } from "@veriflow/auth";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { Logger } from "@veriflow/platform";
import { createRpc, type Limit, type Rpc } from "./rpc.js";
import { DEFAULT_GRPC_SERVER_LIMITS, grpcServerOptions, type GrpcServerLimits } from "./server-limits.js";
import { withTolerantDecoding } from "./undecodable.js";
import type { Tracing } from "@veriflow/tracing";

export const HEALTH_SERVICE = "grpc.health.v1.Health";

export interface GrpcServerOptions {
  log: Logger;
  /** Checks every call to the application services (health and reflection stay open). */
  authenticator: Authenticator;
  /** The loaded protos of the services served here: reflection describes them. */
  packageDefinition: PackageDefinition;
  /** Fully qualified names of the services served here, e.g. "veriflow.v1.JobService". */
  serviceNames: string[];
  /** Polled every `readinessIntervalMs` (default 5 s): health answers NOT_SERVING while false. */
  isReady?: () => Promise<boolean> | boolean;
  readinessIntervalMs?: number;
  /** Rewrites a handler's error before it becomes a status (RpcOptions.translateError). */
  translateError?: (err: unknown) => unknown;
  /** Runs first on every application call (RpcOptions.limit): a rate limit. */
  limit?: Limit;
  /** Idle and age limits, message sizes (GRPC_*); DEFAULT_GRPC_SERVER_LIMITS when not given. */
  limits?: GrpcServerLimits;
  /** A server span per application call (RpcOptions.tracing). */
  tracing?: Tracing;
}

export interface GrpcServerHandle {
  port: number;
  /**
   * Health turns NOT_SERVING, open server streams end with UNAVAILABLE, in-flight unary
   * calls get up to `graceMs` (default 5 s) to finish, then the rest is cut.
   */
  close(graceMs?: number): Promise<void>;
}

export interface GrpcServer {
  /** Wraps the application's handlers: auth, cancellation, undecodable messages, error mapping. */
  rpc: Rpc;
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
  listen(port: number, host?: string): Promise<GrpcServerHandle>;
}

/**
 * One gRPC server with what every veriflow server has: standard health checking
 * (grpc.health.v1, per service and overall "") and server reflection (v1 and v1alpha),
 * so grpcurl-style tools work without the proto files.
 */
export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  const shutdown = new AbortController();
  const server = new grpc.Server(grpcServerOptions(opts.limits ?? DEFAULT_GRPC_SERVER_LIMITS));
  const statuses = ["", ...opts.serviceNames];
  const health = new HealthImplementation(Object.fromEntries(statuses.map((s) => [s, "SERVING"])));
  const setServing = (serving: boolean) => {
    for (const s of statuses) health.setStatus(s, serving ? "SERVING" : "NOT_SERVING");
  };
  health.addToServer(server);
  const healthDefinition = loadSync(healthProtoPath);
  new ReflectionService({ ...opts.packageDefinition, ...healthDefinition }, { services: [...opts.serviceNames, HEALTH_SERVICE] }).addToServer(server);

  return {
    rpc: createRpc({ log: opts.log, authenticator: opts.authenticator, shutdownSignal: shutdown.signal, translateError: opts.translateError, limit: opts.limit, tracing: opts.tracing }),
    addService: (definition, implementation) => server.addService(withTolerantDecoding(definition), implementation),
    async listen(port, host = "0.0.0.0") {
      const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      if (opts.isReady) {
        const probe = opts.isReady;
        timer = setInterval(() => {
          void Promise.resolve()
            .then(probe)
            .then(setServing, () => setServing(false));
        }, opts.readinessIntervalMs ?? 5000);
        timer.unref();
      }
      let closing: Promise<void> | undefined;
      return {
        port: bound,
        close(graceMs = 5000) {
          closing ??= new Promise<void>((resolve) => {
            clearInterval(timer);
            setServing(false);
            shutdown.abort();
            const force = setTimeout(() => server.forceShutdown(), graceMs);
            force.unref();
            server.tryShutdown(() => {
              clearTimeout(force);
              resolve();
            });
          });
          return closing;
        },
      };
    },
  };
}
