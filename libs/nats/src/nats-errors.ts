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
} as const;

/** The things JetStream says may not exist. */
export type JetStreamResource = "stream" | "consumer" | "message";

const NOT_FOUND: Record<JetStreamResource, number> = {
  stream: API.StreamNotFound,
  consumer: API.ConsumerNotFound,
  message: API.NoMessageFound,
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
  return err instanceof JetStreamApiError && err.code === NOT_FOUND[what];
}

/** True when creating a stream or consumer failed because one of that name exists (a replica raced us to it). */
export function isAlreadyExists(err: unknown, what: "stream" | "consumer"): boolean {
  return err instanceof JetStreamApiError && EXISTS[what].includes(err.code);
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
  // JetStream answered, but cannot serve: "JetStream system temporarily unavailable",
  // insufficient resources, not enabled for the account.
  if (e instanceof JetStreamApiError) return e.status === 503 || e.code === API.JetStreamNotEnabledForAccount;
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
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (saysUnavailable(e)) return true;
  }
  return false;
}
