import { serviceNames, type ServiceName } from "@veriflow/events";
import { findFreePort } from "@veriflow/testing";

/** How many processes of each service run: one number for every service, or per service (1 where not named). */
export type Replicas = number | Partial<Record<ServiceName, number>>;

export function replicaCounts(replicas: Replicas = 1): Record<ServiceName, number> {
  const counts = Object.fromEntries(serviceNames.map((n) => [n, typeof replicas === "number" ? replicas : (replicas[n] ?? 1)])) as Record<ServiceName, number>;
  for (const [name, n] of Object.entries(counts)) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`replicas of ${name} must be a whole number of at least 1, not ${n}`);
  }
  return counts;
}

/** The variables a service listens on besides OPS_PORT: two replicas on one machine need a port each. */
const LISTEN_PORT_VARS: Partial<Record<ServiceName, readonly string[]>> = {
  gateway: ["GATEWAY_PORT", "GATEWAY_GRPC_PORT"],
  status: ["STATUS_PORT", "STATUS_GRPC_PORT"],
  webhooks: ["WEBHOOKS_PORT"],
};

/**
 * A replica's own listening ports, over the env every replica shares: replica 0 keeps what the
 * stack chose (the conventional ports, or the env's), every other one gets free ports.
 */
export async function replicaPorts(name: ServiceName, replica: number): Promise<Record<string, string>> {
  if (replica === 0) return {};
  const vars = LISTEN_PORT_VARS[name] ?? [];
  return Object.fromEntries(await Promise.all(vars.map(async (v) => [v, String(await findFreePort())] as const)));
}

