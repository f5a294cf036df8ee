import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is the
// module object for the type checker, the function at run time. Take whichever it is.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/**
 * The published contract: docs/events/*.schema.json, read as JSON Schema files only. This
 * example deliberately does not import @veriflow/events, to show the docs are enough: a
 * subscriber in another language does the same with its own JSON Schema validator.
 */
export const DEFAULT_SCHEMAS_DIR = fileURLToPath(new URL("../../../docs/events/", import.meta.url));

/** The envelope every veriflow event shares (docs/events/envelope.schema.json). */
export interface VeriflowEvent<D = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  /** The job id. */
  correlationId: string;
  causationId: string | null;
  data: D;
}

/** The fields of verification.completed this example reads (the schema has them all). */
export interface CompletionData {
  jobId: string;
  jobType: "verify" | "proof";
  contentHash: string;
  result: { status: "OK" | "WARN" | "FAIL"; reasons: string[]; [field: string]: unknown };
  attempts: number;
}

/** The fields of verification.failed this example reads. */
export interface FailureData {
  jobId: string;
  jobType: "verify" | "proof" | null;
  stage: string;
  code: string;
  message: string;
  attempts: number;
}

/** A message that does not match the contract: never worth a redelivery. */
export class InvalidEventError extends Error {
  override name = "InvalidEventError";
  constructor(
    message: string,
    readonly errors: ErrorObject[] = [],
  ) {
    super(message);
  }
}

export interface Contract {
  /** The event types with a schema, e.g. "verification.completed". */
  types: string[];
  /** Parses and checks one message body (and its CloudEvents headers, when given). */
  check(body: Uint8Array, headers?: { get(name: string): string }): VeriflowEvent;
}

export async function loadContract(dir: string = DEFAULT_SCHEMAS_DIR): Promise<Contract> {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  let envelope: ValidateFunction | undefined;
  const byType = new Map<string, ValidateFunction>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".schema.json")).sort()) {
    const schema = JSON.parse(await readFile(join(dir, file), "utf8"));
    const validate = ajv.compile(schema);
    const type: unknown = schema.properties?.type?.const;
    if (file === "envelope.schema.json") envelope = validate;
    else if (typeof type === "string") byType.set(type, validate);
  }
  if (!envelope || byType.size === 0) throw new Error(`no veriflow event schemas in ${dir}`);
  const checkEnvelope = envelope;
  const decoder = new TextDecoder();

  return {
    types: [...byType.keys()],
    check(body, headers) {
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(body));
      } catch {
        throw new InvalidEventError("not JSON");
      }
      if (!checkEnvelope(json)) throw new InvalidEventError(`bad envelope: ${ajv.errorsText(checkEnvelope.errors)}`, checkEnvelope.errors ?? []);
      const event = json as VeriflowEvent;
      const validate = byType.get(event.type);
      if (!validate) throw new InvalidEventError(`no schema for event type "${event.type}"`);
      if (!validate(json)) throw new InvalidEventError(`bad ${event.type}: ${ajv.errorsText(validate.errors)}`, validate.errors ?? []);
      // The CloudEvents NATS binding repeats the envelope's id and type as headers.
      if (headers && headers.get("ce-type") && (headers.get("ce-type") !== event.type || headers.get("ce-id") !== event.id)) {
        throw new InvalidEventError(`headers (ce-type ${headers.get("ce-type")}, ce-id ${headers.get("ce-id")}) disagree with the body`);
      }
      return event;
    },
  };
}
