/**
 * A verdict in words (DOMAIN.md, "Verify"): what a verify result's status, reasons and checks
 * mean for someone who has not read the domain notes. Pure: unit-tested in verdict.test.ts.
 */

export type VerdictStatus = "OK" | "WARN" | "FAIL";

/** A verify result as jobs carry it (a proof's result is a superset). */
export interface VerifyResult {
  status: VerdictStatus;
  reasons?: string[];
  fileHash?: string;
  recovered?: string | null;
  onchain?: { creator?: string | null; timestamp?: number | null; manifestURI?: string | null; revoked?: boolean; blockNumber?: number | null } | null;
  checks?: Partial<Record<CheckName, boolean>>;
}

export type CheckName = "manifestHashOk" | "creatorOk" | "manifestOk" | "didOk";

/** Each check: what it compares, and what passing and failing mean. */
export const CHECKS: Record<CheckName, { label: string; pass: string; fail: string }> = {
  manifestHashOk: {
    label: "File matches manifest",
    pass: "The manifest's content_hash is the SHA-256 of this file.",
    fail: "The manifest describes a different file: its content_hash is not this file's SHA-256.",
  },
  creatorOk: {
    label: "Signer is the registered creator",
    pass: "The manifest's signature recovers to the address that registered this hash on-chain.",
    fail: "The manifest was not signed by the address that registered this hash (or the hash is not registered).",
  },
  manifestOk: {
    label: "Manifest is the registered one",
    pass: "The registry entry points at the manifest URI that was submitted.",
    fail: "The registry entry points at another manifest URI (updated, revoked or never registered).",
  },
  didOk: {
    label: "Creator DID matches the signer",
    pass: "The manifest's creator_did names the address that signed it.",
    fail: "The manifest's creator_did names someone other than its signer.",
  },
};

/** Why a verdict is not OK, one sentence per machine-readable reason. */
export const REASONS: Record<string, string> = {
  not_registered: "This content hash is not registered in the registry contract.",
  revoked: "The creator revoked this registration (its manifest URI is now empty).",
  hash_mismatch: "The manifest's content_hash does not match the file.",
  bad_signature: "The manifest's signature is malformed or does not recover a signer.",
  creator_mismatch: "The manifest's signer is not the address that registered the content.",
  uri_mismatch: "The registry points at a different manifest URI than the one submitted (the manifest was updated).",
  did_mismatch: "The manifest's creator_did does not name its signer.",
};

/** One line a person reads first. */
export function verdictHeadline(result: VerifyResult): string {
  switch (result.status) {
    case "OK":
      return "Verified: this file is registered on-chain by the creator who signed its manifest.";
    case "WARN":
      return "Verified with a warning: file and creator match the registry, but the registered manifest URI differs from the one submitted.";
    case "FAIL":
      return "Not verified: the file's provenance could not be confirmed.";
    default:
      return `Unknown verdict ${String(result.status)}.`;
  }
}

/** The verdict in a few words, for a table cell (the headline is its title). */
export function verdictInBrief(status: VerdictStatus): string {
  return { OK: "verified", WARN: "verified, with a warning", FAIL: "not verified" }[status] ?? `unknown verdict ${String(status)}`;
}

/** The reasons as sentences; an unknown reason is shown as it came. */
export function explainReasons(reasons: readonly string[] = []): string[] {
  return reasons.map((r) => REASONS[r] ?? `Reason: ${r}`);
}

/** Each check the result reports, in a fixed order, with its sentence; checks it lacks are left out. */
export function explainChecks(checks: VerifyResult["checks"] = {}): { name: CheckName; label: string; ok: boolean; text: string }[] {
  return (Object.keys(CHECKS) as CheckName[]).flatMap((name) => {
    const ok = checks[name];
    if (ok === undefined) return [];
    const c = CHECKS[name];
    return [{ name, label: c.label, ok, text: ok ? c.pass : c.fail }];
  });
}

/** A failed job's failure in words: where it stopped and what to do. */
export function explainFailure(failure: { stage?: string; code?: string; message?: string; attempts?: number } | null): string {
  if (!failure) return "The job failed.";
  const where = failure.stage ? `at the ${failure.stage} stage` : "";
  const tries = failure.attempts ? ` after ${failure.attempts} attempt${failure.attempts === 1 ? "" : "s"}` : "";
  return `The job stopped ${where}${tries}: ${failure.message ?? failure.code ?? "unknown error"}${failure.code ? ` (${failure.code})` : ""}. Once the cause is fixed it can be retried.`;
}
