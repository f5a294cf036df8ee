import type { Scope } from "@veriflow/auth";

/** A tenant's API key made through the gateway's admin API with `adminKey` (a bootstrap key, or the tenant's own admin key). */
export async function createKey(gatewayUrl: string, adminKey: string, tenant: string, scopes: Scope[]): Promise<{ id: string; key: string; tenant: string; prefix: string }> {
  const res = await fetch(`${gatewayUrl}/api/keys`, {
    method: "POST",
    headers: { "x-api-key": adminKey, "content-type": "application/json" },
    body: JSON.stringify({ tenant, scopes }),
  });
  const body = (await res.json()) as any;
  if (res.status !== 201) throw new Error(`POST /api/keys answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Headers presenting `key`. */
export const asKey = (key: string, extra: Record<string, string> = {}) => ({ "x-api-key": key, ...extra });
