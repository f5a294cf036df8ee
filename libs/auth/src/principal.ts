import { HttpError } from "@veriflow/errors";
import { DEFAULT_TENANT } from "@veriflow/events";
import { SCOPES, type Scope } from "./scopes.js";

/**
 * Who a request stands for. Jobs, webhooks and signing secrets are always one tenant's: a
 * caller sees and touches its own tenant's only, and another tenant's job is "not found".
 */
export interface Principal {
  /** The tenant whose jobs, subscriptions and secrets the caller works with. */
  tenant: string;
  scopes: readonly Scope[];
  /** The stored key's id; null for a bootstrap key or open development access. */
  keyId: string | null;
  /**
   * A bootstrap key (API_KEYS) or open development access: it works as tenant `default`,
   * and administers every tenant's API keys and every dead letter (also those that name no
   * tenant, such as undecodable bytes). A stored key never does, `admin` or not.
   */
  allTenants: boolean;
}

/** What an API_KEYS key stands for. */
export const BOOTSTRAP_PRINCIPAL: Principal = Object.freeze({ tenant: DEFAULT_TENANT, scopes: SCOPES, keyId: null, allTenants: true });

/** What a request without a key stands for while the system runs open (development, no key anywhere). */
export const ANONYMOUS_PRINCIPAL: Principal = BOOTSTRAP_PRINCIPAL;

/** Throws 403 E_FORBIDDEN unless the principal holds `scope`. */
export function assertScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.includes(scope)) {
    throw new HttpError("E_FORBIDDEN", `this API key lacks the "${scope}" scope (it has ${principal.scopes.join(", ")})`);
  }
}
