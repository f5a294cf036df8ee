import type { EnvReader } from "@veriflow/platform";

/** How a service authenticates: the same variables in every service that does (gateway, status, webhooks). */
export interface AuthConfig {
  /**
   * API_KEYS: bootstrap keys, comma-separated. Each acts as tenant `default` with every scope
   * and administers every tenant (Principal.allTenants); checked in memory, never stored.
   */
  bootstrapKeys: string[];
  /**
   * Whether a request without a key is served (as tenant `default`, every scope) while no key
   * exists: no API_KEYS and an empty api_keys table. True outside production; in production
   * (NODE_ENV=production) only with ALLOW_ANONYMOUS=true, so a deployment never runs open by omission.
   */
  openWhenNoKeys: boolean;
  /**
   * AUTH_CACHE_TTL_MS: how long a stored key's lookup is reused (default 30 s); a revoked key
   * stops working within this time on every replica. Unknown keys are remembered for at most 5 s.
   */
  cacheTtlMs: number;
  production: boolean;
}

export const DEFAULT_AUTH_CACHE_TTL_MS = 30_000;

export function readAuthConfig(r: EnvReader): AuthConfig {
  const production = r.string("NODE_ENV") === "production";
  // GATEWAY_ALLOW_ANONYMOUS: the name from when only the gateway checked keys.
  const allowAnonymous = r.bool("ALLOW_ANONYMOUS", r.bool("GATEWAY_ALLOW_ANONYMOUS", false));
  return {
    bootstrapKeys: r.list("API_KEYS"),
    openWhenNoKeys: !production || allowAnonymous,
    cacheTtlMs: r.int("AUTH_CACHE_TTL_MS", DEFAULT_AUTH_CACHE_TTL_MS, { min: 0, max: 600_000 }),
    production,
  };
}
