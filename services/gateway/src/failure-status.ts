import { HttpError, PermanentError, TransientError } from "@veriflow/errors";

/**
 * The HTTP status that answers a verification that could not be done (a failed job, or
 * an error in the in-process fallback), by its E_* code:
 *
 * - 422: the submission can't be verified as sent: the manifest is missing, invalid, too
 *   large, refused, or its IPFS bytes don't match the CID; the registry has no contract.
 * - 400: a per-job rpcUrl the configuration refuses.
 * - 502: an upstream did not answer (manifest host, IPFS gateways, the chain's RPC).
 * - 503: our own storage or queue did not answer (uploads bucket, NATS).
 * - 500: anything else.
 */
const UNPROCESSABLE = new Set([
  "E_MANIFEST_NOT_FOUND",
  "E_MANIFEST_INVALID",
  "E_MANIFEST_TOO_LARGE",
  "E_MANIFEST_REJECTED",
  "E_MANIFEST_TOO_MANY_REDIRECTS",
  "E_MANIFEST_URI_INVALID",
  "E_MANIFEST_URI_NOT_ALLOWED",
  "E_MANIFEST_HOST_NOT_ALLOWED",
  "E_CID_MISMATCH",
  "E_REGISTRY_NOT_CONTRACT",
  "E_INVALID_ARGUMENT",
]);
const UPSTREAM = new Set(["E_MANIFEST_UNAVAILABLE", "E_IPFS_UNAVAILABLE", "E_RPC_UNAVAILABLE"]);

export function statusForFailure(code: string): number {
  if (UNPROCESSABLE.has(code)) return 422;
  if (UPSTREAM.has(code)) return 502;
  if (code.startsWith("E_IPFS_")) return 422; // E_IPFS_INVALID_DAG, _NOT_A_FILE, _PATH_NOT_FOUND, _UNSUPPORTED
  if (code === "E_RPC_URL_NOT_ALLOWED") return 400;
  if (code.startsWith("E_UPLOAD_") || code === "E_READER_CLOSED" || code === "E_QUEUE_UNAVAILABLE" || code === "E_STORAGE_UNAVAILABLE") return 503;
  return 500;
}

/** A pipeline error thrown in-process (fallback) as the edge error it answers. */
export function toHttpError(err: unknown, stage: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof PermanentError || err instanceof TransientError) {
    return new HttpError(statusForFailure(err.code), err.code, err.message, { cause: err, expose: true, details: { stage } });
  }
  return new HttpError(500, "E_INTERNAL", "internal server error", { cause: err, expose: false });
}
