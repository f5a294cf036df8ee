import { getAddress } from "ethers";
import { z } from "zod";
import { PermanentError } from "@veriflow/errors";
import { CONTENT_HASH_PATTERN, type ManifestSummary } from "@veriflow/events";

/**
 * The signed manifest of DOMAIN.md. Unknown fields are kept (a newer writer may add
 * some); `attestations` defaults to [] when absent, and `content_uri` may be null.
 */

const required = (what: string) => (iss: { input: unknown }) =>
  iss.input === undefined ? "is required" : `must be ${what}`;

const DID = /^did:pkh:eip155:([1-9][0-9]{0,15}):(0x[0-9a-fA-F]{40})$/;

/** A did:pkh:eip155 DID whose address, when mixed-case, carries a valid EIP-55 checksum. */
const didField = z
  .string({ error: required("a string") })
  .regex(DID, { error: "must be did:pkh:eip155:<chainId>:<0x address>" })
  .refine((did) => didAddressValid(did), { error: "has an address with an invalid EIP-55 checksum" });

const contentUriField = z
  .string({ error: required("a string") })
  .refine((uri) => /^(ipfs|https):\/\/\S+$/i.test(uri), { error: "must be an ipfs:// or https:// URI" });

export const ManifestSchema = z.looseObject({
  version: z.literal("1.0", { error: required('"1.0"') }),
  algorithm: z.literal("sha256", { error: required('"sha256"') }),
  content_hash: z
    .string({ error: required("a string") })
    .regex(CONTENT_HASH_PATTERN, { error: "must be 0x followed by 64 hex characters" }),
  content_uri: contentUriField.nullish(),
  creator_did: didField,
  created_at: z
    .string({ error: required("a string") })
    .pipe(z.iso.datetime({ offset: true, error: "must be an ISO-8601 timestamp such as 2024-01-01T00:00:00Z" })),
  signature: z
    .string({ error: required("a string") })
    .regex(/^0x[0-9a-fA-F]{130}$/, { error: "must be a 65-byte signature: 0x followed by 130 hex characters" }),
  attestations: z.array(z.unknown(), { error: required("an array") }).default([]),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * Decodes and validates manifest bytes (UTF-8 JSON, an optional BOM tolerated).
 * Throws PermanentError("E_MANIFEST_INVALID") naming every problem found.
 */
export function parseManifest(bytes: Uint8Array): Manifest {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalid("it is not UTF-8 text");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(`it is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw invalid("it must be a JSON object");
  const parsed = ManifestSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"} ${i.message}`);
    throw invalid(problems.join("; "));
  }
  return parsed.data;
}

function invalid(what: string): PermanentError {
  return new PermanentError("E_MANIFEST_INVALID", `manifest is invalid: ${what}`);
}

/** Splits a did:pkh:eip155 DID into its chain id and checksummed address. */
export function parseDid(did: string): { chainId: number; address: string } {
  const m = DID.exec(did);
  const chainId = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(chainId) || !didAddressValid(did)) {
    throw new PermanentError("E_MANIFEST_INVALID", `not a did:pkh:eip155:<chainId>:<address> DID: ${JSON.stringify(did)}`);
  }
  return { chainId, address: getAddress(m[2]!.toLowerCase()) };
}

/** Formats the DID of an address on a chain: did:pkh:eip155:<chainId>:<checksummed address>. */
export function formatDid(chainId: number, address: string): string {
  return `did:pkh:eip155:${chainId}:${getAddress(address)}`;
}

function didAddressValid(did: string): boolean {
  const address = DID.exec(did)?.[2];
  if (address === undefined) return false;
  try {
    getAddress(address); // throws on a mixed-case address whose checksum is wrong
    return true;
  } catch {
    return false;
  }
}

/** The manifest fields a proof carries (ManifestSummary of the event catalog). */
export function summarizeManifest(manifest: Manifest, uri: string, cid: string | null): ManifestSummary {
  return {
    uri,
    cid,
    contentHash: manifest.content_hash.toLowerCase(),
    contentUri: manifest.content_uri ?? null,
    creatorDid: manifest.creator_did,
    createdAt: manifest.created_at,
    signature: manifest.signature,
  };
}
