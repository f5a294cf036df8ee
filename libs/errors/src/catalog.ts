/**
 * Every E_* code veriflow answers, emits or reports, declared once. HTTP statuses, gRPC
 * statuses, the gateway's answer for a failed job and docs/errors.md all derive from here
 * (`npm run generate:errors-doc`). A code that is not a key here does not compile where
 * an error is made.
 */

/** What the caller can do about an error. */
export const errorKinds = {
  client: "The request is wrong as sent: change it and send again. HTTP 4xx (and 501 for a request method this server never implements).",
  permanent:
    "The request is well-formed, but what it names cannot be verified: the manifest is missing or invalid, the IPFS bytes do not match their CID, the registry is not a ContentRegistry. Sending it again does not help until that content changes. HTTP 422; in the pipeline the job fails at once.",
  transient:
    "Someone did not answer in time or at all, or we are full: the same request may succeed later. HTTP 502 when a remote party (manifest host, IPFS gateway, chain RPC) failed, 503 when one of ours (queue, storage, status service) did or is over its bound, 507 when a store is full, 504 past our own deadline; 503 and 507 carry `Retry-After` (gRPC: the `retry-after` trailer, seconds). The pipeline retries these with backoff before the job fails (all but E_UPLOAD_NOT_FOUND: no retry brings a lost upload back).",
  internal: "A fault of ours: HTTP 500, gRPC INTERNAL, with a generic message; the request id finds it in the logs. Only E_INTERNAL.",
} as const;

export type ErrorKind = keyof typeof errorKinds;

/** A gRPC status by name (`grpc.status[name]` in @grpc/grpc-js); names keep this package free of dependencies. */
export type GrpcStatusName =
  | "CANCELLED"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "ABORTED"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "UNAUTHENTICATED";

export interface ErrorSpec {
  kind: ErrorKind;
  /** The HTTP status an edge answers with. */
  http: number;
  /** The gRPC status a gRPC edge answers with (the code itself is in the `x-error-code` trailer). */
  grpc: GrpcStatusName;
  /** True when it can be the `code` of a failed job: `verification.failed` `data.code`, a job's `failure.code`. */
  jobFailure?: true;
  /** One line a client can act on. */
  description: string;
}

export const errorCatalog = {
  // Generic codes for a bare HTTP status (Koa, routers, body parsers).
  E_BAD_REQUEST: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The request is malformed; the message says what to fix." },
  E_UNAUTHORIZED: { kind: "client", http: 401, grpc: "UNAUTHENTICATED", description: "No valid API key: none was sent, or it is unknown, revoked or expired. Send one in `x-api-key` or `Authorization: Bearer` (gRPC: `x-api-key` metadata)." },
  E_PRIORITY_NOT_ALLOWED: { kind: "client", http: 403, grpc: "PERMISSION_DENIED", description: "`priority=interactive` was asked for work that is bulk by default (an asynchronous proof) with a key that lacks the `interactive` scope; send it without `priority`, or as `bulk`." },
  E_FORBIDDEN: { kind: "client", http: 403, grpc: "PERMISSION_DENIED", description: "The API key lacks the scope this request needs (`submit`, `read` or `admin`; the message names it), or a tenant's admin key asked for another tenant's keys." },
  E_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No route for this method and path; check the URL." },
  E_METHOD_NOT_ALLOWED: { kind: "client", http: 405, grpc: "UNIMPLEMENTED", description: "The route does not take this method; the `Allow` header lists those it takes." },
  E_NOT_ACCEPTABLE: { kind: "client", http: 406, grpc: "INVALID_ARGUMENT", description: "The `Accept` header asks for a representation this route cannot produce." },
  E_REQUEST_TIMEOUT: { kind: "client", http: 408, grpc: "DEADLINE_EXCEEDED", description: "The request did not arrive in time: its headers took longer than `HTTP_HEADERS_TIMEOUT_MS`, or its body arrived slower than `HTTP_MIN_UPLOAD_BYTES_PER_SEC` over `HTTP_UPLOAD_RATE_WINDOW_MS` (gRPC: no upload message for `GRPC_UPLOAD_IDLE_TIMEOUT_MS`); send it again." },
  E_CONFLICT: { kind: "client", http: 409, grpc: "ALREADY_EXISTS", description: "The request conflicts with the current state of the resource." },
  E_LENGTH_REQUIRED: { kind: "client", http: 411, grpc: "INVALID_ARGUMENT", description: "Send a `Content-Length` header." },
  E_PAYLOAD_TOO_LARGE: { kind: "client", http: 413, grpc: "RESOURCE_EXHAUSTED", description: "The request body is larger than this route accepts." },
  E_EXPECTATION_FAILED: { kind: "client", http: 417, grpc: "INVALID_ARGUMENT", description: "The request's `Expect` header asks for something other than `100-continue`, the only expectation this server meets; send the request without it." },
  E_URI_TOO_LONG: { kind: "client", http: 414, grpc: "INVALID_ARGUMENT", description: "The URL is too long." },
  E_HEADERS_TOO_LARGE: { kind: "client", http: 431, grpc: "INVALID_ARGUMENT", description: "The request's headers are larger than the server accepts (16 KiB)." },
  E_UNSUPPORTED_MEDIA_TYPE: { kind: "client", http: 415, grpc: "INVALID_ARGUMENT", description: "Wrong `Content-Type`: submit routes take `multipart/form-data`, webhook routes `application/json`." },
  E_UNPROCESSABLE: { kind: "client", http: 422, grpc: "INVALID_ARGUMENT", description: "The request is well-formed but cannot be processed as sent." },
  E_TOO_MANY_REQUESTS: { kind: "client", http: 429, grpc: "RESOURCE_EXHAUSTED", description: "Too many requests: wait (`Retry-After`) and send again." },
  E_NOT_IMPLEMENTED: { kind: "client", http: 501, grpc: "UNIMPLEMENTED", description: "The request method is not one HTTP/1.1 defines (Node's parser does not know it), so no route can take it; a known method a route does not take is a 405." },

  // Submitting a job (REST and gRPC).
  E_DUPLICATE_FIELD: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A form field was sent more than once; send each field once." },
  E_REGISTRY_ADDRESS_REQUIRED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Send `registryAddress`, the 0x-prefixed address of the ContentRegistry contract." },
  E_INVALID_REGISTRY_ADDRESS: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`registryAddress` is not an address: 40 hex digits after 0x, with a correct checksum if mixed-case." },
  E_MANIFEST_URI_REQUIRED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Send `manifestURI`: `ipfs://<CID>[/path]` or `https://…`." },
  E_INVALID_MANIFEST_URI: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`manifestURI` is not an `ipfs://` or `https://` URI (or `http://` where allowed), or is too long." },
  E_MANIFEST_URI_HOST_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`manifestURI` names a loopback, private, link-local, metadata, multicast or otherwise non-public address (in any spelling: `http://2130706433/`, `http://0x7f.1/`, `[::ffff:…]`), or `localhost`; serve the manifest from a public host (an operator can allow hosts with `ALLOWED_PRIVATE_HOSTS`)." },
  E_MANIFEST_URI_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", jobFailure: true, description: "`http://` manifest URIs are not allowed by this server (`MANIFEST_ALLOW_HTTP`); use `https://` or `ipfs://`." },
  E_INVALID_RPC_URL: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`rpcUrl` is not an http(s) URL." },
  E_RPC_URL_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", jobFailure: true, description: "This `rpcUrl` is not in the server's `RPC_URL_ALLOWLIST`; omit it to use the configured chain." },
  E_RPC_URL_HOST_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", jobFailure: true, description: "`RPC_URL_ALLOWLIST` is `*`, but this `rpcUrl` names a loopback, private, link-local, metadata or otherwise non-public address, or `localhost`; use a public endpoint (an operator can allow hosts with `ALLOWED_PRIVATE_HOSTS`)." },
  E_INVALID_CALLBACK_URL: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`callbackUrl` is not an http(s) URL." },
  E_INVALID_RECHECK_EVERY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`recheckEvery` is not an ISO-8601 duration (`PT6H`, `P1D`) or a whole number of seconds, or lies outside the bounds the message names (a re-check at most every 5 minutes, at least every 365 days)." },
  E_CALLBACK_HOST_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`callbackUrl` names a loopback, private, link-local, metadata or otherwise non-public address, or `localhost`; use a public host (an operator can allow hosts with `WEBHOOK_ALLOWED_PRIVATE_HOSTS`)." },
  E_CONTROL_CHARACTER: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A text field (or the file name or type) contains a control character (U+0000–U+001F, U+007F–U+009F) or a bidirectional override (U+202A–U+202E, U+2066–U+2069); the message names the field and the character. Send it without." },
  E_FILE_REQUIRED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Send the file: multipart field `file` (gRPC: `chunk` messages after the metadata)." },
  E_FILE_TOO_LARGE: { kind: "client", http: 413, grpc: "RESOURCE_EXHAUSTED", description: "The file is larger than `GATEWAY_MAX_UPLOAD_BYTES`." },
  E_UNEXPECTED_FILE: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Send exactly one file, in the multipart field named `file`." },
  E_BAD_MULTIPART: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The multipart body is malformed or exceeds a part limit (fields, parts, field size)." },
  E_UPLOAD_ABORTED: { kind: "client", http: 400, grpc: "CANCELLED", description: "The upload ended before the whole body arrived; send it again." },
  E_INVALID_WAIT: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`wait` must be a number of seconds (0 up to the sync timeout)." },
  E_METADATA_REQUIRED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The first SubmitVerification message must be `metadata`." },
  E_UNEXPECTED_METADATA: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Send `metadata` once, as the first message; then only `chunk` messages." },
  E_INVALID_IDEMPOTENCY_KEY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`Idempotency-Key` must be 1 to 255 printable ASCII characters (gRPC: the `idempotency-key` metadata)." },
  E_IDEMPOTENCY_KEY_REUSED: { kind: "client", http: 409, grpc: "ALREADY_EXISTS", description: "This `Idempotency-Key` was used for a different request (another file or other fields); use a new key for a new request." },
  E_IDEMPOTENCY_KEY_IN_PROGRESS: { kind: "client", http: 409, grpc: "ABORTED", description: "A request with this `Idempotency-Key` is still being received; send it again after `Retry-After` to get its job." },
  E_INVALID_JOB_TYPE: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`metadata.type` must be JOB_TYPE_VERIFY or JOB_TYPE_PROOF." },
  E_INVALID_MESSAGE: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A gRPC request message is not a valid protobuf encoding of the method's request type (`proto/veriflow/v1/`); send one your generated client encodes." },
  E_RATE_LIMITED: { kind: "client", http: 429, grpc: "RESOURCE_EXHAUSTED", description: "This API key (or, without one, this client address) has used its submit or read budget for the current window (`RATE_LIMITS`); send again after `Retry-After` seconds. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`." },

  // Submitting a batch (REST POST /api/verification-batches, gRPC SubmitBatch).
  E_BATCH_TOO_MANY_FILES: { kind: "client", http: 413, grpc: "RESOURCE_EXHAUSTED", description: "The batch holds more files than `GATEWAY_MAX_BATCH_FILES`; split it into several batches." },
  E_BATCH_TOO_LARGE: { kind: "client", http: 413, grpc: "RESOURCE_EXHAUSTED", description: "The batch's files add up to more than `GATEWAY_MAX_BATCH_BYTES`; split it into several batches." },
  E_BATCH_EMPTY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The batch holds no file: send `file` parts, each with its `manifestURI` in the same order (gRPC: a `file` header, then its `chunk` messages)." },
  E_BATCH_REJECTED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "Every file of the batch was refused: the answer's `rejected` lists each with its own code and reason; fix them and send the batch again." },
  E_FILE_NAME_INVALID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A batch file's name is missing, longer than 255 characters, or holds a path separator or control character: name each file (`filename` of its part) plainly." },
  E_INVALID_BATCH_ID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A batch id is a UUID." },
  E_BATCH_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No batch of yours has this id (it may not be recorded yet: its jobs are queued first; ask again shortly)." },

  // Watches (POST/GET/DELETE /api/watches, gRPC CreateWatch, ListWatches, GetWatch, DeleteWatch).
  E_CONTENT_HASH_REQUIRED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A watch needs `contentHash`: the SHA-256 of the content, 0x and 64 hex digits." },
  E_INVALID_CONTENT_HASH: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`contentHash` is not 0x and 64 hex digits (the SHA-256 of the content, as the registry keys it)." },
  E_WATCH_RPC_URL_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A watch is followed on the configured chain only: it takes no per-job `rpcUrl`." },
  E_INVALID_WATCH_ID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A watch id is a UUID." },
  E_WATCH_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No watch of yours has this id (or it was stopped longer ago than the retention of completed jobs)." },

  // Reading jobs (REST, SSE, gRPC).
  E_INVALID_JOB_ID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A job id is a UUID." },
  E_JOB_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No job has this id (or it is older than the retention)." },
  E_INVALID_QUERY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A query parameter is invalid; `details.problems` lists each one." },
  E_INVALID_FILTER: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A `filter` field of ListJobs/WatchJobs is invalid; the message names it." },
  E_INVALID_PAGE_SIZE: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`page_size` must not be negative." },
  E_JOB_NOT_RETRYABLE: { kind: "client", http: 409, grpc: "FAILED_PRECONDITION", description: "Only a failed job can be retried, once per failure: this one is queued, processing or completed (a retry may already be running), or its failed stage's input is no longer recorded; the message says which." },
  E_UPLOAD_GONE: { kind: "client", http: 410, grpc: "FAILED_PRECONDITION", description: "The job failed at hashing and its uploaded file is no longer stored (uploads are deleted once hashed or once hashing gives up on them, and after `UPLOADS_MAX_AGE_MS`): submit the file again as a new job." },
  E_INVALID_DEAD_LETTER_SEQ: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A dead letter is named by its sequence number in the `VERIFLOW_DLQ` stream: a positive integer." },
  E_DEAD_LETTER_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No dead letter has this sequence: it never existed, was replayed (a replay removes it) or aged out (`STREAM_MAX_AGE_MS`)." },
  E_DEAD_LETTER_NOT_REPLAYABLE: { kind: "client", http: 409, grpc: "FAILED_PRECONDITION", description: "The dead letter's original subject is not on the events stream, so there is nowhere to put it back." },
  E_INVALID_PAGE_TOKEN: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`page_token` is not one this server issued; start again without it." },

  // API keys (POST/GET /api/keys, DELETE /api/keys/:id, `veriflow keys`).
  E_INVALID_TENANT: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A tenant is 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit." },
  E_INVALID_PRIORITY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`priority` must be `interactive` or `bulk`." },
  E_INVALID_FRESH: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`fresh` must be `true` or `false` (`1` and `0` are read too)." },
  E_INVALID_SCOPES: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A key's scopes must name at least one of `submit`, `read`, `admin`, `interactive`, and nothing else." },
  E_INVALID_EXPIRY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A key's expiry is a lifetime (`30d`, `12h`, `90m`, `3600s`) or an ISO-8601 date-time with a zone, in the future and within ten years." },
  E_INVALID_KEY_ID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A key id is a UUID (`veriflow keys list` shows them)." },
  E_KEY_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No API key of this tenant has this id." },

  // Webhook subscriptions.
  E_INVALID_BODY: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The body is not the JSON object this route takes (a subscription: `{ url, eventTypes, secret?, description? }`; a key: `{ tenant?, scopes, expires? }`); the message says which." },
  E_INVALID_JSON: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "The body is not valid JSON." },
  E_INVALID_WEBHOOK_URL: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`url` is missing or not an http(s) URL." },
  E_WEBHOOK_HOST_NOT_ALLOWED: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`url` points at a private address; use a public host (or list it in `WEBHOOK_ALLOWED_PRIVATE_HOSTS`)." },
  E_INVALID_EVENT_TYPES: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`eventTypes` must be a non-empty array of event types." },
  E_UNKNOWN_EVENT_TYPE: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`eventTypes` names an event type that does not exist; the message lists the known ones." },
  E_INVALID_SECRET: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`secret` must be 24 to 256 printable ASCII characters without spaces (omit it to get one)." },
  E_INVALID_DESCRIPTION: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`description` must be a string of at most 500 characters." },
  E_INVALID_WEBHOOK_ID: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "A webhook id is a UUID." },
  E_WEBHOOK_NOT_FOUND: { kind: "client", http: 404, grpc: "NOT_FOUND", description: "No webhook subscription has this id." },
  E_INVALID_OVERLAP: { kind: "client", http: 400, grpc: "INVALID_ARGUMENT", description: "`overlapSeconds` (how long the replaced signing secret keeps signing) must be a whole number from 0 to 604800 (a week)." },

  // A job's manifest: what the manifest stage (or the in-process fallback) could not use.
  E_INVALID_ARGUMENT: { kind: "permanent", http: 422, grpc: "INVALID_ARGUMENT", jobFailure: true, description: "The job's registry address, content hash or upload is malformed, or its upload is not the job's own (a request published without the gateway's checks)." },
  E_MANIFEST_URI_INVALID: { kind: "permanent", http: 422, grpc: "INVALID_ARGUMENT", jobFailure: true, description: "The manifest URI cannot be fetched as written (bad CID, unsupported scheme); fix the URI." },
  E_MANIFEST_NOT_FOUND: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest host answered 404 or 410: there is no manifest at that URI." },
  E_MANIFEST_REJECTED: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest host refused the request (another 4xx) or redirected to an invalid location." },
  E_MANIFEST_TOO_MANY_REDIRECTS: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest URI redirects too many times; give its final location." },
  E_MANIFEST_HOST_NOT_ALLOWED: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest host (or a redirect's) resolves to a non-public address when connected to, which is never fetched; serve the manifest from a public host." },
  E_MANIFEST_TOO_LARGE: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest is larger than `MANIFEST_MAX_BYTES`." },
  E_MANIFEST_INVALID: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The manifest is not valid JSON of the manifest schema, or its `creator_did` is not a did:pkh." },
  E_CID_MISMATCH: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "Every IPFS gateway returned bytes that do not match the CID (substituted or corrupted content)." },
  E_IPFS_INVALID_DAG: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The CID's blocks are not a UnixFS file that can be read." },
  E_IPFS_NOT_A_FILE: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The CID is a directory; name the file in the URI (`ipfs://<cid>/<file>`)." },
  E_IPFS_PATH_NOT_FOUND: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The path after the CID names no entry of that directory." },
  E_IPFS_UNSUPPORTED: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The CID uses a codec or hash this server cannot verify (use dag-pb or raw with SHA-256)." },
  E_IPFS_BLOCK_TOO_LARGE: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", description: "An IPFS gateway sent a block over the size limit; that gateway is skipped (shows in the message of E_IPFS_UNAVAILABLE)." },

  // A job's registry read: what chain-check (or the in-process fallback) could not use.
  E_RPC_HOST_NOT_ALLOWED: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The job's `rpcUrl` names a host that resolves to a non-public address when connected to, which is never reached; use a public endpoint." },
  E_RPC_REDIRECTED: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The JSON-RPC endpoint answered a redirect, which is never followed (it could lead anywhere, unchecked); use the endpoint's final URL." },
  E_RPC_RESPONSE_TOO_LARGE: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The JSON-RPC endpoint answered more than `RPC_MAX_RESPONSE_BYTES`." },
  E_REGISTRY_NOT_CONTRACT: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "`registryAddress` holds no contract on this chain; check the address and the chain." },
  E_REGISTRY_INCOMPATIBLE: { kind: "permanent", http: 422, grpc: "FAILED_PRECONDITION", jobFailure: true, description: "The contract at `registryAddress` is not a ContentRegistry: `entries()` reverted or answered malformed data." },

  // Someone did not answer: retried in the pipeline; the same request may succeed later.
  E_MANIFEST_UNAVAILABLE: { kind: "transient", http: 502, grpc: "UNAVAILABLE", jobFailure: true, description: "The manifest host did not answer (network, timeout, 5xx, 429) after the retries." },
  E_IPFS_UNAVAILABLE: { kind: "transient", http: 502, grpc: "UNAVAILABLE", jobFailure: true, description: "No IPFS gateway could serve the content after the retries." },
  E_RPC_UNAVAILABLE: { kind: "transient", http: 502, grpc: "UNAVAILABLE", jobFailure: true, description: "The chain's JSON-RPC endpoint did not answer (network, timeout, 5xx, rate limit) after the retries." },
  E_BAD_RESPONSE: { kind: "transient", http: 502, grpc: "UNAVAILABLE", description: "Reported by the CLI: the server's answer is not what a veriflow gateway sends; check `--url`." },
  E_READER_CLOSED: { kind: "transient", http: 503, grpc: "UNAVAILABLE", jobFailure: true, description: "The registry reader was closing (the service is shutting down); another replica retries." },
  E_UPLOAD_NOT_FOUND: { kind: "transient", http: 503, grpc: "UNAVAILABLE", jobFailure: true, description: "The uploaded file expired or was removed before it was hashed; submit it again." },
  E_UPLOAD_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", jobFailure: true, description: "The uploads bucket could not be read after the retries." },
  E_UPLOAD_CORRUPT: { kind: "transient", http: 503, grpc: "UNAVAILABLE", jobFailure: true, description: "The stored upload did not match its digest or size after the retries; submit it again." },
  E_STORAGE_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The upload could not be stored; send it again shortly." },
  E_STORAGE_FULL: { kind: "transient", http: 507, grpc: "RESOURCE_EXHAUSTED", description: "A store is full (the uploads bucket, the events stream's unprocessed part, or JetStream's storage): nothing was accepted; send it again after `Retry-After`." },
  E_QUEUE_BACKLOG: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The queue holds more unfinished work than `GATEWAY_MAX_BACKLOG`: nothing was accepted; send it again after `Retry-After`." },
  E_FALLBACK_BUSY: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The queue is down and the in-process fallback is running `GATEWAY_FALLBACK_CONCURRENCY` verifications already; send it again after `Retry-After`." },
  E_TOO_MANY_WATCHES: { kind: "transient", http: 503, grpc: "RESOURCE_EXHAUSTED", description: "This status replica has `STATUS_MAX_WATCHES` watches (SSE, WatchJob, WatchJobs) open; reconnect after `Retry-After`." },
  E_WATCH_TOO_SLOW: { kind: "transient", http: 503, grpc: "RESOURCE_EXHAUSTED", description: "A watch fell `STATUS_WATCH_MAX_BUFFERED` jobs behind (the client reads too slowly) and was closed; reconnect and read faster, or page with ListJobs." },
  E_QUEUE_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The verification queue (NATS JetStream) did not take the job; send it again shortly." },
  E_STREAM_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The event stream (NATS JetStream) cannot be read or written right now: a job not projected yet, the dead letters, a retry or a replay; ask again shortly." },
  E_STATUS_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The gateway could not reach the status service; ask again shortly." },
  E_WEBHOOKS_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The gateway could not reach the webhooks service; ask again shortly." },
  E_DATABASE_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "PostgreSQL is not reachable or did not answer in time (the service keeps running and catches up when it returns); wait `Retry-After` seconds and ask again." },
  E_WATCH_FAILED: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "An SSE watch stopped (sent as an `error` event); reconnect to resume." },
  E_UNAVAILABLE: { kind: "transient", http: 503, grpc: "UNAVAILABLE", description: "The service cannot answer right now; ask again shortly." },
  E_VERIFY_TIMEOUT: { kind: "transient", http: 504, grpc: "DEADLINE_EXCEEDED", description: "The in-process verification did not finish within `GATEWAY_SYNC_TIMEOUT_MS`; submit again." },

  // A fault of ours.
  E_INTERNAL: { kind: "internal", http: 500, grpc: "INTERNAL", jobFailure: true, description: "An unexpected server error; the message is generic, the request id finds it in the logs." },
} as const satisfies Record<`E_${string}`, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalog;
type Catalog = typeof errorCatalog;

/** The codes whose entry has `field` equal to `value`, e.g. `CodeWhere<"kind", "transient">`. */
export type CodeWhere<F extends keyof ErrorSpec, V> = { [C in ErrorCode]: Catalog[C] extends { [K in F]: V } ? C : never }[ErrorCode];

/** Every code, in catalog order. */
export const errorCodes = Object.keys(errorCatalog) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(errorCatalog, code);
}

/** A code's entry (widened to ErrorSpec, so optional fields read as optional). */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return errorCatalog[code];
}
