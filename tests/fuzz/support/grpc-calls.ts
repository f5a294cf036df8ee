import type { PackageDefinition } from "@grpc/proto-loader";
import { grpc } from "@veriflow/grpc";
import type { Random } from "./random.js";

/** A method as a loaded package definition describes it. */
export interface GrpcMethod {
  /** "/veriflow.v1.JobService/GetJob" */
  path: string;
  /** "veriflow.v1.GetJobRequest" */
  requestType: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** Every method of every service in `definition` (services are its entries that are not messages or enums). */
export function methodsOf(definition: PackageDefinition): GrpcMethod[] {
  const methods: GrpcMethod[] = [];
  for (const [serviceName, entry] of Object.entries(definition)) {
    if ("format" in entry) continue; // a message or an enum
    const pkg = serviceName.slice(0, serviceName.lastIndexOf("."));
    for (const m of Object.values(entry as grpc.ServiceDefinition)) {
      const typeName = (m as { requestType?: { type?: { name?: string } } }).requestType?.type?.name;
      if (!typeName) throw new Error(`${m.path}: no request type in the package definition`);
      methods.push({ path: m.path, requestType: `${pkg}.${typeName}`, requestStream: m.requestStream, responseStream: m.responseStream });
    }
  }
  return methods;
}

export interface CallOutcome {
  /** The call's status: OK, or the code it ended with. */
  code: grpc.status;
  /** The `x-error-code` trailer, when the server sent one. */
  errorCode: string | undefined;
  details: string;
  /** A server stream still open when the client let it go (a watch waiting for its next job). */
  leftOpen: boolean;
  ms: number;
}

const identity = (b: Buffer) => b;

/**
 * Calls `method` with messages as raw bytes (a custom serializer: the bytes go out as they
 * are), one for unary and server-streaming calls, any number for client-streaming ones.
 * Unary and client-streaming calls have `deadlineMs`; a server stream that is still open
 * after `openMs` is cancelled by the client and reported as left open.
 */
export function callRaw(
  client: grpc.Client,
  method: GrpcMethod,
  messages: Buffer[],
  metadata: grpc.Metadata,
  opts: { deadlineMs: number; openMs: number },
): Promise<CallOutcome> {
  const started = Date.now();
  const deadline = new Date(started + opts.deadlineMs);
  const outcome = (err: grpc.ServiceError | null, leftOpen = false): CallOutcome => ({
    code: err ? err.code : grpc.status.OK,
    errorCode: errorCodeOf(err?.metadata),
    details: err?.details ?? "",
    leftOpen,
    ms: Date.now() - started,
  });
  return new Promise((resolve) => {
    if (method.responseStream) {
      const call = client.makeServerStreamRequest(method.path, identity, identity, messages[0] ?? Buffer.alloc(0), metadata, { deadline });
      let settled = false;
      const settle = (o: CallOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const timer = setTimeout(() => {
        settle(outcome(null, true));
        call.cancel();
      }, opts.openMs);
      call.on("data", () => {});
      call.on("error", (err: grpc.ServiceError) => settle(outcome(err)));
      call.on("end", () => settle(outcome(null)));
      return;
    }
    if (method.requestStream) {
      const call = client.makeClientStreamRequest(method.path, identity, identity, metadata, { deadline }, (err) => resolve(outcome(err)));
      for (const m of messages) call.write(m);
      call.end();
      return;
    }
    client.makeUnaryRequest(method.path, identity, identity, messages[0] ?? Buffer.alloc(0), metadata, { deadline }, (err) => resolve(outcome(err)));
  });
}

function errorCodeOf(metadata: grpc.Metadata | undefined): string | undefined {
  const v = metadata?.get("x-error-code")[0];
  return v === undefined ? undefined : String(v);
}

/** Call metadata: the API key most of the time, a wrong one or none otherwise, and odd entries. */
export function fuzzedMetadata(r: Random, apiKey: string, values: () => string): grpc.Metadata {
  const m = new grpc.Metadata();
  const roll = r.next();
  if (roll < 0.85) {
    if (r.chance(0.5)) m.set("x-api-key", apiKey);
    else m.set("authorization", `Bearer ${apiKey}`);
  }
  if (roll >= 0.85 && roll < 0.93) m.set(r.pick(["x-api-key", "authorization"]), asciiOnly(values()) || "x");
  if (r.chance(0.1)) m.set("idempotency-key", asciiOnly(values()) || "k");
  if (r.chance(0.05)) m.set("x-fuzz-bin", Buffer.from(values(), "utf8"));
  if (r.chance(0.03)) m.set("x-big", "b".repeat(r.between(1000, 7000)));
  return m;
}

/** grpc-js refuses to send a metadata value outside printable ASCII: those go as `-bin` entries instead. */
const asciiOnly = (s: string) => s.replace(/[^\x20-\x7e]/g, "").trim();
