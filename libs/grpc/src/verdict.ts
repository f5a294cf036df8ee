import type { Verdict } from "./generated/veriflow/v1/Verdict.js";

/** The fields every result (verify result or proof document) has, as far as a Verdict needs them. */
interface ResultShape {
  status?: string;
  reasons?: string[];
  fileHash?: string;
  recovered?: string | null;
  onchain?: { creator: string; timestamp: number; manifestURI: string; revoked: boolean; blockNumber?: number | null };
  checks?: { manifestHashOk: boolean; creatorOk: boolean; manifestOk: boolean; didOk: boolean };
  reusedFrom?: string;
  decidedAtBlock?: number;
}

/** A result as the typed `Verdict` message (JobService's jobs, SubmissionService's sync answers); null without one. */
export function toProtoVerdict(result: unknown): Verdict | null {
  const r = result as ResultShape | null;
  if (!r?.status) return null;
  return {
    status: r.status,
    reasons: r.reasons ?? [],
    fileHash: r.fileHash ?? "",
    ...(r.recovered ? { recovered: r.recovered } : {}),
    onchain: r.onchain ? toProtoOnchain(r.onchain) : null,
    checks: r.checks ?? null,
    ...(r.reusedFrom ? { reusedFrom: r.reusedFrom } : {}),
    ...(r.decidedAtBlock === undefined ? {} : { decidedAtBlock: String(r.decidedAtBlock) }),
  };
}

function toProtoOnchain(o: NonNullable<ResultShape["onchain"]>) {
  const read = o.blockNumber === undefined || o.blockNumber === null ? {} : { blockNumber: String(o.blockNumber) };
  return { creator: o.creator, timestamp: String(o.timestamp), manifestUri: o.manifestURI, revoked: o.revoked, ...read };
}
