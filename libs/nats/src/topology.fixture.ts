import type { TopologyConfig } from "./topology.js";

/** A topology for this library's tests: small stores (JetStream reserves them), an hour's age. Not used by the library. */
export function testTopology(overrides: Partial<TopologyConfig> = {}): TopologyConfig {
  return {
    streamMaxAgeMs: 3_600_000,
    replicas: 1,
    duplicateWindowMs: 120_000,
    uploadsMaxAgeMs: 3_600_000,
    ackWaitMs: 30_000,
    maxAckPending: 100,
    streamMaxBytes: 64 * 1024 ** 2,
    deadLetterMaxBytes: 16 * 1024 ** 2,
    uploadsMaxBytes: 64 * 1024 ** 2,
    mode: "ensure",
    ...overrides,
  };
}
