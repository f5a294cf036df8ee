import { z } from "zod";
import { decodeEventFrom, eventSchemas, isEventType, pipeline, runOf, subjectFor, type EventType } from "@veriflow/events";
import { hostileNumber, hostileString, hostileUrl, randomJson, randomUuid } from "./hostile-values.js";
import type { Random } from "./random.js";

/** Every event type the pipeline descriptor names: what the edge, each stage and a give-up publish. */
export function pipelineEventTypes(): EventType[] {
  const types = new Set<EventType>([pipeline.edge.produces, pipeline.giveUp, ...pipeline.terminal]);
  for (const stage of pipeline.stages) {
    types.add(stage.consumes);
    for (const t of stage.produces) types.add(t);
  }
  return [...types];
}

export type PayloadKind = "bytes" | "json" | "wrong-type" | "envelope";

export interface PipelineMessage {
  subject: string;
  data: Buffer;
  kind: PayloadKind;
  /** The job id its subject names. */
  subjectJobId: string;
  /** That job id is a new random one, named by no other input (else a job that exists, or an odd token). */
  fresh: boolean;
  /** Whether the consume loops take it as an event on its subject (decodeEventFrom): else each consumer that sees it must dead-letter it. */
  decodes: boolean;
  /** The event's type, job and run, when it decodes. */
  type?: EventType;
  jobId?: string;
  run?: number;
}

/** Values the fuzzer knows exist or matter, by field name (a job id, names that end up in NATS subjects). */
export interface PipelineHints {
  manifestsUrl: string;
  registry: string;
  jobIds: string[];
  /** Uploads stored for no input's job (the bystanders): a request naming one must not read or delete it. */
  uploadNames: string[];
}

/** Tokens that change a NATS subject's meaning: a field that ends up in one must never carry them. */
const SUBJECT_TOKENS = [">", "*", "a.b", "a.>", "*.*", " ", "a b", "", "$O.veriflow-uploads.C.>", "\t"];

/**
 * A message on `veriflow.<type>.<token>` for one of the pipeline's event types: random
 * bytes, JSON of the wrong shape, an envelope of another type than its subject says, or a
 * valid envelope of its type whose fields hold random values that its schema admits (so
 * the handlers run on them).
 */
export function fuzzedPipelineMessage(r: Random, type: EventType, hints: PipelineHints): PipelineMessage {
  const fresh = r.chance(0.9);
  const jobId = fresh ? randomUuid(r) : r.chance(0.5) && hints.jobIds.length > 0 ? r.pick(hints.jobIds) : r.pick(["ünï", "A", "x".repeat(200), "0"]);
  const subject = subjectFor(type, jobId);
  const kind = r.pick<PayloadKind>(["bytes", "json", "wrong-type", "envelope", "envelope", "envelope"]);
  let payload: unknown;
  switch (kind) {
    case "bytes":
      return finish(subject, r.bytes(r.int(2048)), kind, jobId, fresh);
    case "json":
      payload = randomJson(r);
      break;
    case "wrong-type":
      payload = envelope(r, r.pick([...pipelineEventTypes().filter((t) => t !== type), hostileString(r, 60), "constructor", "__proto__"]), jobId, hints);
      break;
    default:
      payload = envelope(r, type, jobId, hints);
  }
  return finish(subject, Buffer.from(JSON.stringify(payload) ?? "null"), kind, jobId, fresh);
}

function finish(subject: string, data: Buffer, kind: PayloadKind, subjectJobId: string, fresh: boolean): PipelineMessage {
  try {
    const event = decodeEventFrom(subject, data);
    return { subject, data, kind, subjectJobId, fresh, decodes: true, type: event.type, jobId: event.correlationId, run: runOf(event) };
  } catch {
    return { subject, data, kind, subjectJobId, fresh, decodes: false };
  }
}

/** An envelope of `type` (a hostile string, for the wrong-type kind) whose data its schema admits when the type is one. */
function envelope(r: Random, type: string, jobId: string, hints: PipelineHints): Record<string, unknown> {
  const correlationId = r.chance(0.9) ? jobId : r.chance(0.5) ? r.pick(SUBJECT_TOKENS) : hostileString(r, 100);
  const e: Record<string, unknown> = {
    id: r.chance(0.8) ? randomUuid(r) : hostileString(r, 200) || "x",
    type,
    occurredAt: r.pick([new Date().toISOString(), "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "2024-02-30T00:00:00+14:00"]),
    correlationId,
    causationId: r.chance(0.5) ? null : randomUuid(r),
    data: isEventType(type) ? valueOf(r, z.toJSONSchema(eventSchemas[type], { io: "input" }) as Schema, "data", { ...hints, jobId: correlationId }) : randomJson(r),
  };
  if (r.chance(0.2)) e.run = r.pick([1, 2, 3, 2 ** 31, Number.MAX_SAFE_INTEGER]);
  if (r.chance(0.05)) delete e[r.pick(["id", "occurredAt", "correlationId", "data"])];
  return e;
}

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  pattern?: string;
  format?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

/**
 * A value `schema` admits (the JSON Schema zod derives from the catalog: the catalog stays
 * the one source), filled with hostile but admissible content: strings of any kind, URLs
 * that name nothing public, integers up to 2^53 - 1, NATS subject tokens where a field
 * ends up in a subject.
 */
function valueOf(r: Random, schema: Schema, name: string, hints: PipelineHints & { jobId: string }): unknown {
  // A value more often than null: the handlers go further with one.
  const nonNull = <T extends Schema | string>(options: T[]) => (r.chance(0.75) ? (options.find((o) => o !== "null" && (o as Schema).type !== "null") ?? r.pick(options)) : r.pick(options));
  if (schema.anyOf) return valueOf(r, nonNull(schema.anyOf), name, hints);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return r.pick(schema.enum);
  const type = Array.isArray(schema.type) ? nonNull(schema.type) : schema.type;
  switch (type) {
    case "null":
      return null;
    case "boolean":
      return r.chance(0.5);
    case "integer":
    case "number": {
      const min = schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : (schema.minimum ?? -(2 ** 53 - 1));
      const n = Math.trunc(r.pick([0, 1, 2, 3, 1024, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, Math.abs(hostileNumber(r))]));
      return Math.min(Math.max(Number.isSafeInteger(n) ? n : 0, min), schema.maximum ?? Number.MAX_SAFE_INTEGER);
    }
    case "array":
      return Array.from({ length: r.int(4) }, () => valueOf(r, schema.items ?? {}, name, hints));
    case "object": {
      const o: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        if (!schema.required?.includes(key) && r.chance(0.15)) continue;
        o[key] = valueOf(r, sub, key, hints);
      }
      return o;
    }
    default:
      return stringOf(r, schema, name, hints);
  }
}

function stringOf(r: Random, schema: Schema, name: string, hints: PipelineHints & { jobId: string }): string {
  if (schema.pattern) return name === "registryAddress" && r.chance(0.5) ? hints.registry : patternValue(r, schema.pattern);
  if (name === "jobId" && r.chance(0.8)) return hints.jobId;
  if (name === "name" && hints.uploadNames.length > 0 && r.chance(0.2)) return r.pick(hints.uploadNames);
  if (name === "nuid" || name === "name" || name === "digest") {
    // The wildcards alone name every object's chunks: drawn more often than the rest.
    if (r.chance(0.4)) return r.pick([">", "*", ...SUBJECT_TOKENS]) || "x";
    if (name === "digest" && r.chance(0.3)) return `SHA-256=${r.bytes(32).toString("base64url")}=`;
  }
  if (schema.format === "uri") {
    for (;;) {
      const url = hostileUrl(r, hints.manifestsUrl);
      if (URL.canParse(url)) return url;
    }
  }
  if (/ur[il]$/i.test(name)) return hostileUrl(r, hints.manifestsUrl) || "x";
  const s = hostileString(r, 2000);
  return s.length >= (schema.minLength ?? 0) ? s : "x".repeat(schema.minLength ?? 1);
}

/** A string for the patterns the catalog uses: a literal prefix, then one character class repeated (`^0x[0-9a-fA-F]{64}$`, `^E_[A-Z0-9_]+$`). */
function patternValue(r: Random, pattern: string): string {
  const m = /^\^([^[\\]*)\[([^\]]+)\](?:\{(\d+)\}|\+)\$$/.exec(pattern);
  if (!m) throw new Error(`the fuzz suite cannot make a value for the pattern ${pattern}: teach patternValue it`);
  const chars: string[] = [];
  for (const [, from, to, single] of m[2]!.matchAll(/(.)-(.)|(.)/g)) {
    if (single !== undefined) chars.push(single);
    else for (let c = from!.charCodeAt(0); c <= to!.charCodeAt(0); c++) chars.push(String.fromCharCode(c));
  }
  const length = m[3] !== undefined ? Number(m[3]) : r.between(1, 40);
  let s = m[1]!;
  for (let i = 0; i < length; i++) s += r.pick(chars);
  return s;
}
