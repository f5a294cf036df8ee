import { z } from "zod";
import { failureSites, pipeline } from "./pipeline.js";

/**
 * The event catalog: every event the pipeline publishes, with its runtime check.
 * Types are inferred from these schemas; no service declares an event shape of its own.
 *
 * Each stage's output carries the request forward (event-carried state), so a stage
 * needs nothing but the event it consumes: no lookups, no shared tables.
 */

/** A content hash as written anywhere (DOMAIN.md): 0x and 64 hex digits, any case; emitted lower-case. */
export const CONTENT_HASH_PATTERN = /^0x[0-9a-fA-F]{64}$/;
/** An EVM address: 0x and 40 hex digits, any case (the checksum is not checked here). */
export const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;

export const ContentHash = z.string().regex(CONTENT_HASH_PATTERN, "a 0x-prefixed 32-byte hex string");
export const Address = z.string().regex(ADDRESS_PATTERN, "a 0x-prefixed 20-byte hex address");
/** The kinds of job, in the order the API lists them. */
export const jobTypes = ["verify", "proof"] as const;
export const JobType = z.enum(jobTypes);
export type JobType = z.infer<typeof JobType>;

/** Interactive first: the order in which stages serve the classes of work. */
export const jobPriorities = ["interactive", "bulk"] as const;
export const JobPriority = z.enum(jobPriorities);
export type JobPriority = z.infer<typeof JobPriority>;

/** How often a job may ask to be re-checked (`recheckEvery`), in seconds: every 5 minutes at most, every 365 days at least. */
export const RECHECK_EVERY_BOUNDS = { min: 300, max: 365 * 86_400 } as const;

/** What the client asked for; carried by every pipeline event. */
export const JobRequest = z.object({
  jobType: JobType,
  manifestUri: z.string().min(1),
  registryAddress: Address,
  /** A per-job RPC endpoint, only present where configuration allows it. */
  rpcUrl: z.string().url().nullable(),
  /**
   * Where to POST this job's outcome (a signed webhook). Added after v1 shipped: absent
   * in older events, so it defaults to null rather than being required.
   */
  callbackUrl: z.string().url().nullable().default(null),
  /**
   * How urgently the job is served: interactive work (synchronous requests, single
   * submissions) is taken before bulk work (batches, re-verifications). Added after v1:
   * absent in older events and single submissions, which are interactive (`priorityOf`).
   */
  priority: JobPriority.optional(),
  /** The batch the job was submitted in; absent for a single submission. */
  batchId: z.string().min(1).optional(),
  /**
   * Re-verify the completed job on this schedule, in seconds (the client's `recheckEvery`,
   * between RECHECK_EVERY_BOUNDS): registry-watch runs it again that long after each verdict.
   * Absent: only a change of its registry entry re-verifies it. The bounds hold here too, not
   * only at the gateway: an event published around it with a re-check every second would run
   * its job again every second for ever, so it is refused (dead-lettered) when decoded.
   */
  recheckEverySeconds: z.number().int().min(RECHECK_EVERY_BOUNDS.min).max(RECHECK_EVERY_BOUNDS.max).optional(),
  /**
   * Decide afresh: never answer from a verdict already recorded for the same content, manifest
   * URI and registry (the client's `fresh`). Absent: a verdict decided at the current block is
   * reused (`result.reusedFrom`). Added after v1: absent in older events.
   */
  fresh: z.boolean().optional(),
});
export type JobRequest = z.infer<typeof JobRequest>;

/**
 * `recheckEvery` as a client writes it: a whole number of seconds, or an ISO-8601 duration of
 * days, hours, minutes and seconds (`P1D`, `PT6H`, `P1DT12H`, `PT90M`); null when it is neither.
 * Weeks, months and years are refused: their length in seconds is not fixed.
 */
export function parseRecheckEvery(raw: string): number | null {
  if (/^\d{1,10}$/.test(raw)) return Number(raw);
  const m = /^P(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,10})S)?)?$/i.exec(raw);
  if (!m || raw.toUpperCase() === "P" || /T$/i.test(raw)) return null;
  const [, d, h, min, sec] = m.map((x) => Number(x ?? 0));
  return d! * 86_400 + h! * 3600 + min! * 60 + sec!;
}

/** A job's priority: what it asked for, interactive when it asked for none. */
export function priorityOf(request: Pick<JobRequest, "priority">): JobPriority {
  return request.priority ?? "interactive";
}

export const Reason = z.enum([
  "not_registered",
  "revoked",
  "hash_mismatch",
  "bad_signature",
  "creator_mismatch",
  "uri_mismatch",
  "did_mismatch",
]);
export type Reason = z.infer<typeof Reason>;

export const VerdictStatus = z.enum(["OK", "WARN", "FAIL"]);
export type VerdictStatus = z.infer<typeof VerdictStatus>;

/** The registry's view of a content hash (DOMAIN.md `entries()`). */
export const OnchainEntry = z.object({
  creator: Address,
  /** Block timestamp in seconds; 0 means "not registered". */
  timestamp: z.number().int().nonnegative(),
  manifestURI: z.string(),
  revoked: z.boolean(),
  /**
   * The block the entry was read at (every read is pinned to one): a third party repeats the read
   * with `entries()` at this block. Added after v1 shipped: absent in older events, so it defaults to null.
   */
  blockNumber: z.number().int().nonnegative().nullable().default(null),
});
export type OnchainEntry = z.infer<typeof OnchainEntry>;

/** The verify result of DOMAIN.md, exactly as clients of the old API read it. */
export const VerifyResult = z.object({
  status: VerdictStatus,
  reasons: z.array(Reason),
  fileHash: ContentHash,
  recovered: Address.nullable(),
  onchain: OnchainEntry,
  checks: z.object({
    manifestHashOk: z.boolean(),
    creatorOk: z.boolean(),
    manifestOk: z.boolean(),
    didOk: z.boolean(),
  }),
  /**
   * Set when the verdict was not decided by this job but answered from a recorded one (the same
   * content, manifest URI and registry, nothing changed on chain since): the job that decided it.
   * Absent for a verdict decided by its own job.
   */
  reusedFrom: z.string().min(1).optional(),
  /** With `reusedFrom`: the block the reused verdict was decided at (its `onchain.blockNumber`). */
  decidedAtBlock: z.number().int().nonnegative().optional(),
});
export type VerifyResult = z.infer<typeof VerifyResult>;

/** The manifest fields a proof needs, as fetched and validated by the manifest stage. */
export const ManifestSummary = z.object({
  uri: z.string(),
  /** The CID the bytes were checked against, for ipfs:// manifests; otherwise null. */
  cid: z.string().nullable(),
  contentHash: ContentHash,
  contentUri: z.string().nullable(),
  creatorDid: z.string(),
  createdAt: z.string(),
  signature: z.string(),
});
export type ManifestSummary = z.infer<typeof ManifestSummary>;

/** The registration transaction found for a content hash (its `ContentRegistered` log). */
export const Registration = z.object({
  txHash: ContentHash,
  blockNumber: z.number().int().nonnegative(),
  blockHash: ContentHash,
  logIndex: z.number().int().nonnegative(),
});
export type Registration = z.infer<typeof Registration>;

/**
 * A proof: the verify result plus everything a third party needs to re-check it
 * against the chain. A superset of VerifyResult, so `result.status` reads the same
 * for both job types.
 */
export const ProofDocument = VerifyResult.extend({
  proofVersion: z.literal("veriflow.proof/1"),
  generatedAt: z.string(),
  chainId: z.number().int().positive(),
  registryAddress: Address,
  /** Null when the hash is not registered or its log lies outside the searched range. */
  registration: Registration.nullable(),
  txHash: ContentHash.nullable(),
  blockNumber: z.number().int().nonnegative().nullable(),
  manifest: ManifestSummary,
});
export type ProofDocument = z.infer<typeof ProofDocument>;

/** Where the job gave up: the gateway, or the pipeline stage that did. */
export const Stage = z.enum(failureSites);
export type Stage = z.infer<typeof Stage>;

const attempts = z.number().int().positive();

/** A verdict as `verification.changed` compares it: its status and reasons, and the block its chain read was pinned to. */
export const VerdictSummary = z.object({
  status: VerdictStatus,
  reasons: z.array(Reason),
  /** The block the registry entry was read at; null for a verdict from before reads were pinned. */
  blockNumber: z.number().int().nonnegative().nullable(),
});
export type VerdictSummary = z.infer<typeof VerdictSummary>;

/** What a registry log did to an entry (DOMAIN.md): ContentRegistered, ManifestUpdated, EntryRevoked. */
export const RegistryChangeKind = z.enum(["registered", "manifest_updated", "revoked"]);
export type RegistryChangeKind = z.infer<typeof RegistryChangeKind>;

/**
 * A registry log the watcher (services/registry-watch) read once it was `confirmations` deep.
 * Not an event of a job: it lives on its own stream, `veriflow-registry.changed.<registry>`
 * (topology.ts), so the observers of job events never see it. One per log: its id, the
 * Nats-Msg-Id, is derived from the log's block hash and index (registryChangeId).
 */
export const RegistryChanged = z.object({
  registryAddress: Address,
  contentHash: ContentHash,
  kind: RegistryChangeKind,
  /** The entry's manifest URI after the change ("" for a revocation). */
  manifestURI: z.string(),
  blockNumber: z.number().int().nonnegative(),
  blockHash: ContentHash,
  txHash: ContentHash,
  logIndex: z.number().int().nonnegative(),
  /**
   * True when a log read before left the chain in a reorganisation: the entry may be back to
   * what it was, so its verifications are re-verified again.
   */
  removed: z.boolean(),
});
export type RegistryChanged = z.infer<typeof RegistryChanged>;

/**
 * A verdict kept for answering again (the known-verdicts bucket, KNOWN_VERDICTS_BUCKET): written by
 * registry-watch when a job's own run completes, read by the manifest stage before it fetches
 * and again by chain-check before it answers from it.
 * Not an event: a record, keyed by (registry, content hash, tenant, job type, manifest URI).
 */
export const KnownVerdict = z.object({
  /** The job (and run) whose verdict this is. */
  jobId: z.string().min(1),
  run: z.number().int().positive(),
  /** The block its registry entry was read at: the verdict holds while nothing changed after it. */
  decidedAtBlock: z.number().int().nonnegative(),
  result: z.union([ProofDocument, VerifyResult]),
});
export type KnownVerdict = z.infer<typeof KnownVerdict>;

/**
 * Which recorded verdict a `manifest.checked` points at (the record's jobId, run and block), and
 * what the job's content.hashed said, so chain-check can send the job back for a full run as it
 * came if the verdict no longer holds there.
 */
export const KnownVerdictPointer = z.object({
  jobId: z.string().min(1),
  run: z.number().int().positive(),
  decidedAtBlock: z.number().int().nonnegative(),
  /** The job's content.hashed facts that manifest.checked does not otherwise carry. */
  hashed: z.object({
    size: z.number().int().nonnegative(),
    startedAt: z.string(),
    hashGiven: z.literal(true).optional(),
  }),
});
export type KnownVerdictPointer = z.infer<typeof KnownVerdictPointer>;

/** The question a known verdict answers: the same content, manifest URI and registry, job type and tenant. */
export interface KnownVerdictQuestion {
  tenant: string;
  jobType: JobType;
  registryAddress: string;
  contentHash: string;
  manifestUri: string;
}

export const eventSchemas = {
  /**
   * A client uploaded a file; it waits in the uploads bucket under `upload.name`, which is the job id (the hashing stage reads no other).
   * Or a client asked to watch a content hash (POST /api/watches): then `contentHash` is given, `upload` is null, and the hashing stage passes the hash on.
   */
  "verification.requested": z.object({
    jobId: z.string().min(1),
    request: JobRequest,
    /**
     * The content hash the client gave instead of a file (a watch: the job is then followed until the watch is stopped).
     * Added after v1: absent for an upload, whose hash the hashing stage computes.
     */
    contentHash: ContentHash.optional(),
    /** The stored upload; null exactly when `contentHash` is given (no file was sent). */
    upload: z.object({
      bucket: z.string(),
      name: z.string(),
      size: z.number().int().nonnegative(),
      fileName: z.string().nullable(),
      contentType: z.string().nullable(),
      /**
       * Where the object's bytes live (its chunk subject's id), how many chunks, and the
       * store's SHA-256 digest: lets the hashing stage read a small upload in one direct
       * get. Added after v1: null in older events.
       */
      nuid: z.string().nullable().default(null),
      chunks: z.number().int().nonnegative().nullable().default(null),
      digest: z.string().nullable().default(null),
      /**
       * The stream sequence of the object's entry. With `chunkSeq`, the hashing stage reads
       * and deletes a one-chunk upload by sequence instead of looking it up by subject, after
       * checking that each message is on this upload's subject. Added after `nuid`: absent in
       * older events.
       */
      entrySeq: z.number().int().positive().nullable().optional(),
      /** The stream sequence of a one-chunk upload's chunk; null when it has more or none, absent in older events. */
      chunkSeq: z.number().int().positive().nullable().optional(),
    }).nullable(),
  }),
  /** The hashing stage read the upload and computed its content hash. */
  "content.hashed": z.object({
    jobId: z.string().min(1),
    request: JobRequest,
    contentHash: ContentHash,
    /** Bytes hashed: 0 when the hash was given. */
    size: z.number().int().nonnegative(),
    startedAt: z.string(),
    attempts,
    /** The client gave the hash (a watch, `verification.requested` without an upload): nothing was read or hashed. Absent when computed. */
    hashGiven: z.literal(true).optional(),
  }),
  /**
   * The manifest stage fetched, validated and checked the signed manifest; or, with `known`, found
   * a recorded verdict of the same question that still holds, and fetched nothing.
   */
  "manifest.checked": z
    .object({
      jobId: z.string().min(1),
      request: JobRequest,
      contentHash: ContentHash,
      /** The manifest as fetched; absent exactly when `known` is present. */
      manifest: ManifestSummary.optional(),
      /** The signer recovered from the signature; null when the signature is unusable. Absent exactly when `known` is present. */
      recovered: Address.nullable().optional(),
      /** Absent exactly when `known` is present. */
      checks: z
        .object({
          manifestHashOk: z.boolean(),
          signatureOk: z.boolean(),
          didOk: z.boolean(),
        })
        .optional(),
      /**
       * The manifest was not fetched: a recorded verdict applies; chain-check confirms it. A pointer
       * to the record (the known-verdicts bucket), not the verdict: chain-check reads the record
       * itself and checks the chain again, so only it states a verdict. Added after v1: absent in
       * older events and in every full run.
       */
      known: KnownVerdictPointer.optional(),
      attempts,
    })
    // One shape, two readings: a checked manifest, or a pointer to a known verdict; never both, never neither.
    .refine((d) => [d.manifest, d.recovered, d.checks].every((f) => (f === undefined) === (d.known !== undefined)), {
      message: "manifest, recovered and checks are present exactly when known is absent",
    }),
  /** A verdict was reached (OK, WARN or FAIL: a FAIL verdict is a completed job). */
  "verification.completed": z.object({
    jobId: z.string().min(1),
    jobType: JobType,
    contentHash: ContentHash,
    result: z.union([ProofDocument, VerifyResult]),
    attempts,
  }),
  /** A stage gave up: a permanent error, or the last attempt of a transient one. */
  "verification.failed": z.object({
    jobId: z.string().min(1),
    jobType: JobType.nullable(),
    stage: Stage,
    /** The stable reason: one of the codes of a failed job in docs/errors.md (the catalog in libs/errors); treat an unknown one like E_INTERNAL. */
    code: z.string().regex(/^E_[A-Z0-9_]+$/),
    message: z.string(),
    attempts,
  }),
  /**
   * A re-verification (a later run of a completed job, started when its registry entry changed or
   * on the job's re-check schedule) reached a verdict whose status or reasons differ from the
   * run before: sent to the job's callbackUrl and to subscriptions. Emitted by registry-watch.
   */
  "verification.changed": z.object({
    jobId: z.string().min(1),
    /** The run whose verdict is `current`. */
    run: z.number().int().min(2),
    previous: VerdictSummary,
    current: VerdictSummary,
    /** The block the current verdict was read at (current.blockNumber), at the top level for filters. */
    block: z.number().int().nonnegative().nullable(),
  }),
  /**
   * A client stopped watching a content hash (DELETE /api/watches/:watchId): the watch's job is no
   * longer re-verified, and a re-verification already running changes its verdict without a
   * verification.changed. Published by status, once per watch (its id derives from the job id).
   */
  "watch.stopped": z.object({
    jobId: z.string().min(1),
    /** When the client stopped it (the first DELETE). */
    stoppedAt: z.string(),
  }),
  /**
   * A client submitted a batch (POST /api/verification-batches, gRPC SubmitBatch): the jobs
   * it accepted, each already requested with this `batchId`. Published after them, so the
   * status projection learns the batch's size and completes it when its last job ends.
   */
  "batch.submitted": z.object({
    batchId: z.string().min(1),
    jobType: JobType,
    registryAddress: Address,
    /** How many jobs the batch holds (its accepted files). */
    total: z.number().int().positive(),
    jobIds: z.array(z.string().min(1)).min(1),
    /** How many parts were refused with a reason (they have no job). */
    rejected: z.number().int().nonnegative(),
    /** Where `batch.completed` is POSTed (a signed webhook); null for none. */
    callbackUrl: z.string().url().nullable(),
  }),
  /**
   * The last job of a batch ended (completed or failed): published once per batch by the
   * status projection, under an id derived from the batch id (batchEventId).
   */
  "batch.completed": z.object({
    batchId: z.string().min(1),
    total: z.number().int().positive(),
    completed: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    /** The verdicts of the completed jobs. */
    verdicts: z.object({ OK: z.number().int().nonnegative(), WARN: z.number().int().nonnegative(), FAIL: z.number().int().nonnegative() }),
    callbackUrl: z.string().url().nullable(),
  }),
} as const;

/** The events of a batch, not of one job: keyed by `batchId` (their subject and correlationId). */
export const batchEventTypes = ["batch.submitted", "batch.completed"] as const;
export type BatchEventType = (typeof batchEventTypes)[number];

export type EventType = keyof typeof eventSchemas;
/** The events of one job, keyed by `jobId`. */
export type JobEventType = Exclude<EventType, BatchEventType>;
export type EventData<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;
export const eventTypes = Object.keys(eventSchemas) as EventType[];
export const terminalEventTypes = pipeline.terminal;
