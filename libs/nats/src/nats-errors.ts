import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";

/**
 * What a NATS or JetStream error means, told by nats.js's typed errors and JetStream's
 * API error codes (`err_code`), never by message text. The one place that knows them.
 * JetStream API errors carry `code` (the API's err_code, e.g. 10059) and `status` (an HTTP-like
 * 404, 400, 503); the codes not in nats.js's JetStreamApiCodes are nats-server's errors.json.
 */
const API = {
  ...JetStreamApiCodes,
  /** JSStreamNameExistErr: "stream name already in use with a different configuration". */
  StreamNameInUse: 10058,
  /** JSStreamSubjectOverlapErr: "subjects overlap with an existing stream" (also what 2.9 answers the loser of two concurrent creates of one stream). */
  StreamSubjectOverlap: 10065,
  /** JSConsumerNameExistErr: "consumer name already in use". */
  ConsumerNameInUse: 10013,
  /** JSConsumerExistingActiveErr: "consumer already exists and is still active". */
  ConsumerExistingActive: 10105,
  /** JSConsumerAlreadyExists: a create of an existing consumer with a different config (2.10+). */
  ConsumerAlreadyExists: 10148,
  /** JSInsufficientResourcesErr: a publish found JetStream's storage (max_file_store, the disk) full. */
  InsufficientResources: 10023,
  /** JSStorageResourcesExceededErr: a stream's max_bytes cannot be reserved in JetStream's storage. */
  StorageResourcesExceeded: 10047,
  /**
   * JSStreamStoreFailedF: the stream's store refused the message. A discard-new stream (the
   * uploads bucket, a KV bucket) at its max_bytes or max_msgs answers this ("maximum bytes
   * exceeded" on 2.9); so does a store that could not write.
   */
  StreamStoreFailed: 10077,
  /** JSSequenceNotFoundErrF: a delete of a message by a sequence that holds none (2.9 says "no message found"). */
  SequenceNotFound: 10057,
} as const;

const STORAGE_FULL: readonly number[] = [API.InsufficientResources, API.StorageResourcesExceeded, API.StreamStoreFailed];

/** The things JetStream says may not exist. */
export type JetStreamResource = "stream" | "consumer" | "message";

const NOT_FOUND: Record<JetStreamResource, readonly number[]> = {
  stream: [API.StreamNotFound],
  consumer: [API.ConsumerNotFound],
  message: [API.NoMessageFound, API.SequenceNotFound],
};

const EXISTS: Record<"stream" | "consumer", readonly number[]> = {
  stream: [API.StreamNameInUse],
  consumer: [API.ConsumerNameInUse, API.ConsumerExistingActive, API.ConsumerAlreadyExists],
};

/**
 * True when JetStream answered that this very resource does not exist: a missing stream is
 * not a missing consumer or message (`consumers.info` on a missing stream says "stream").
 * `streams.getMessage` and `direct.getMessage` already answer null for a missing message.
 */
export function isNotFound(err: unknown, what: JetStreamResource): boolean {
  return err instanceof JetStreamApiError && NOT_FOUND[what].includes(err.code);
}

/** True when creating a stream or consumer failed because one of that name exists (a replica raced us to it). */
export function isAlreadyExists(err: unknown, what: "stream" | "consumer"): boolean {
  return err instanceof JetStreamApiError && EXISTS[what].includes(err.code);
}

/** One error (or any error in its `cause` chain) that satisfies `test`. */
function inCauseChain(err: unknown, test: (e: unknown) => boolean): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return true;
  }
  return false;
}

const saysStorageFull = (e: unknown) => e instanceof JetStreamApiError && STORAGE_FULL.includes(e.code);

/**
 * True when JetStream refused to store something because a store is full: a bounded stream
 * or bucket (discard new) at its max_bytes, JetStream's storage at its limit, or a stream
 * whose max_bytes no longer fits. Not "unreachable": the server answered, and the same
 * request may succeed once space is freed (the gateway answers 507 with Retry-After).
 */
export function isStorageFullError(err: unknown): boolean {
  return inCauseChain(err, saysStorageFull);
}

/** True when a write expecting a subject's last sequence lost the race (a KV `create` of a key that exists). */
export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === API.StreamWrongLastSequence || err.code === API.StreamWrongLastSequenceUnknown);
}

/**
 * True when creating a stream failed because its subjects are taken: by another stream, or
 * (nats-server 2.9) by the same stream being created at the same moment by someone else.
 */
export function isSubjectOverlap(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === API.StreamSubjectOverlap;
}

/** One error, not its causes: does it say that NATS or JetStream is not answering? */
function saysUnavailable(e: unknown): boolean {
  if (
    e instanceof errors.TimeoutError ||
    e instanceof errors.NoRespondersError ||
    e instanceof errors.ClosedConnectionError ||
    e instanceof errors.DrainingConnectionError ||
    e instanceof errors.ConnectionError
  ) {
    return true;
  }
  // JetStream answered, but cannot serve: "JetStream system temporarily unavailable", not
  // enabled for the account. A full store answers 503 too, but it is reachable: isStorageFullError.
  if (e instanceof JetStreamApiError) return (e.status === 503 && !saysStorageFull(e)) || e.code === API.JetStreamNotEnabledForAccount;
  // A direct get or pull answered with a status instead of a message (JetStreamStatusError: 503 no responders, 408).
  if (e instanceof JetStreamError) {
    const status = (e as { code?: unknown }).code;
    return status === 503 || status === 408;
  }
  // The socket under the connection (Node's system error codes).
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ECONNREFUSED" || code === "ECONNRESET";
}

/**
 * True when an error (or any error in its `cause` chain) says NATS or JetStream could not
 * be reached: a timeout, no responders (JetStream down or not enabled: nats.js throws
 * JetStreamNotEnabled caused by a RequestError caused by NoRespondersError), a closed or
 * lost connection. The gateway uses it to switch to its in-process fallback until the
 * queue answers again.
 */
export function isNatsUnavailableError(err: unknown): boolean {
  return inCauseChain(err, saysUnavailable);
}
