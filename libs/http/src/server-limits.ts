import type { EnvReader } from "@veriflow/platform";

/**
 * The limits every public HTTP server of veriflow runs with (gateway, status, webhooks),
 * set explicitly instead of Node's defaults. Node's 300 s `requestTimeout` cuts a large
 * upload on a slow but honest link, and does nothing about a client that sends a byte a
 * minute for four minutes; a minimum upload rate does both jobs: a body must keep arriving
 * at `minUploadBytesPerSecond` on average over each `uploadRateWindowMs`, however long it is.
 */
export interface HttpServerLimits {
  /** HTTP_HEADERS_TIMEOUT_MS: a request's headers must be complete this long after its first byte (408 past it). */
  headersTimeoutMs: number;
  /** HTTP_IDLE_TIMEOUT_MS: a connection on which no byte moves either way for this long is closed. */
  idleTimeoutMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS: how long a kept-alive connection may wait for its next request. */
  keepAliveTimeoutMs: number;
  /** HTTP_MIN_UPLOAD_BYTES_PER_SEC: slowest average a request body may arrive at over a window (408 below it); 0 turns it off. */
  minUploadBytesPerSecond: number;
  /** HTTP_UPLOAD_RATE_WINDOW_MS: the window that average is taken over. */
  uploadRateWindowMs: number;
  /** HTTP_MAX_CONNECTIONS: open connections per server; one more is closed at once. */
  maxConnections: number;
}

export const DEFAULT_HTTP_SERVER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 20_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  minUploadBytesPerSecond: 8 * 1024,
  uploadRateWindowMs: 30_000,
  maxConnections: 1024,
};

export function readHttpServerLimits(r: EnvReader): HttpServerLimits {
  const d = DEFAULT_HTTP_SERVER_LIMITS;
  const limits: HttpServerLimits = {
    headersTimeoutMs: r.int("HTTP_HEADERS_TIMEOUT_MS", d.headersTimeoutMs, { min: 100, max: 600_000 }),
    idleTimeoutMs: r.int("HTTP_IDLE_TIMEOUT_MS", d.idleTimeoutMs, { min: 1000, max: 3_600_000 }),
    keepAliveTimeoutMs: r.int("HTTP_KEEP_ALIVE_TIMEOUT_MS", d.keepAliveTimeoutMs, { min: 100, max: 600_000 }),
    minUploadBytesPerSecond: r.int("HTTP_MIN_UPLOAD_BYTES_PER_SEC", d.minUploadBytesPerSecond, { min: 0 }),
    uploadRateWindowMs: r.int("HTTP_UPLOAD_RATE_WINDOW_MS", d.uploadRateWindowMs, { min: 100, max: 600_000 }),
    maxConnections: r.int("HTTP_MAX_CONNECTIONS", d.maxConnections, { min: 1 }),
  };
  // Both are silences: a connection idle for less than the window would be cut before the rate is judged.
  if (limits.idleTimeoutMs < limits.uploadRateWindowMs) {
    r.problems.push(`HTTP_IDLE_TIMEOUT_MS (${limits.idleTimeoutMs}) must be >= HTTP_UPLOAD_RATE_WINDOW_MS (${limits.uploadRateWindowMs})`);
  }
  return limits;
}
