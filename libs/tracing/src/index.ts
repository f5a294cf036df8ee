export * from "./spans.js";
export * from "./start-tracing.js";
export * from "./trace-context.js";
// The API types and entry points the other libraries need, so only this one depends on the SDK's packages.
export { ROOT_CONTEXT, SpanStatusCode, context, trace, type Context, type Span } from "@opentelemetry/api";
