import { HttpError } from "@veriflow/errors";

/**
 * What a key may do. Each route and RPC names the one scope it needs, where it is answered:
 * - `submit`: submit jobs (REST, gRPC SubmitVerification) and retry a failed job (a new run of
 *   the tenant's own job is the power a submission has, without the upload);
 * - `read`: read jobs (get, list, history, SSE, WatchJob(s), stats) and a job's callback deliveries;
 * - `admin`: manage API keys, webhook subscriptions and the signing secret, read and replay dead letters;
 * - `interactive`: ask for interactive service (`priority=interactive`) for work that is bulk
 *   unless asked otherwise (an asynchronous proof); any `submit` key may lower its work to bulk.
 */
export const SCOPES = ["submit", "read", "admin", "interactive"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/**
 * A key's scopes as a person writes them ("submit,read" or ["submit", "read"]): at least one,
 * each known, duplicates dropped, in SCOPES order. Anything else is a 400 E_INVALID_SCOPES.
 */
export function parseScopes(raw: unknown): Scope[] {
  const items = typeof raw === "string" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
  if (!Array.isArray(items) || items.length === 0) {
    throw new HttpError("E_INVALID_SCOPES", `scopes must name at least one of ${SCOPES.join(", ")}`);
  }
  const unknown = items.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    throw new HttpError("E_INVALID_SCOPES", `unknown scope ${unknown.map((s) => JSON.stringify(String(s).slice(0, 32))).join(", ")}; scopes are ${SCOPES.join(", ")}`);
  }
  return SCOPES.filter((s) => items.includes(s));
}
