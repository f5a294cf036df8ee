import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import type { SecretBox } from "./secret-box.js";
import type { SigningSecrets } from "./signing-secrets.js";
import { findClearSecrets, storeSealedSecret, subscriptionSecretContext, type ClaimedDelivery } from "./store.js";

/**
 * What signs a claimed delivery: a subscription's own secret, or for a job or batch callback its
 * tenant's signing secrets (the current one, and the one a rotation replaced while it still
 * signs). Everything comes from the claim's own query but a tenant's very first secret.
 */
export function createDeliverySecrets(box: SecretBox, signing: SigningSecrets): (d: ClaimedDelivery) => Promise<string[]> {
  return async (d) => {
    if (d.subscriptionId !== null) {
      if (d.secretCiphertext !== null) return [box.open(d.secretCiphertext, subscriptionSecretContext(d.subscriptionId))];
      if (d.secret !== null) return [d.secret]; // not sealed yet: sealClearSecrets runs at start
      throw new Error(`subscription ${d.subscriptionId} has no secret`);
    }
    const sealed = d.signingCiphertext === null ? null : { secretCiphertext: d.signingCiphertext, previousCiphertext: d.previousSigningCiphertext };
    return signing.signingKeys(d.tenant, sealed);
  };
}

/**
 * Seals the subscription secrets kept in clear before secrets were sealed (migration 003
 * cannot: the key is in this service's environment). Idempotent; replicas racing each seal
 * a row once. Returns how many it sealed.
 */
export async function sealClearSecrets(sql: Sql, box: SecretBox, log: Logger): Promise<number> {
  let sealed = 0;
  for (;;) {
    const rows = await findClearSecrets(sql, 500);
    for (const r of rows) await storeSealedSecret(sql, r.id, box.seal(r.secret, subscriptionSecretContext(r.id)));
    sealed += rows.length;
    if (rows.length < 500) break;
  }
  if (sealed > 0) log.info({ sealed }, "webhook subscription secrets sealed");
  return sealed;
}
