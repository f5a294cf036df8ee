import { pino, type DestinationStream, type Logger } from "pino";
import { logContextMixin } from "./log-context.js";

export type { Logger };

/**
 * Fields that hold secrets wherever they appear in a log line (top level, one level down,
 * and in logged request headers): API keys sent as `x-api-key` or `Authorization`, and the
 * passwords, secrets and tokens a config object or an error may carry. URLs are not found
 * by name: they go through redactUrl where they are logged.
 */
export const REDACTED_LOG_PATHS = [
  "authorization",
  '["x-api-key"]',
  "apiKey",
  "apiKeys",
  "password",
  "secret",
  "signingSecret",
  "token",
  "*.authorization",
  '*["x-api-key"]',
  "*.apiKey",
  "*.apiKeys",
  "*.password",
  "*.secret",
  "*.signingSecret",
  "*.token",
  "*.headers.authorization",
  '*.headers["x-api-key"]',
];

/**
 * One JSON logger per process; `service` names it in every line, and a line written while a
 * request or a job is handled carries its traceId, requestId and jobId (log-context.ts).
 * `destination` is for tests.
 */
export function createLogger(service: string, level: string = "info", destination?: DestinationStream): Logger {
  const options = { name: service, level, base: { service }, mixin: logContextMixin, redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}

/** For tests and tools that want silence. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
