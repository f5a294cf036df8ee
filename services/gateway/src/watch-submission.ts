import { CONTENT_HASH_PATTERN, createRequestEvent, newJobId, watchPath, type JobRequest } from "@veriflow/events";
import { badRequest } from "@veriflow/errors";
import { noteLogFields } from "@veriflow/platform";
import { publishEvents, type Hold } from "@veriflow/nats";
import type { Context } from "@veriflow/tracing";
import { queueError, type AcceptDeps } from "./accept-submission.js";
import type { Scope } from "@veriflow/auth";
import type { Admission } from "./admission.js";
import { noteHeld } from "./held-submissions.js";
import { fingerprintOf, keyReused, type Idempotency } from "./idempotency.js";
import { defaultPriority, withPriority, type PriorityContext } from "./job-priority.js";
import { parseSubmission, type SubmissionPolicy } from "./submission.js";

/** What a watch asks for: the hash to follow and the request its job verifies it with. */
export interface WatchRequest {
  contentHash: string;
  request: JobRequest;
}

export interface AcceptedWatch {
  watchId: string;
  jobId: string;
  status: "queued";
  message: string;
  pollUrl: string;
}

/**
 * Checks a watch's fields (REST JSON body, gRPC CreateWatchRequest): `contentHash` (0x and 64
 * hex digits), and the fields a single submission takes, checked by the same rules
 * (parseSubmission), less `rpcUrl`: a watch is followed on the configured chain only.
 */
export function parseWatch(body: unknown, policy: SubmissionPolicy): WatchRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("E_INVALID_BODY", "the body must be a JSON object: { contentHash, manifestURI, registryAddress, callbackUrl?, recheckEvery?, priority? }");
  }
  const fields = body as Record<string, unknown>;
  const raw = fields.contentHash;
  if (raw === undefined || raw === null || raw === "") throw badRequest("E_CONTENT_HASH_REQUIRED", '"contentHash" is required: the content\'s SHA-256, 0x and 64 hex digits');
  if (typeof raw !== "string" || !CONTENT_HASH_PATTERN.test(raw.trim())) {
    throw badRequest("E_INVALID_CONTENT_HASH", `"contentHash" must be 0x and 64 hex digits, got ${JSON.stringify(typeof raw === "string" ? raw.slice(0, 80) : typeof raw)}`);
  }
  if (fields.rpcUrl !== undefined && fields.rpcUrl !== null && fields.rpcUrl !== "") {
    throw badRequest("E_WATCH_RPC_URL_NOT_ALLOWED", "a watch is followed on the configured chain only: send it without rpcUrl");
  }
  // The submission's rules read text fields; a number of seconds is one too.
  const { contentHash: _hash, rpcUrl: _rpc, ...rest } = fields;
  const text = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === "number" ? String(v) : v]));
  return { contentHash: raw.trim().toLowerCase(), request: parseSubmission("verify", text, policy) };
}

/**
 * Queues a watch as a job of the caller's tenant: verification.requested giving the hash and
 * no upload (the hashing stage passes the hash on), published before answering, so the watch
 * exists the moment the client hears of it. REST and gRPC create watches through this.
 */
export async function acceptWatch(
  deps: Pick<AcceptDeps, "js" | "log">,
  input: { watch: WatchRequest; tenant: string; trace: Context; hold: Hold; access: PriorityContext },
): Promise<AcceptedWatch> {
  const jobId = newJobId();
  noteLogFields({ jobId, tenant: input.tenant });
  const request = withPriority(input.watch.request, input.access);
  try {
    const event = createRequestEvent(jobId, { jobId, request, contentHash: input.watch.contentHash, upload: null }, new Date(), input.tenant);
    await input.hold.run("request publish", (attempt) => publishEvents(deps.js, [event], input.trace, attempt.timeoutMs));
  } catch (err) {
    throw queueError(err);
  }
  deps.log.info({ jobId, tenant: input.tenant, contentHash: input.watch.contentHash, priority: request.priority }, "watch accepted");
  return { watchId: jobId, jobId, status: "queued", message: "Watch created: its first verification is queued", pollUrl: watchPath(jobId) };
}

export interface WatchSubmitDeps extends Pick<AcceptDeps, "js" | "log" | "policy" | "startHold"> {
  admission: Admission;
  idempotency: Idempotency;
}

/** What makes two watch requests "the same" (Idempotency-Key): the hash and every checked field. */
export function watchFingerprint(watch: WatchRequest): string {
  const { manifestUri, registryAddress, callbackUrl, recheckEverySeconds, priority } = watch.request;
  return fingerprintOf(["watch", watch.contentHash, manifestUri, registryAddress, callbackUrl, recheckEverySeconds, priority]);
}

/** The caller's Idempotency-Key (checked) and the API key it is scoped by. */
export interface WatchIdempotencyKey {
  key: string;
  apiKey: string | undefined;
}

/**
 * A watch from its fields to its 202, for REST (the JSON body) and gRPC (CreateWatchRequest as
 * the same fields): checked, admitted like a single verification (the queue's backlog and
 * stores), then queued within one hold of a JetStream that does not answer. With an
 * Idempotency-Key, a client retrying a create it never heard answered gets the same watch,
 * not a second one following the same hash (`replayed`).
 */
export async function submitWatch(
  deps: WatchSubmitDeps,
  input: { fields: unknown; tenant: string; scopes: readonly Scope[]; trace: Context; idempotency?: WatchIdempotencyKey },
): Promise<{ accepted: AcceptedWatch; replayed: boolean }> {
  const watch = parseWatch(input.fields, deps.policy);
  const access = { scopes: input.scopes, waits: false };
  const slot = input.idempotency && (await deps.idempotency.begin<AcceptedWatch>(input.idempotency.apiKey, input.idempotency.key));
  if (slot?.kind === "done") {
    if (watchFingerprint(watch) !== slot.record.fingerprint) throw keyReused();
    return { accepted: slot.record.accepted, replayed: true };
  }
  const priority = defaultPriority({ jobType: "verify" }, access);
  let hold: Hold | undefined;
  try {
    await deps.admission.check(0, priority);
    hold = deps.startHold();
    const accepted = await acceptWatch(deps, { watch, tenant: input.tenant, trace: input.trace, hold, access });
    noteHeld(hold, "accepted", deps.log);
    deps.admission.accepted(priority);
    await slot?.complete(watchFingerprint(watch), accepted);
    return { accepted, replayed: false };
  } catch (err) {
    if (hold) noteHeld(hold, "refused", deps.log);
    await slot?.release(); // only an accepted watch holds a key: a retry may succeed
    throw err;
  }
}
