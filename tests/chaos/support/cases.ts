import { randomBytes } from "node:crypto";
import type { Reason, VerdictStatus } from "@veriflow/events";
import { contentHashOf } from "@veriflow/verify";
import { publishContent, revokeContent, type ChainHandle, type ManifestServer } from "@veriflow/testing";

/** What a job must end with: a verdict (a completed job), or a failure at a stage with a code. */
export type Expectation =
  | { outcome: "completed"; status: VerdictStatus; reasons: Reason[] }
  | { outcome: "failed"; stage: string; code: string };

/** A file the load submits, with the manifest URI it is submitted with and what must come out. */
export interface Case {
  kind: string;
  bytes: Buffer;
  /** "0x" + lowercase SHA-256 of `bytes`: a completed job must report this hash. */
  contentHash: string;
  manifestUri: string;
  expect: Expectation;
}

/** Small random contents (0.5–8 KiB): the suite is about faults, not bytes. */
const randomContent = () => randomBytes(512 + Math.floor(Math.random() * 7680));
/**
 * A few large ones (about 1.2 MiB: three chunks of the uploads bucket), so the faults also hit
 * uploads that hashing reads while they are stored (libs/nats upload-follower.ts).
 */
const largeContent = () => randomBytes(1200 * 1024 + Math.floor(Math.random() * 8192));

/**
 * The kinds of submission, each with a verdict known in advance (DOMAIN.md's rules), and how
 * many of every 20 submissions are of that kind. Every kind runs the whole pipeline; the last
 * one fails at the manifest stage, so failed jobs are part of every run.
 */
const MIX: readonly { kind: string; per20: number; contents: number }[] = [
  { kind: "registered", per20: 9, contents: 12 },
  { kind: "registered-large", per20: 1, contents: 2 },
  { kind: "uri-mismatch", per20: 2, contents: 3 },
  { kind: "unregistered", per20: 3, contents: 4 },
  { kind: "tampered", per20: 3, contents: 4 },
  { kind: "revoked", per20: 1, contents: 2 },
  { kind: "manifest-missing", per20: 1, contents: 2 },
];

/**
 * Publishes the suite's contents on the chain and the manifest server, once for the whole
 * run, and returns the cases in submission order: `cases[i % cases.length]` follows MIX.
 */
export async function prepareCases(chain: ChainHandle, registry: string, manifests: ManifestServer): Promise<Case[]> {
  const byKind = new Map<string, Case[]>();
  for (const { kind, contents } of MIX) {
    const list: Case[] = [];
    for (let i = 0; i < contents; i++) list.push(await prepareCase(kind, i, chain, registry, manifests));
    byKind.set(kind, list);
  }
  // A cycle of 20 with each kind spread evenly over it; each kind's contents taken in turn.
  const cycle = MIX.flatMap((m) => Array.from({ length: m.per20 }, (_, k) => ({ kind: m.kind, at: (k + 0.5) / m.per20 })))
    .sort((a, b) => a.at - b.at)
    .map((slot) => slot.kind);
  const rounds = Math.max(...MIX.map((m) => Math.ceil(m.contents / m.per20)));
  const ordered: Case[] = [];
  const taken = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    for (const kind of cycle) {
      const list = byKind.get(kind)!;
      const i = taken.get(kind) ?? 0;
      taken.set(kind, i + 1);
      ordered.push(list[i % list.length]!);
    }
  }
  return ordered;
}

async function prepareCase(kind: string, i: number, chain: ChainHandle, registry: string, manifests: ManifestServer): Promise<Case> {
  const signer = chain.accounts[0]!.privateKey;
  const bytes = kind === "registered-large" ? largeContent() : randomContent();
  const contentHash = contentHashOf(bytes);
  const completed = (status: VerdictStatus, ...reasons: Reason[]): Expectation => ({ outcome: "completed", status, reasons });
  switch (kind) {
    case "registered":
    case "registered-large": {
      const p = await publishContent({ chain, registry, manifests, content: bytes, via: "ipfs" });
      return { kind, bytes, contentHash, manifestUri: p.manifestUri, expect: completed("OK") };
    }
    case "uri-mismatch": {
      // Registered with its ipfs:// URI; submitted with the same signed manifest at an http URL.
      const p = await publishContent({ chain, registry, manifests, content: bytes, via: "ipfs" });
      const httpUri = manifests.putManifest(`chaos-uri-mismatch-${i}-${contentHash.slice(2, 14)}`, p.manifest);
      return { kind, bytes, contentHash, manifestUri: httpUri, expect: completed("WARN", "uri_mismatch") };
    }
    case "unregistered": {
      const p = await publishContent({ chain, registry, manifests, content: bytes, via: "ipfs", registrantKey: null });
      return { kind, bytes, contentHash, manifestUri: p.manifestUri, expect: completed("FAIL", "not_registered") };
    }
    case "tampered": {
      // A registered content's manifest with one byte of the file changed: another hash, unregistered.
      const p = await publishContent({ chain, registry, manifests, content: bytes, via: "ipfs" });
      const tampered = Buffer.from(bytes);
      tampered[0]! ^= 0xff;
      return { kind, bytes: tampered, contentHash: contentHashOf(tampered), manifestUri: p.manifestUri, expect: completed("FAIL", "not_registered", "hash_mismatch") };
    }
    case "revoked": {
      const p = await publishContent({ chain, registry, manifests, content: bytes, via: "ipfs" });
      await revokeContent(chain.rpcUrl, signer, registry, contentHash);
      return { kind, bytes, contentHash, manifestUri: p.manifestUri, expect: completed("FAIL", "revoked") };
    }
    case "manifest-missing":
      // The manifest host answers 404: a permanent error, the job fails at the manifest stage.
      return {
        kind,
        bytes,
        contentHash,
        manifestUri: `${manifests.url}/manifests/chaos-missing-${i}-${contentHash.slice(2, 14)}`,
        expect: { outcome: "failed", stage: "manifest", code: "E_MANIFEST_NOT_FOUND" },
      };
    default:
      throw new Error(`unknown case kind ${kind}`);
  }
}
