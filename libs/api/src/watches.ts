import { CONTENT_HASH_PATTERN, JOBS_PAGE_SIZE, jobStatuses } from "@veriflow/events";
import { JobFailure, JobResult, PastVerdict, Timestamp } from "./jobs.js";
import { queryCount, queryEnum, queryParam } from "./query.js";
import { RegistryAddressField } from "./submission.js";
import { z } from "./zod.js";

/** POST /api/watches: a content hash to follow, with the manifest and registry it is verified against. */
export const WatchFields = z
  .object({
    contentHash: z
      .string()
      .regex(CONTENT_HASH_PATTERN)
      .openapi({ description: "The content's SHA-256 as the registry keys it: 0x and 64 hex digits, any case.", example: "0x" + "4c27".repeat(16) }),
    manifestURI: z.string().openapi({ description: "`ipfs://<CID>[/path]` or `https://…` (`http://` where MANIFEST_ALLOW_HTTP); `manifestUri` is read too." }),
    registryAddress: RegistryAddressField,
    callbackUrl: z.string().optional().openapi({ description: "Where to POST the first verdict and every `verification.changed` of the watch, signed with the tenant's signing secret (a public http(s) URL)." }),
    recheckEvery: z
      .union([z.string(), z.number().int()])
      .optional()
      .openapi({ description: "Re-verify on this schedule as well: an ISO-8601 duration (`PT6H`, `P1D`) or seconds, from 5 minutes to 365 days." }),
    priority: z.enum(["interactive", "bulk"]).optional().openapi({ description: "The class of the first verification (interactive unless told); re-verifications are bulk." }),
  })
  .openapi("WatchFields");

export const WatchAccepted = z
  .object({
    watchId: z.string().uuid(),
    jobId: z.string().uuid().openapi({ description: "The same id: the watch's job, readable at /api/verification-jobs/:jobId too." }),
    status: z.literal("queued"),
    message: z.string(),
    pollUrl: z.string(),
  })
  .openapi("WatchAccepted");

export const Watch = z
  .object({
    watchId: z.string().uuid(),
    contentHash: z.string(),
    manifestUri: z.string().nullable(),
    registryAddress: z.string().nullable(),
    callbackUrl: z.string().nullable(),
    recheckEverySeconds: z.number().int().positive().nullable(),
    active: z.boolean().openapi({ description: "Followed: false once stopped (DELETE)." }),
    createdAt: Timestamp,
    stoppedAt: Timestamp.nullable(),
    status: z.enum(jobStatuses).openapi({ description: "Its job's status: queued until the first verdict, processing while a re-verification runs." }),
    run: z.number().int().positive().openapi({ description: "1, or n + 1 after n re-verifications (or retries)." }),
    verdict: z.union([JobResult, z.null()]).openapi({ description: "The current verdict (the latest run's result); null before the first." }),
    verifiedAt: Timestamp.nullable().openapi({ description: "When the current verdict was reached (its run completed); null while there is none." }),
    verdictHistory: z.array(PastVerdict).openapi({ description: "Earlier verdicts, oldest first, each with the block it was read at." }),
    failure: z.union([JobFailure, z.null()]),
    updatedAt: Timestamp,
  })
  .openapi("Watch");

/** GET /api/watches: `active`, `limit`, and where the page starts (`cursor`, or `offset`), as the job list. */
export const ListWatchesQuery = z.object({
  active: queryEnum("active", ["true", "false"] as const),
  limit: queryCount("limit", JOBS_PAGE_SIZE.default, { max: JOBS_PAGE_SIZE.max }),
  offset: queryCount("offset", 0),
  cursor: queryParam("cursor", z.string().openapi({ description: "A page's `nextCursor`: the next page starts after it. Not with a non-zero `offset`." })),
});

export const WatchPage = z
  .object({
    watches: z.array(Watch),
    count: z.number().int().nonnegative().openapi({ description: "Every matching watch (the same as `total`)." }),
    total: z.number().int().nonnegative(),
    limit: z.number().int().nonnegative(),
    offset: z.number().int().nonnegative().nullable().openapi({ description: "Null on a cursor page." }),
    nextCursor: z.string().nullable().openapi({ description: "Where the next page starts (pass it as `cursor`); null on the last page." }),
  })
  .openapi("WatchPage");
