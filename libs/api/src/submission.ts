import { ADDRESS_PATTERN } from "@veriflow/events";
import { z } from "./zod.js";

/**
 * A submission's multipart fields (POST /api/verification-jobs/verify|proof, /api/verify,
 * /api/proof). The text fields are checked as they arrive (the gateway's submission.ts: each
 * sent once, no control characters, trimmed); `registryAddress`'s form is this schema's, its
 * EIP-55 checksum and the URLs' hosts are checked against the server's configuration there.
 */
export const RegistryAddressField = z
  .string()
  .startsWith("0x", { error: "must start with 0x (a bare hex string or an ICAP XE… address is not accepted)", abort: true })
  .regex(ADDRESS_PATTERN, { error: (iss) => `must be 0x followed by 40 hex digits (got ${String(iss.input).length - 2} characters after 0x, or a non-hex one)` })
  .openapi({ description: "The ContentRegistry contract: 0x and 40 hex digits; mixed case must carry a correct EIP-55 checksum.", example: "0x5FbDB2315678afecb367f032d93F642f64180aa3" });

export const SubmissionFields = z
  .object({
    registryAddress: RegistryAddressField,
    manifestURI: z.string().openapi({ description: "`ipfs://<CID>[/path]` or `https://…` (`http://` where MANIFEST_ALLOW_HTTP); `manifestUri` is read too.", example: "ipfs://bafkreid7qoywk77r7rj3slobqfekdvs57qwuwh5d2z3sqsw52iabe3mqne" }),
    rpcUrl: z.string().optional().openapi({ description: "A per-job JSON-RPC endpoint, only one RPC_URL_ALLOWLIST allows." }),
    callbackUrl: z.string().optional().openapi({ description: "Where to POST the job's outcome, signed with the tenant's signing secret (a public http(s) URL)." }),
    priority: z.enum(["interactive", "bulk"]).optional().openapi({ description: "The class of work the job runs in: interactive work is served before bulk work at every stage. Default: interactive for a verification or a request that waits (`/api/verify`, `?wait=`), bulk for an asynchronous proof; `interactive` for a proof needs the key's `interactive` scope (403 `E_PRIORITY_NOT_ALLOWED`)." }),
    recheckEvery: z.string().optional().openapi({ description: "Re-verify the completed job on this schedule: an ISO-8601 duration (`PT6H`, `P1D`) or seconds, from 5 minutes to 365 days. A changed verdict is sent as `verification.changed`.", example: "P1D" }),
    fresh: z.enum(["true", "false", "1", "0"]).optional().openapi({ description: "`true`: decide afresh. Without it, a verification of the same content, manifest URI, registry and job type that this tenant already had decided, with nothing changed in the registry entry since that block, is answered from that verdict (its `result.reusedFrom` names the job that decided it, `result.decidedAtBlock` the block); the job is recorded as its own either way." }),
    file: z.string().openapi({ format: "binary", description: "The content to verify. Send it last: the fields before it are checked before a byte of it is stored." }),
  })
  .openapi("SubmissionFields", { description: "Send the fields before the file part." });

export const IdempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/)
  .optional()
  .openapi({ description: "The same key and the same request answer the same job (the original 202, `Idempotent-Replayed: true`) for 24 h at least; another request with it is 409." });
