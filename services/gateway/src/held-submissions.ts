import type { Hold } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";
import { heldSubmissions } from "./metrics.js";

/**
 * Records how a submission that had to be held (JetStream did not answer at first) ended:
 * accepted late, or refused with 503 + Retry-After once GATEWAY_HOLD_MS was spent. Nothing
 * for a submission that was never held.
 */
export function noteHeld(hold: Hold, outcome: "accepted" | "refused", log: Logger): void {
  const heldMs = hold.heldMs();
  if (heldMs === 0) return;
  heldSubmissions.inc({ outcome });
  if (outcome === "accepted") log.info({ heldMs }, "held while JetStream did not answer, then accepted");
  else log.warn({ heldMs }, "held while JetStream did not answer, then refused");
}
