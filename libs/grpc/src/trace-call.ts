import type * as grpc from "@grpc/grpc-js";
import { withLogFields, type LogFields } from "@veriflow/platform";
import { SpanKind, extractTraceContext, runEntrySpan, type Context, type Tracing } from "@veriflow/tracing";

/**
 * Runs a call's work in a server span of the trace its `traceparent` metadata names (or a
 * new one): the events a submission publishes, and the lines logged meanwhile, carry it.
 * A malformed traceparent is ignored. Lines logged meanwhile carry the call's log fields (a
 * submission adds its job id).
 */
export function traceCall<T>(tracing: Tracing, metadata: grpc.Metadata, method: string, work: (trace: Context) => Promise<T>): Promise<T> {
  const fields: LogFields = {};
  const parent = withLogFields(
    extractTraceContext((name) => {
      const v = metadata.get(name)[0];
      return typeof v === "string" ? v : undefined;
    }),
    fields,
  );
  const [service, name] = method.replace(/^\//, "").split("/");
  return runEntrySpan(
    tracing,
    method.replace(/^\//, ""),
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": service ?? "", "rpc.method": name ?? "" } },
    parent,
    (span, ctx) => {
      fields.traceId = span.spanContext().traceId;
      return work(ctx);
    },
  );
}
