import { context, createContextKey, trace, type Context } from "@opentelemetry/api";

/**
 * What every log line written while handling one request or one job carries besides its
 * own fields: the request id, the job id once known, the tenant. Kept in the active
 * OpenTelemetry context (AsyncLocalStorage, registered by @veriflow/tracing), beside the
 * trace, so code deep in a request logs them without a logger handed down.
 */
export interface LogFields {
  requestId?: string;
  jobId?: string;
  tenant?: string;
}

const LOG_FIELDS = createContextKey("veriflow log fields");

/** `parent` with `fields` as the log fields of everything run in it. */
export function withLogFields(parent: Context, fields: LogFields): Context {
  return parent.setValue(LOG_FIELDS, fields);
}

/** The log fields of the active context (the object itself: noteLogFields adds to it). */
export function activeLogFields(ctx: Context = context.active()): LogFields | undefined {
  return ctx.getValue(LOG_FIELDS) as LogFields | undefined;
}

/**
 * Adds to the active request's log fields (a submission that has just made its job id):
 * every later line of the request, and its access log line, carry them. Nothing outside a request.
 */
export function noteLogFields(fields: LogFields): void {
  const current = activeLogFields();
  if (current) Object.assign(current, fields);
}

/** pino's mixin: the active context's log fields and trace id on every line. */
export function logContextMixin(): Record<string, unknown> {
  const ctx = context.active();
  const fields = activeLogFields(ctx);
  const traceId = trace.getSpanContext(ctx)?.traceId;
  if (traceId === undefined) return fields ? { ...fields } : {};
  return { ...fields, traceId };
}
