import { getAddress } from "ethers";
import { Reason as ReasonSchema, type OnchainEntry, type Reason, type VerdictStatus, type VerifyResult } from "@veriflow/events";
import { normalizeHash, sameHash } from "./content-hash.js";

export interface VerdictInput {
  /** Content hash of the uploaded file. */
  fileHash: string;
  /** `content_hash` as the manifest states it. */
  manifestContentHash: string;
  /** Signer recovered from the manifest signature; null when the signature is unusable. */
  recovered: string | null;
  /** Address inside the manifest's `creator_did`; null when there is none to compare. */
  creatorDidAddress: string | null;
  /** The manifest URI the client submitted. */
  submittedManifestUri: string;
  /** `entries(fileHash)` as read from the registry (`revoked` is recomputed, see below). */
  onchain: OnchainEntry;
}

/** Reasons in the stable order of the catalog's Reason enum. */
const ORDER: readonly Reason[] = ReasonSchema.options;
const FATAL = new Set<Reason>(["not_registered", "revoked", "hash_mismatch", "bad_signature", "creator_mismatch"]);

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The verdict of DOMAIN.md "Verify". Registered means timestamp != 0; revoked means
 * registered with an empty URI (derived from the entry, whatever its `revoked` flag says).
 * FAIL on not_registered, revoked, hash_mismatch, bad_signature, creator_mismatch;
 * else WARN on uri_mismatch or did_mismatch; else OK with no reasons. Every reason that
 * applies is listed, also on FAIL. Hashes are emitted lowercase, addresses checksummed.
 */
export function computeVerdict(input: VerdictInput): VerifyResult {
  const { recovered, creatorDidAddress, onchain } = input;
  const registered = onchain.timestamp !== 0;
  const revoked = registered && onchain.manifestURI === "";

  const manifestHashOk = sameHash(input.fileHash, input.manifestContentHash);
  const creatorOk = registered && recovered !== null && sameAddress(onchain.creator, recovered);
  const manifestOk = registered && !revoked && onchain.manifestURI === input.submittedManifestUri;
  const didOk = recovered !== null && creatorDidAddress !== null && sameAddress(creatorDidAddress, recovered);

  const found = new Set<Reason>();
  if (!registered) found.add("not_registered");
  if (revoked) found.add("revoked");
  if (!manifestHashOk) found.add("hash_mismatch");
  if (recovered === null) found.add("bad_signature");
  if (registered && recovered !== null && !creatorOk) found.add("creator_mismatch");
  if (registered && !revoked && !manifestOk) found.add("uri_mismatch");
  if (recovered !== null && !didOk) found.add("did_mismatch");
  const reasons = ORDER.filter((r) => found.has(r));

  let status: VerdictStatus = "OK";
  if (reasons.some((r) => FATAL.has(r))) status = "FAIL";
  else if (reasons.length > 0) status = "WARN";

  return {
    status,
    reasons,
    fileHash: normalizeHash(input.fileHash),
    recovered: recovered === null ? null : getAddress(recovered.toLowerCase()),
    onchain: {
      creator: getAddress(onchain.creator.toLowerCase()),
      timestamp: onchain.timestamp,
      manifestURI: onchain.manifestURI,
      revoked,
      blockNumber: onchain.blockNumber,
    },
    checks: { manifestHashOk, creatorOk, manifestOk, didOk },
  };
}
