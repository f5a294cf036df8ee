import { readNatsConnectionConfig, type NatsConnectionConfig } from "./nats-config.js";
import { redactUrl } from "./redact-url.js";
import { readTracingConfig, type TracingConfig } from "./tracing-config.js";

/**
 * Config is parsed from an env object passed in (never read ad hoc from process.env),
 * and every problem is reported at once in one ConfigError.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

/** Collects problems while reading variables; `done()` throws them all together. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string;
  string(name: string, fallback?: undefined): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const v = this.env[name]?.trim();
    return v === undefined || v === "" ? fallback : v;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) {
      this.problems.push(`${name} is required`);
      return "";
    }
    return v;
  }

  int(name: string, fallback: number, opts: { min?: number; max?: number } = {}): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n)) {
      this.problems.push(`${name} must be an integer, got "${raw}"`);
      return fallback;
    }
    if (opts.min !== undefined && n < opts.min) this.problems.push(`${name} must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) this.problems.push(`${name} must be <= ${opts.max}, got ${n}`);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  /** A comma-separated list; empty entries dropped. */
  list(name: string, fallback: string[] = []): string[] {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    return raw.split(",").map((s) => s.trim()).filter(Boolean);
  }

  url(name: string, fallback?: string, protocols: string[] = ["http:", "https:"]): string | undefined {
    const raw = this.string(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) this.problems.push(`${name} must use ${protocols.join(" or ")}, got "${redactUrl(raw)}"`);
    } catch {
      // Not echoed: a secret pasted into the wrong variable would end up in the error.
      this.problems.push(`${name} must be a URL`);
    }
    return raw;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${values.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  /** Throws one ConfigError listing every problem found so far. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Settings every service shares. */
export interface CommonConfig {
  nats: NatsConnectionConfig;
  logLevel: string;
  /** Port of the /healthz, /readyz and /metrics endpoints; 0 picks a free one. */
  opsPort: number;
  /** Where the ops endpoints listen: every interface by default (a container's probes and scrapes come from outside it). */
  opsHost: string;
  /** OPS_TOKEN: when set, /readyz and /metrics ask for it as a bearer token (/healthz stays open). */
  opsToken: string | null;
  /** OpenTelemetry tracing (OTEL_*): off unless an exporter or endpoint is set. */
  tracing: TracingConfig;
}

export function readCommonConfig(r: EnvReader, defaultOpsPort: number): CommonConfig {
  return {
    nats: readNatsConnectionConfig(r),
    logLevel: r.oneOf("LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal", "silent"], "info"),
    opsPort: r.int("OPS_PORT", defaultOpsPort, { min: 0, max: 65535 }),
    opsHost: r.string("OPS_HOST", "0.0.0.0"),
    opsToken: r.string("OPS_TOKEN") ?? null,
    tracing: readTracingConfig(r),
  };
}
