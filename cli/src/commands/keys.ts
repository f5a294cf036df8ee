import { issueApiKey, listApiKeys, parseKeyRequest, revokeApiKey, runAuthMigrations, toApiKeyView, type ApiKeyRecord } from "@veriflow/auth";
import { HttpError } from "@veriflow/errors";
import { connectPostgres, isDatabaseUnavailableError } from "@veriflow/pg";
import type { Command } from "../args.js";
import { UnreachableError, UsageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { printJson, type Io } from "../io.js";

type KeysCommand = Extract<Command, { kind: "keys-create" | "keys-list" | "keys-revoke" }>;

/**
 * `veriflow keys create | list | revoke`, straight on the key store (DATABASE_URL), with the
 * rules the services' admin API applies. A new key is printed once, on the last line.
 */
export async function runKeys(cmd: KeysCommand, io: Io): Promise<number> {
  const sql = connectPostgres(cmd.databaseUrl, { max: 1, connectTimeoutMs: 10_000 });
  try {
    // The table may not exist yet: the first key of a deployment can come before its first start.
    await runAuthMigrations(sql);
    switch (cmd.kind) {
      case "keys-create": {
        const { record, key } = await issueApiKey(sql, asUsage(() => parseKeyRequest({ tenant: cmd.tenant, scopes: cmd.scopes, expires: cmd.expires })));
        if (cmd.json) printJson(io, { ...toApiKeyView(record), key });
        else io.stdout.write(`created key ${record.id} (${record.prefix}…) for tenant ${record.tenant}: ${describe(record)}\nkeep it now, it is not shown again:\n${key}\n`);
        return EXIT.OK;
      }
      case "keys-list": {
        const keys = await listApiKeys(sql, cmd.tenant === undefined ? {} : { tenant: cmd.tenant });
        if (cmd.json) printJson(io, { keys: keys.map(toApiKeyView) });
        else io.stdout.write(formatKeyList(keys));
        return EXIT.OK;
      }
      case "keys-revoke": {
        const revoked = await revokeApiKey(sql, cmd.id);
        if (!revoked) throw new UsageError(`no key ${cmd.id} (veriflow keys list shows the keys)`);
        if (cmd.json) printJson(io, toApiKeyView(revoked));
        else io.stdout.write(`revoked key ${revoked.id} (${revoked.prefix}…, tenant ${revoked.tenant}): the services refuse it within AUTH_CACHE_TTL_MS (30 s unless set)\n`);
        return EXIT.OK;
      }
    }
  } catch (err) {
    return unreachable(err);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HttpError) throw new UsageError(err.message);
    throw err;
  }
}

/** A database that does not answer is the CLI's "unreachable" (exit 5). */
function unreachable(err: unknown): never {
  if (isDatabaseUnavailableError(err)) throw new UnreachableError(`the database at DATABASE_URL is not reachable: ${(err as Error).message}`, { cause: err });
  throw err;
}

const day = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "-");

function describe(k: ApiKeyRecord): string {
  return `scopes ${k.scopes.join(",")}, ${k.expiresAt ? `expires ${day(k.expiresAt)}` : "never expires"}`;
}

/** One line per key: never the key, its prefix. */
function formatKeyList(keys: ApiKeyRecord[]): string {
  if (keys.length === 0) return "no keys\n";
  const header = ["ID", "PREFIX", "TENANT", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "LAST USED"];
  const rows = keys.map((k) => [k.id, k.prefix, k.tenant, k.scopes.join(","), day(k.createdAt), day(k.expiresAt), day(k.revokedAt), day(k.lastUsedAt)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
