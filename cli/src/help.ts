import { JOBS_PAGE_SIZE } from "@veriflow/events";
import { DEFAULT_RETRY_FOR_S, DEFAULT_TIMEOUT_S, DEFAULT_URL } from "./defaults.js";
import { EXIT_CODES_HELP } from "./exit-codes.js";

/** Files per batch unless told (`veriflow verify <dir>`): the gateway's default GATEWAY_MAX_BATCH_FILES. */
export const DEFAULT_BATCH_SIZE = 100;

/** The text of `veriflow --help` and `veriflow help <command>`. */
const COMMON_HELP = `Common options:
  --url <url>         the gateway (env VERIFLOW_URL, default ${DEFAULT_URL})
  --api-key <key>     sent as x-api-key (env VERIFLOW_API_KEY)
  --json              machine-readable JSON on stdout; progress and logs stay on stderr
  -q, --quiet         no progress on stderr
  -h, --help          this help`;

export const HELP: Record<"main" | "verify" | "jobs" | "watch" | "dead-letters" | "keys" | "setup" | "dev", string> = {
  main: `veriflow: is this file what its creator registered?

Usage:
  veriflow verify <file> --manifest <uri> --registry <address> [--proof] [--rpc-url <url>] [--priority interactive|bulk] [--recheck-every <d>] [--fresh] [--wait] [--timeout <s>] [--retry-for <s>]
  veriflow verify <dir> --manifest-map <map.json> --registry <address> [--proof] [--batch-size <n>] [--timeout <s>]
  veriflow jobs list [--status queued|processing|completed|failed] [--limit <n>] [--offset <n>]
  veriflow jobs get <job-id>
  veriflow jobs watch <job-id> [--timeout <s>]
  veriflow jobs retry <job-id> [--wait] [--timeout <s>]
  veriflow watch <content-hash> --manifest <uri> --registry <address> [--callback-url <url>] [--recheck-every <d>] [--wait] [--timeout <s>] [--retry-for <s>]
  veriflow watches [--active|--stopped] [--limit <n>] [--offset <n>]
  veriflow unwatch <watch-id>
  veriflow dead-letters list [--consumer <name>] [--after <seq>] [--limit <n>]
  veriflow dead-letters show <seq>
  veriflow dead-letters replay <seq>
  veriflow keys create --tenant <name> --scopes submit,read,admin [--expires 30d]
  veriflow keys list [--tenant <name>]
  veriflow keys revoke <key-id>
  veriflow setup [--check]
  veriflow dev publish <file> [--ipfs] [--key <hex>] [--data-dir <dir>]
  veriflow help <command>    veriflow --version

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  verify: `Usage: veriflow verify <file> --manifest <uri> --registry <address> [options]

Uploads <file> (streamed from disk) for verification against its signed manifest and the
ContentRegistry at <address>. Prints the job id; with --wait, follows the job (server-sent
events where the server offers them, else polling) with a progress bar on stderr, then
prints the verdict and exits with it (0 OK, 3 WARN, 1 FAIL, 4 job failed).

  --manifest <uri>    the manifest's URI (ipfs://…, https://…; http:// where the server allows)
  --registry <addr>   the ContentRegistry contract address
  --proof             ask for a proof document (registration tx hash, block, chain id)
  --rpc-url <url>     a per-job chain RPC URL (the server must allow it)
  --priority <class>  interactive or bulk (default: interactive for a verification, bulk for a
                      proof; interactive for a proof needs a key with the interactive scope)
  --recheck-every <d> re-verify the completed job on this schedule: an ISO-8601 duration (PT6H,
                      P1D) or seconds, 5 minutes to 365 days; a changed verdict reaches webhooks
  --fresh             decide afresh: without it, a verdict this tenant already has for the same
                      file, manifest and registry, unchanged on chain since, answers the job
                      (printed as "answered from job <id>")
  --wait              wait for the verdict
  --timeout <s>       give up waiting after <s> seconds (exit 6; implies --wait; default ${DEFAULT_TIMEOUT_S}, 0: never)
  --retry-for <s>     while the gateway answers busy or full (503, 507, 429), send the file again
                      after each Retry-After for up to <s> seconds in all, then exit 5
                      (default ${DEFAULT_RETRY_FOR_S}, 0: never). Every attempt carries the same Idempotency-Key,
                      so a retried submission never makes a second job.

A folder: veriflow verify <dir> --manifest-map <map.json> --registry <address>
Sends every file of <dir> (map.json: { "<file name>": "<manifest URI>", … }; a file it does
not name is a usage error) as batches of --batch-size files (default ${DEFAULT_BATCH_SIZE}, the
gateway's GATEWAY_MAX_BATCH_FILES), shows one progress bar until every job ended, then a
summary table. Exits with the worst outcome: 4 a job failed or a file was refused, else
1 a FAIL verdict, else 3 a WARN, else 0.

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  jobs: `Usage:
  veriflow jobs list [--status <s>] [--limit <n>] [--offset <n>]   newest first (limit 1-${JOBS_PAGE_SIZE.max}, default ${JOBS_PAGE_SIZE.default})
  veriflow jobs get <job-id>                                       one job; exit 0 when it was read
  veriflow jobs watch <job-id> [--timeout <s>]                     one line per change until it finishes
                                                                   (--json: one JSON job per line); exits with the verdict
  veriflow jobs retry <job-id> [--wait] [--timeout <s>]            runs a failed job again (a new run, from the stage
                                                                   that gave up); --wait follows it, exits with the verdict

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  watch: `Usage:
  veriflow watch <content-hash> --manifest <uri> --registry <address> [options]
                                   follows a content hash without uploading the file: verifies it (from the
                                   hash), then again whenever its registry entry changes, until unwatched.
                                   Prints the watch id; with --wait, follows the first verification like
                                   \`verify --wait\` and exits with its verdict
      --callback-url <url>         POSTed the first verdict and each changed verdict (verification.changed)
      --recheck-every <d>          re-verify on this schedule as well (PT6H, P1D or seconds; 5 minutes to 365 days)
      --wait, --timeout <s>        as for verify
      --retry-for <s>              as for verify: a busy or full gateway is asked again after its Retry-After,
                                   with one Idempotency-Key for every attempt, so a retry never makes a second watch
  veriflow watches [--active|--stopped] [--limit <n>] [--offset <n>]
                                   your watches, newest first: state, current verdict, runs (limit 1-${JOBS_PAGE_SIZE.max})
  veriflow unwatch <watch-id>      stops following it (no more re-verifications); its verdicts stay readable
                                   (veriflow jobs get <watch-id>). Stopping a stopped watch is not an error

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  "dead-letters": `Usage:
  veriflow dead-letters list [--consumer <name>] [--after <seq>] [--limit <n>]
                                   oldest first (limit 1-${JOBS_PAGE_SIZE.max}, default ${JOBS_PAGE_SIZE.default}); --after continues a page
  veriflow dead-letters show <seq>     one dead letter: where it came from, why, its headers and bytes
  veriflow dead-letters replay <seq>   puts it back on its subject for the consumer that set it aside
                                       (and only that one), and removes it from the dead letters

Dead letters are messages a consumer (hashing, manifest, chain-check, status-projection,
webhooks) could not use: bytes that are not an event, an event it cannot take. Replay one
once the cause is fixed; if the consumer fails on it again, it comes back as a new one.

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  setup: `Usage: veriflow setup [--check] [--json]

Makes the deployment's topology as configured, once, before its services start: the events,
dead-letter and positions streams, the uploads bucket and every pipeline consumer on NATS, and
every schema's pending migrations in PostgreSQL (when DATABASE_URL is set). It reads the
services' own environment: NATS_URL and its credentials (a user allowed to manage streams,
such as admin), STREAM_*, UPLOADS_*, CONSUMER_* and DATABASE_URL. Safe to run again: it
changes what differs and leaves consumers where they stand. Services run with
NATS_TOPOLOGY=check then only check that the topology is as they are configured.

  --check             change nothing; print what differs and exit 1 if anything does
  --json              { ok, done, differences } as JSON

Exit codes: 0 as configured, 1 something differs (--check), 2 usage error (a bad variable),
5 NATS or PostgreSQL unreachable.
`,
  keys: `Usage:
  veriflow keys create --tenant <name> --scopes <list> [--expires <when>]
                                   a new API key of <name>'s; the key is printed once, on the last line
  veriflow keys list [--tenant <name>]
                                   the keys (id, prefix, tenant, scopes, dates), never the keys themselves
  veriflow keys revoke <key-id>    the services refuse it within AUTH_CACHE_TTL_MS (30 s unless set)

These work on the key store itself: set DATABASE_URL to the PostgreSQL the services use.
(With a key of the admin scope, the gateway's /api/keys does the same over HTTP.)

  --tenant <name>     lower-case letters, digits and hyphens
  --scopes <list>     comma-separated: submit (submit and retry jobs), read (read jobs),
                      admin (API keys, webhooks, dead letters)
  --expires <when>    a lifetime (30d, 12h, 90m, 3600s) or an ISO-8601 date-time; default: never
  --json              the key (create: with the key) as JSON

Exit codes: 0 done, 2 usage error (bad tenant, scopes or expiry; no such key; no DATABASE_URL),
5 the database is not reachable.
`,
  dev: `Usage: veriflow dev publish <file> [--ipfs] [--key <hex>] [--data-dir <dir>]

For local development with \`npm start\`: hashes <file>, signs a manifest with a dev key,
serves it from the local stack's manifest server (over http, or its IPFS gateway with
--ipfs), registers it on the dev chain, and prints the \`veriflow verify\` command to run next.
The local stack is found through <data-dir>/local-stack.json, which \`npm start\` writes.

  --ipfs                   serve the manifest as ipfs://<cid> instead of http://
  --key <hex>              the signing and registering key (env VERIFLOW_DEV_KEY;
                           default: hardhat account #0, a public dev key)
  --data-dir <dir>         where local-stack.json is (env VERIFLOW_DATA_DIR, default ./data)
  --rpc-url, --registry, --manifest-server <url>
                           override what local-stack.json says

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
};
