import { parseArgs, type ParseArgsConfig } from "node:util";
import { ADDRESS_PATTERN, CONTENT_HASH_PATTERN, isJobId, jobStatuses, JOBS_PAGE_SIZE } from "@veriflow/events";
import { UsageError } from "./errors.js";
import { DEFAULT_RETRY_FOR_S, DEFAULT_TIMEOUT_S, DEFAULT_URL, DEV_KEY } from "./defaults.js";
import { DEFAULT_BATCH_SIZE, HELP } from "./help.js";

export type Env = Record<string, string | undefined>;

/** Options every command takes. */
export interface Common {
  url: string;
  apiKey: string | undefined;
  json: boolean;
  quiet: boolean;
}

export type Command =
  | { kind: "help"; text: string }
  | { kind: "version" }
  | {
      kind: "verify";
      common: Common;
      file: string;
      manifestUri: string;
      registry: string;
      proof: boolean;
      rpcUrl: string | undefined;
      /** interactive or bulk; undefined: the server's default for the job type. */
      priority: "interactive" | "bulk" | undefined;
      /** --recheck-every: re-verify the completed job on this schedule (sent as is; the server checks it). */
      recheckEvery: string | undefined;
      /** --fresh: decide afresh, never answer from a verdict already recorded. */
      fresh: boolean;
      wait: boolean;
      timeoutMs: number;
      /** The most the submission's retries may wait in all (a busy or full gateway); 0: none. */
      retryForMs: number;
    }
  | {
      /** `veriflow verify <dir> --manifest-map <map.json>`: the folder's files as batches, one progress bar. */
      kind: "verify-folder";
      common: Common;
      dir: string;
      manifestMap: string;
      registry: string;
      proof: boolean;
      rpcUrl: string | undefined;
      timeoutMs: number;
      /** Files per batch: the folder is split into batches of at most this many (the gateway's GATEWAY_MAX_BATCH_FILES). */
      batchSize: number;
    }
  | { kind: "jobs-list"; common: Common; status: string | undefined; limit: number | undefined; offset: number | undefined }
  | { kind: "jobs-get"; common: Common; id: string }
  | { kind: "jobs-watch"; common: Common; id: string; timeoutMs: number }
  | { kind: "jobs-retry"; common: Common; id: string; wait: boolean; timeoutMs: number }
  | {
      /** `veriflow watch <content-hash>`: follow a content hash without uploading it. */
      kind: "watch";
      common: Common;
      contentHash: string;
      manifestUri: string;
      registry: string;
      callbackUrl: string | undefined;
      recheckEvery: string | undefined;
      wait: boolean;
      timeoutMs: number;
      retryForMs: number;
    }
  | { kind: "watches"; common: Common; active: boolean | undefined; limit: number | undefined; offset: number | undefined }
  | { kind: "unwatch"; common: Common; id: string }
  | { kind: "dead-letters-list"; common: Common; consumer: string | undefined; after: number | undefined; limit: number | undefined }
  | { kind: "dead-letters-show"; common: Common; seq: number }
  | { kind: "dead-letters-replay"; common: Common; seq: number }
  | { kind: "keys-create"; json: boolean; databaseUrl: string; tenant: string; scopes: string; expires: string | undefined }
  | { kind: "keys-list"; json: boolean; databaseUrl: string; tenant: string | undefined }
  | { kind: "keys-revoke"; json: boolean; databaseUrl: string; id: string }
  | { kind: "setup"; json: boolean; check: boolean }
  | { kind: "dev-publish"; common: Common; file: string; ipfs: boolean; key: string; dataDir: string; rpcUrl: string | undefined; registry: string | undefined; manifestServer: string | undefined };

export { DEFAULT_RETRY_FOR_S, DEFAULT_TIMEOUT_S, DEFAULT_URL, DEV_KEY } from "./defaults.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
const COMMON_OPTIONS: Options = {
  url: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean", default: false },
  quiet: { type: "boolean", short: "q", default: false },
  help: { type: "boolean", short: "h", default: false },
};

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

/** Parses argv (without node and the script) into a command; throws UsageError for anything wrong. */
export function parseCommand(argv: string[], env: Env = {}): Command {
  const [first, second] = argv;
  if (first === undefined || first === "-h" || first === "--help") return { kind: "help", text: HELP.main };
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "help") return { kind: "help", text: HELP[(second ?? "main") as keyof typeof HELP] ?? HELP.main };
  if (first === "verify") return parseVerify(argv.slice(1), env);
  if (first === "jobs") return parseJobs(second, argv.slice(2), env);
  if (first === "watch") return parseWatch(argv.slice(1), env);
  if (first === "watches") return parseWatches(argv.slice(1), env);
  if (first === "unwatch") return parseUnwatch(argv.slice(1), env);
  if (first === "dead-letters") return parseDeadLetters(second, argv.slice(2), env);
  if (first === "keys") return parseKeys(second, argv.slice(2), env);
  if (first === "setup") return parseSetup(argv.slice(1));
  if (first === "dev") {
    if (second === "publish") return parseDevPublish(argv.slice(2), env);
    if (second === undefined || second === "-h" || second === "--help") return { kind: "help", text: HELP.dev };
    throw new UsageError(`unknown command "dev ${second}" (try: veriflow dev publish <file>)`);
  }
  throw new UsageError(`unknown command "${first}" (commands: verify, jobs, watch, watches, unwatch, dead-letters, keys, setup, dev, help)`);
}

function parse(args: string[], options: Options) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

function common(values: Record<string, unknown>, env: Env): Common {
  const url = (values.url as string | undefined) ?? env.VERIFLOW_URL ?? DEFAULT_URL;
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  }
  const apiKey = (values["api-key"] as string | undefined) ?? (env.VERIFLOW_API_KEY || undefined);
  return { url, apiKey, json: values.json === true, quiet: values.quiet === true };
}

function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length === 0) throw new UsageError(`missing ${what} (usage: ${usage})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (usage: ${usage})`);
  return positionals[0]!;
}

/** A duration option in seconds (fractions allowed) as milliseconds; `zero` says what 0 means. */
function secondsOf(name: string, value: unknown, fallbackS: number, zero: string): number {
  if (value === undefined) return fallbackS * 1000;
  const s = Number(value);
  if (!Number.isFinite(s) || s < 0) throw new UsageError(`--${name} must be a number of seconds (0: ${zero}), got ${JSON.stringify(value)}`);
  return Math.round(s * 1000);
}

const timeoutOf = (value: unknown) => secondsOf("timeout", value, DEFAULT_TIMEOUT_S, "no limit");

function integerOf(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function jobIdOf(positionals: string[], usage: string): string {
  const id = onePositional(positionals, "<job-id>", usage);
  if (!isJobId(id)) throw new UsageError(`"${id}" is not a job id (a UUID, as \`veriflow verify\` prints it)`);
  return id;
}

function parseVerify(args: string[], env: Env): Command {
  const { values, positionals } = parse(args, {
    manifest: { type: "string" },
    registry: { type: "string" },
    proof: { type: "boolean", default: false },
    "rpc-url": { type: "string" },
    priority: { type: "string" },
    "recheck-every": { type: "string" },
    fresh: { type: "boolean", default: false },
    wait: { type: "boolean", default: false },
    timeout: { type: "string" },
    "retry-for": { type: "string" },
    "manifest-map": { type: "string" },
    "batch-size": { type: "string" },
  });
  if (values.help) return { kind: "help", text: HELP.verify };
  if (values["manifest-map"] !== undefined) return parseVerifyFolder(values, positionals, env);
  const usage = "veriflow verify <file> --manifest <uri> --registry <address>";
  const file = onePositional(positionals, "<file>", usage);
  const manifestUri = values.manifest as string | undefined;
  if (!manifestUri) throw new UsageError(`--manifest <uri> is required (usage: ${usage})`);
  const registry = values.registry as string | undefined;
  if (!registry) throw new UsageError(`--registry <address> is required (usage: ${usage})`);
  if (!ADDRESS_PATTERN.test(registry)) throw new UsageError(`--registry must be a 0x-prefixed 40-hex-digit address, got "${registry}"`);
  const priority = values.priority as string | undefined;
  if (priority !== undefined && priority !== "interactive" && priority !== "bulk") throw new UsageError(`--priority must be interactive or bulk, got "${priority}"`);
  return {
    kind: "verify",
    common: common(values, env),
    file,
    manifestUri,
    registry,
    proof: values.proof === true,
    rpcUrl: values["rpc-url"] as string | undefined,
    priority,
    recheckEvery: values["recheck-every"] as string | undefined,
    fresh: values.fresh === true,
    wait: values.wait === true || values.timeout !== undefined,
    timeoutMs: timeoutOf(values.timeout),
    retryForMs: secondsOf("retry-for", values["retry-for"], DEFAULT_RETRY_FOR_S, "no retries"),
  };
}

function parseVerifyFolder(values: Record<string, unknown>, positionals: string[], env: Env): Command {
  const usage = "veriflow verify <dir> --manifest-map <map.json> --registry <address>";
  const dir = onePositional(positionals, "<dir>", usage);
  const registry = values.registry as string | undefined;
  if (!registry) throw new UsageError(`--registry <address> is required (usage: ${usage})`);
  if (!ADDRESS_PATTERN.test(registry)) throw new UsageError(`--registry must be a 0x-prefixed 40-hex-digit address, got "${registry}"`);
  if (values.manifest !== undefined) throw new UsageError("give --manifest (one file) or --manifest-map (a folder), not both");
  return {
    kind: "verify-folder",
    common: common(values, env),
    dir,
    manifestMap: values["manifest-map"] as string,
    registry,
    proof: values.proof === true,
    rpcUrl: values["rpc-url"] as string | undefined,
    timeoutMs: timeoutOf(values.timeout),
    batchSize: integerOf("batch-size", values["batch-size"], 1) ?? DEFAULT_BATCH_SIZE,
  };
}

function parseJobs(sub: string | undefined, args: string[], env: Env): Command {
  if (sub === undefined || sub === "-h" || sub === "--help") return { kind: "help", text: HELP.jobs };
  if (sub === "list") {
    const { values, positionals } = parse(args, { status: { type: "string" }, limit: { type: "string" }, offset: { type: "string" } });
    if (values.help) return { kind: "help", text: HELP.jobs };
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: veriflow jobs list [--status s] [--limit n] [--offset n])`);
    const status = values.status as string | undefined;
    if (status !== undefined && !(jobStatuses as readonly string[]).includes(status)) throw new UsageError(`--status must be one of ${jobStatuses.join(", ")}, got "${status}"`);
    const limit = integerOf("limit", values.limit, 1);
    if (limit !== undefined && limit > JOBS_PAGE_SIZE.max) throw new UsageError(`--limit must be at most ${JOBS_PAGE_SIZE.max}, got ${limit}`);
    return { kind: "jobs-list", common: common(values, env), status, limit, offset: integerOf("offset", values.offset, 0) };
  }
  if (sub === "get") {
    const { values, positionals } = parse(args, {});
    if (values.help) return { kind: "help", text: HELP.jobs };
    return { kind: "jobs-get", common: common(values, env), id: jobIdOf(positionals, "veriflow jobs get <job-id>") };
  }
  if (sub === "watch") {
    const { values, positionals } = parse(args, { timeout: { type: "string" } });
    if (values.help) return { kind: "help", text: HELP.jobs };
    return { kind: "jobs-watch", common: common(values, env), id: jobIdOf(positionals, "veriflow jobs watch <job-id>"), timeoutMs: timeoutOf(values.timeout) };
  }
  if (sub === "retry") {
    const { values, positionals } = parse(args, { wait: { type: "boolean", default: false }, timeout: { type: "string" } });
    if (values.help) return { kind: "help", text: HELP.jobs };
    return {
      kind: "jobs-retry",
      common: common(values, env),
      id: jobIdOf(positionals, "veriflow jobs retry <job-id> [--wait]"),
      wait: values.wait === true || values.timeout !== undefined,
      timeoutMs: timeoutOf(values.timeout),
    };
  }
  throw new UsageError(`unknown command "jobs ${sub}" (jobs list, jobs get <id>, jobs watch <id>, jobs retry <id>)`);
}

function parseWatch(args: string[], env: Env): Command {
  const { values, positionals } = parse(args, {
    manifest: { type: "string" },
    registry: { type: "string" },
    "callback-url": { type: "string" },
    "recheck-every": { type: "string" },
    wait: { type: "boolean", default: false },
    timeout: { type: "string" },
    "retry-for": { type: "string" },
  });
  if (values.help) return { kind: "help", text: HELP.watch };
  const usage = "veriflow watch <content-hash> --manifest <uri> --registry <address>";
  const contentHash = onePositional(positionals, "<content-hash>", usage);
  if (!CONTENT_HASH_PATTERN.test(contentHash)) throw new UsageError(`"${contentHash}" is not a content hash (0x and 64 hex digits: the file's SHA-256)`);
  const manifestUri = values.manifest as string | undefined;
  if (!manifestUri) throw new UsageError(`--manifest <uri> is required (usage: ${usage})`);
  const registry = values.registry as string | undefined;
  if (!registry) throw new UsageError(`--registry <address> is required (usage: ${usage})`);
  if (!ADDRESS_PATTERN.test(registry)) throw new UsageError(`--registry must be a 0x-prefixed 40-hex-digit address, got "${registry}"`);
  return {
    kind: "watch",
    common: common(values, env),
    contentHash,
    manifestUri,
    registry,
    callbackUrl: values["callback-url"] as string | undefined,
    recheckEvery: values["recheck-every"] as string | undefined,
    wait: values.wait === true || values.timeout !== undefined,
    timeoutMs: timeoutOf(values.timeout),
    retryForMs: secondsOf("retry-for", values["retry-for"], DEFAULT_RETRY_FOR_S, "no retries"),
  };
}

function parseWatches(args: string[], env: Env): Command {
  const { values, positionals } = parse(args, { active: { type: "boolean" }, stopped: { type: "boolean" }, limit: { type: "string" }, offset: { type: "string" } });
  if (values.help) return { kind: "help", text: HELP.watch };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: veriflow watches [--active|--stopped] [--limit n] [--offset n])`);
  if (values.active && values.stopped) throw new UsageError("give --active or --stopped, not both");
  const limit = integerOf("limit", values.limit, 1);
  if (limit !== undefined && limit > JOBS_PAGE_SIZE.max) throw new UsageError(`--limit must be at most ${JOBS_PAGE_SIZE.max}, got ${limit}`);
  const active = values.active ? true : values.stopped ? false : undefined;
  return { kind: "watches", common: common(values, env), active, limit, offset: integerOf("offset", values.offset, 0) };
}

function parseUnwatch(args: string[], env: Env): Command {
  const { values, positionals } = parse(args, {});
  if (values.help) return { kind: "help", text: HELP.watch };
  const id = onePositional(positionals, "<watch-id>", "veriflow unwatch <watch-id>");
  if (!isJobId(id)) throw new UsageError(`"${id}" is not a watch id (a UUID, as \`veriflow watch\` prints it)`);
  return { kind: "unwatch", common: common(values, env), id };
}

function seqOf(positionals: string[], usage: string): number {
  const raw = onePositional(positionals, "<seq>", usage);
  const seq = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 1) throw new UsageError(`"${raw}" is not a dead letter's sequence (a positive integer, as \`veriflow dead-letters list\` prints it)`);
  return seq;
}

function parseDeadLetters(sub: string | undefined, args: string[], env: Env): Command {
  if (sub === undefined || sub === "-h" || sub === "--help") return { kind: "help", text: HELP["dead-letters"] };
  if (sub === "list") {
    const { values, positionals } = parse(args, { consumer: { type: "string" }, after: { type: "string" }, limit: { type: "string" } });
    if (values.help) return { kind: "help", text: HELP["dead-letters"] };
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: veriflow dead-letters list [--consumer c] [--after seq] [--limit n])`);
    const limit = integerOf("limit", values.limit, 1);
    if (limit !== undefined && limit > JOBS_PAGE_SIZE.max) throw new UsageError(`--limit must be at most ${JOBS_PAGE_SIZE.max}, got ${limit}`);
    return { kind: "dead-letters-list", common: common(values, env), consumer: values.consumer as string | undefined, after: integerOf("after", values.after, 0), limit };
  }
  if (sub === "show" || sub === "replay") {
    const { values, positionals } = parse(args, {});
    if (values.help) return { kind: "help", text: HELP["dead-letters"] };
    return { kind: `dead-letters-${sub}`, common: common(values, env), seq: seqOf(positionals, `veriflow dead-letters ${sub} <seq>`) };
  }
  throw new UsageError(`unknown command "dead-letters ${sub}" (dead-letters list, dead-letters show <seq>, dead-letters replay <seq>)`);
}

/**
 * `veriflow keys …` works on the key store itself, through DATABASE_URL (the database the
 * services use): how the first keys are made, before any key could call the admin API.
 * Tenant, scopes and expiry are checked by the services' own rules, when the command runs.
 */
function parseKeys(sub: string | undefined, args: string[], env: Env): Command {
  if (sub === undefined || sub === "-h" || sub === "--help") return { kind: "help", text: HELP.keys };
  const { values, positionals } = parse(args, { tenant: { type: "string" }, scopes: { type: "string" }, expires: { type: "string" } });
  if (values.help) return { kind: "help", text: HELP.keys };
  const databaseUrl = env.DATABASE_URL?.trim();
  if (!databaseUrl) throw new UsageError("veriflow keys needs DATABASE_URL: the PostgreSQL URL the services use");
  const json = values.json === true;
  const tenant = values.tenant as string | undefined;
  if (sub === "create") {
    const usage = "veriflow keys create --tenant <name> --scopes submit,read,admin [--expires 30d]";
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: ${usage})`);
    const scopes = values.scopes as string | undefined;
    if (!tenant || !scopes) throw new UsageError(`--tenant and --scopes are required (usage: ${usage})`);
    return { kind: "keys-create", json, databaseUrl, tenant, scopes, expires: values.expires as string | undefined };
  }
  if (sub === "list") {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: veriflow keys list [--tenant <name>])`);
    return { kind: "keys-list", json, databaseUrl, tenant };
  }
  if (sub === "revoke") {
    const id = onePositional(positionals, "<key-id>", "veriflow keys revoke <key-id>");
    if (!isJobId(id)) throw new UsageError(`"${id}" is not a key id (a UUID, as \`veriflow keys list\` prints it)`);
    return { kind: "keys-revoke", json, databaseUrl, id: id.toLowerCase() };
  }
  throw new UsageError(`unknown command "keys ${sub}" (keys create, keys list, keys revoke <id>)`);
}

function parseSetup(args: string[]): Command {
  const { values, positionals } = parse(args, { check: { type: "boolean", default: false } });
  if (values.help) return { kind: "help", text: HELP.setup };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (usage: veriflow setup [--check])`);
  return { kind: "setup", json: values.json === true, check: values.check === true };
}

function parseDevPublish(args: string[], env: Env): Command {
  const { values, positionals } = parse(args, {
    ipfs: { type: "boolean", default: false },
    key: { type: "string" },
    "data-dir": { type: "string" },
    "rpc-url": { type: "string" },
    registry: { type: "string" },
    "manifest-server": { type: "string" },
  });
  if (values.help) return { kind: "help", text: HELP.dev };
  const file = onePositional(positionals, "<file>", "veriflow dev publish <file> [--ipfs]");
  const key = (values.key as string | undefined) ?? (env.VERIFLOW_DEV_KEY || DEV_KEY);
  if (!PRIVATE_KEY.test(key)) throw new UsageError("--key must be a 0x-prefixed 32-byte hex private key");
  const registry = values.registry as string | undefined;
  if (registry !== undefined && !ADDRESS_PATTERN.test(registry)) throw new UsageError(`--registry must be a 0x-prefixed 40-hex-digit address, got "${registry}"`);
  return {
    kind: "dev-publish",
    common: common(values, env),
    file,
    ipfs: values.ipfs === true,
    key,
    dataDir: (values["data-dir"] as string | undefined) ?? env.VERIFLOW_DATA_DIR ?? "data",
    rpcUrl: values["rpc-url"] as string | undefined,
    registry,
    manifestServer: values["manifest-server"] as string | undefined,
  };
}
