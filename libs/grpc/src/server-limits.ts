import type { EnvReader } from "@veriflow/platform";

/**
 * The limits every gRPC server of veriflow runs with (gateway, status), set explicitly
 * instead of grpc-js's defaults (no idle or age limit, unbounded sends).
 */
export interface GrpcServerLimits {
  /** GRPC_MAX_CONNECTION_IDLE_MS: a connection without a call for this long is sent away (GOAWAY). */
  maxConnectionIdleMs: number;
  /**
   * GRPC_MAX_CONNECTION_AGE_MS: a connection this old takes no new calls (GOAWAY), so clients
   * spread over replicas again; calls on it (a long WatchJob, an upload) run to their end.
   */
  maxConnectionAgeMs: number;
  /** GRPC_MAX_RECEIVE_MESSAGE_BYTES: the largest message a client may send (an upload chunk). */
  maxReceiveMessageBytes: number;
  /** GRPC_MAX_SEND_MESSAGE_BYTES: the largest message the server sends (a page of jobs, a dead letter). */
  maxSendMessageBytes: number;
  /** GRPC_UPLOAD_IDLE_TIMEOUT_MS: the longest a client-streaming upload may go without a message. */
  uploadIdleTimeoutMs: number;
}

export const DEFAULT_GRPC_SERVER_LIMITS: GrpcServerLimits = {
  maxConnectionIdleMs: 5 * 60_000,
  maxConnectionAgeMs: 30 * 60_000,
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  maxSendMessageBytes: 16 * 1024 * 1024,
  uploadIdleTimeoutMs: 30_000,
};

export function readGrpcServerLimits(r: EnvReader): GrpcServerLimits {
  const d = DEFAULT_GRPC_SERVER_LIMITS;
  return {
    maxConnectionIdleMs: r.int("GRPC_MAX_CONNECTION_IDLE_MS", d.maxConnectionIdleMs, { min: 1000 }),
    maxConnectionAgeMs: r.int("GRPC_MAX_CONNECTION_AGE_MS", d.maxConnectionAgeMs, { min: 1000 }),
    maxReceiveMessageBytes: r.int("GRPC_MAX_RECEIVE_MESSAGE_BYTES", d.maxReceiveMessageBytes, { min: 64 * 1024, max: 64 * 1024 * 1024 }),
    maxSendMessageBytes: r.int("GRPC_MAX_SEND_MESSAGE_BYTES", d.maxSendMessageBytes, { min: 64 * 1024, max: 256 * 1024 * 1024 }),
    uploadIdleTimeoutMs: r.int("GRPC_UPLOAD_IDLE_TIMEOUT_MS", d.uploadIdleTimeoutMs, { min: 100, max: 600_000 }),
  };
}

/** The grpc-js server options of `limits`, beside the keepalive pings every server sends. */
export function grpcServerOptions(limits: GrpcServerLimits): Record<string, number> {
  return {
    // Long watches: ping idle clients so a vanished one is noticed and its watch cleaned up.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_connection_idle_ms": limits.maxConnectionIdleMs,
    "grpc.max_connection_age_ms": limits.maxConnectionAgeMs,
    // No grace: calls on an aged connection are never cut (grpc-js default: unlimited).
    "grpc.max_receive_message_length": limits.maxReceiveMessageBytes,
    "grpc.max_send_message_length": limits.maxSendMessageBytes,
  };
}
