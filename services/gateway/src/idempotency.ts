import { createHash, randomUUID } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { JobRequest } from "@veriflow/events";
import { HttpError, badRequest } from "@veriflow/errors";
import { isStorageFullError, isWrongLastSequence, whileUnavailable } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";
import type { Accepted } from "./accept-submission.js";

/**
 * `Idempotency-Key` (REST header, gRPC `idempotency-key` metadata): the same key and the
 * same request answer the same job, across gateway replicas, for the bucket's max age
 * (IDEMPOTENCY_TTL_MS, 24 h at least). Records live in a JetStream KV bucket:
 *
 * - `create` is atomic: the first request with a key claims it (a `pending` record); a
 *   second one finds the claim and waits up to WAIT_MS for its outcome, then answers 409
 *   E_IDEMPOTENCY_KEY_IN_PROGRESS. A claimer refreshes its claim every LEASE_MS / 3; a
 *   claim not refreshed for LEASE_MS (its gateway died) is taken over.
 * - Only an accepted job is recorded (`done`, with the original 202 body and a fingerprint
 *   of the request: type, fields, the file's SHA-256 and size). A request that failed
 *   releases its claim, so a retry with the same key runs anew: no failure is pinned.
 * - A repeat is received without being stored (its file only hashed) and compared: the
 *   same fingerprint answers the original body, another is 409 E_IDEMPOTENCY_KEY_REUSED.
 * - Keys are scoped by the API key presented (its digest), so clients cannot collide.
 * - A write can land unheard: during a leader change its answer times out while the bucket
 *   kept it. Every write of a claim is therefore checked against what is stored: a claim
 *   that finds its own record (its owner id) at another revision carries on from there,
 *   and the outcome is written again while the bucket does not answer (up to
 *   RECORD_WAIT_MS): a job accepted but not recorded would let a retry make a second one.
 */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** A claim not refreshed for this long is abandoned (its gateway is gone). */
export const LEASE_MS = 30_000;
/** How long a repeat waits for the first request's outcome before answering 409 in progress. */
export const WAIT_MS = 5_000;
const POLL_MS = 100;
/** How long an accepted job's record is retried while the bucket has no leader (an election takes 4–9 s). */
export const RECORD_WAIT_MS = 15_000;
const MAX_KEY_LENGTH = 255;

export interface IdempotencyRecord<A = Accepted> {
  state: "done";
  fingerprint: string;
  /** The original answer's body (REST 202, gRPC response): a job's, or a batch's (BatchAnswer). */
  accepted: A;
  acceptedAt: string;
}
interface PendingRecord {
  state: "pending";
  owner: string;
}

export interface Claim<A = Accepted> {
  kind: "claimed";
  /** Records the accepted job under the key; a repeat answers it from now on. */
  complete(fingerprint: string, accepted: A): Promise<void>;
  /** Gives the key up (the request failed): a retry with it starts afresh. */
  release(): Promise<void>;
}
export type IdempotencySlot<A = Accepted> = Claim<A> | { kind: "done"; record: IdempotencyRecord<A> };

export interface Idempotency {
  /** Claims `key` for this request, or returns the job an earlier request with it was given. */
  begin<A = Accepted>(apiKey: string | undefined, key: string): Promise<IdempotencySlot<A>>;
}

/** The header's (or metadata's) key, checked; undefined when none was sent. */
export function readIdempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  const key = raw.trim();
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw badRequest("E_INVALID_IDEMPOTENCY_KEY", `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`);
  }
  return key;
}

/** A request's fingerprint: the SHA-256 of its parts as JSON (what a record under a key is compared by). */
export function fingerprintOf(parts: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** What makes two requests "the same": the job type, the checked fields, the file's bytes. */
export function requestFingerprint(request: JobRequest, file: { contentHash: string; size: number }): string {
  const { jobType, manifestUri, registryAddress, rpcUrl, callbackUrl } = request;
  return fingerprintOf([jobType, manifestUri, registryAddress, rpcUrl, callbackUrl, file.contentHash.toLowerCase(), file.size]);
}

/** The object store's digest (`SHA-256=<base64url>`) as the 0x-hex content hash the hashing storage gives. */
export function contentHashOfDigest(digest: string): string {
  return `0x${Buffer.from(digest.replace(/^SHA-256=/, ""), "base64url").toString("hex")}`;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const encode = (v: IdempotencyRecord<unknown> | PendingRecord) => JSON.stringify(v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createIdempotency(kv: KV, log: Logger, opts: { leaseMs?: number; waitMs?: number } = {}): Idempotency {
  const leaseMs = opts.leaseMs ?? LEASE_MS;
  const waitMs = opts.waitMs ?? WAIT_MS;

  const kvError = (err: unknown): unknown => {
    if (isWrongLastSequence(err) || err instanceof HttpError) return err;
    if (isStorageFullError(err)) {
      return new HttpError("E_STORAGE_FULL", "the idempotency keys' bucket is full; send it again later", { cause: err, expose: true, retryAfterSeconds: 60 });
    }
    // Unreachable (the queue health sees the cause) or anything else: the key cannot be honoured now.
    return new HttpError("E_QUEUE_UNAVAILABLE", "the idempotency keys cannot be read; try again shortly", { cause: err, expose: true });
  };

  /** The revision at which `name` holds `owner`'s claim now; null when the key is no longer that claim. */
  const ownRevision = async (name: string, owner: string): Promise<number | null> => {
    const entry = await kv.get(name);
    if (entry === null || entry.operation !== "PUT") return null;
    const value = entry.json<IdempotencyRecord | PendingRecord>();
    return value.state === "pending" && value.owner === owner ? entry.revision : null;
  };

  const claimed = <A>(name: string, revision: number, owner: string): Claim<A> => {
    let rev = revision;
    let done = false;
    const pending = encode({ state: "pending", owner });
    /** Writes over the claim; when an earlier write of ours landed unheard, from the revision it left. */
    const updateOwn = async (value: string): Promise<number> => {
      try {
        return await kv.update(name, value, rev);
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        const current = await ownRevision(name, owner);
        if (current === null) throw err;
        return kv.update(name, value, current);
      }
    };
    // Refreshes the claim while the upload streams in: a long upload is not taken for abandoned.
    const heartbeat = setInterval(() => {
      updateOwn(pending).then(
        (r) => (rev = r),
        (err: unknown) => log.warn({ err, key: name }, "idempotency claim not refreshed"),
      );
    }, Math.max(1000, Math.floor(leaseMs / 3)));
    heartbeat.unref();
    const finish = () => {
      done = true;
      clearInterval(heartbeat);
    };
    return {
      kind: "claimed",
      async complete(fingerprint, accepted) {
        if (done) return;
        finish();
        const record: IdempotencyRecord<A> = { state: "done", fingerprint, accepted, acceptedAt: new Date().toISOString() };
        // The job exists either way: a record not written means a retry may make a second one,
        // so it is written through an election, and said when it still could not be.
        await whileUnavailable("idempotency record", () => updateOwn(encode(record)), { waitMs: RECORD_WAIT_MS }).catch((err: unknown) =>
          log.warn({ err, key: name }, "idempotency record not written"),
        );
      },
      async release() {
        if (done) return;
        finish();
        const released = (at: number) => kv.delete(name, { previousSeq: at });
        await released(rev)
          .catch(async (err: unknown) => {
            const current = isWrongLastSequence(err) ? await ownRevision(name, owner) : null;
            if (current === null) throw err;
            await released(current);
          })
          .catch((err: unknown) => log.debug({ err, key: name }, "idempotency claim not released"));
      },
    };
  };

  return {
    async begin<A>(apiKey: string | undefined, key: string): Promise<IdempotencySlot<A>> {
      const name = `${apiKey ? sha256(apiKey).slice(0, 32) : "anonymous"}.${sha256(key)}`;
      const owner = randomUUID();
      const pending = encode({ state: "pending", owner });
      const deadline = Date.now() + waitMs;
      try {
        for (;;) {
          try {
            return claimed<A>(name, await kv.create(name, pending), owner);
          } catch (err) {
            if (!isWrongLastSequence(err)) {
              // Unanswered but perhaps stored (a leader change): the claim is ours if the key holds it.
              const landed = await ownRevision(name, owner).catch(() => null);
              if (landed === null) throw err;
              return claimed(name, landed, owner);
            }
          }
          const entry = await kv.get(name);
          // null or a delete marker: released meanwhile, so the next create may win.
          if (entry !== null && entry.operation === "PUT") {
            const value = entry.json<IdempotencyRecord<A> | PendingRecord>();
            if (value.state === "done") return { kind: "done", record: value };
            if (Date.now() - entry.created.getTime() > leaseMs) {
              // Abandoned by a gateway that died mid-request: take it over (atomically: one taker wins).
              try {
                return claimed<A>(name, await kv.update(name, pending, entry.revision), owner);
              } catch (err) {
                if (!isWrongLastSequence(err)) throw err;
              }
            }
          }
          if (Date.now() >= deadline) {
            throw new HttpError("E_IDEMPOTENCY_KEY_IN_PROGRESS", "a request with this Idempotency-Key is still being received; send it again shortly to get its job", {
              retryAfterSeconds: 1,
            });
          }
          await sleep(POLL_MS);
        }
      } catch (err) {
        throw kvError(err);
      }
    },
  };
}

/** 409: the key answered another request. */
export function keyReused(): HttpError {
  return new HttpError("E_IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request (another file or other fields); use a new key for a new request");
}
