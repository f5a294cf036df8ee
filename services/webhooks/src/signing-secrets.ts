import type { Sql } from "@veriflow/pg";
import type { SecretBox } from "./secret-box.js";
import { generateWebhookSecret } from "./signature.js";

/**
 * Each tenant's secret for signing its job callbacks, kept sealed in webhook_signing_secrets
 * and made on first use. A rotation makes a new one; the one it replaces keeps signing beside
 * it (two `v1,` signatures) until the overlap ends, so receivers switch without a gap.
 */
export interface TenantSigningSecret {
  tenant: string;
  secret: string;
  createdAt: Date;
  /** While the secret a rotation replaced still signs; null when none does. */
  previousExpiresAt: Date | null;
}

/** The row as stored, its secrets still sealed; `previousCiphertext` only while it signs. */
export interface SealedSigningSecrets {
  secretCiphertext: string;
  previousCiphertext: string | null;
  createdAt: Date;
  previousExpiresAt: Date | null;
}

export interface SigningSecretsOptions {
  sql: Sql;
  box: SecretBox;
  /** Tenant default's first secret: WEBHOOK_SIGNING_SECRET (what signed callbacks before tenants); null: generated. */
  defaultSeed: string | null;
}

/** A tenant's secrets are sealed for that tenant only. */
const contextOf = (tenant: string) => `signing-secret:${tenant}`;

export function createSigningSecrets(opts: SigningSecretsOptions) {
  const { sql, box } = opts;
  const firstSecretOf = (tenant: string) => (tenant === "default" && opts.defaultSeed !== null ? opts.defaultSeed : generateWebhookSecret());

  /** The tenant's sealed row, made now when there is none (two replicas at once: the first insert wins). */
  const ensure = async (tenant: string): Promise<SealedSigningSecrets> => {
    await sql`
      insert into webhook_signing_secrets (tenant, secret_ciphertext)
      values (${tenant}, ${box.seal(firstSecretOf(tenant), contextOf(tenant))})
      on conflict (tenant) do nothing`;
    const [row] = await sql<SealedSigningSecrets[]>`
      select secret_ciphertext, created_at, previous_expires_at,
        case when previous_expires_at > now() then previous_ciphertext end as previous_ciphertext
      from webhook_signing_secrets where tenant = ${tenant}`;
    return row!;
  };

  const view = (tenant: string, row: SealedSigningSecrets): TenantSigningSecret => ({
    tenant,
    secret: box.open(row.secretCiphertext, contextOf(tenant)),
    createdAt: row.createdAt,
    previousExpiresAt: row.previousCiphertext === null ? null : row.previousExpiresAt,
  });

  return {
    /** The tenant's current secret (made on first use). */
    async current(tenant: string): Promise<TenantSigningSecret> {
      return view(tenant, await ensure(tenant));
    },

    /** A new secret for the tenant; the one it replaces signs beside it for `overlapMs` more. */
    async rotate(tenant: string, overlapMs: number): Promise<TenantSigningSecret> {
      await ensure(tenant);
      const [row] = await sql<SealedSigningSecrets[]>`
        update webhook_signing_secrets set
          previous_ciphertext = secret_ciphertext,
          previous_expires_at = now() + ${overlapMs}::float8 * interval '1 millisecond',
          secret_ciphertext = ${box.seal(generateWebhookSecret(), contextOf(tenant))},
          created_at = now()
        where tenant = ${tenant}
        returning secret_ciphertext, created_at, previous_expires_at,
          case when previous_expires_at > now() then previous_ciphertext end as previous_ciphertext`;
      return view(tenant, row!);
    },

    /**
     * What signs a tenant's callback now, current first: from the row a claim read (null: the
     * tenant has none yet, made now).
     */
    async signingKeys(tenant: string, sealed: Pick<SealedSigningSecrets, "secretCiphertext" | "previousCiphertext"> | null): Promise<string[]> {
      const row = sealed ?? (await ensure(tenant));
      const keys = [box.open(row.secretCiphertext, contextOf(tenant))];
      if (row.previousCiphertext !== null) keys.push(box.open(row.previousCiphertext, contextOf(tenant)));
      return keys;
    },
  };
}

export type SigningSecrets = ReturnType<typeof createSigningSecrets>;
