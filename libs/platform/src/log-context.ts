import { context, createContextKey, type Context } from "@opentelemetry/api";

/**
 * What every log line written while handling one request carries besides its own fields:
 * its trace id, the request id, the job id once known, the tenant. Kept in the active
 * OpenTelemetry context, so code deep in a request logs them without a logger handed down,
 * while tracing is on (its AsyncLocalStorage context manager is what carries them); off,
 * the lines that matter name them themselves (the access line, the consume loop's).
 */
export interface LogFields {
  traceId?: string;
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

/** pino's mixin: the active context's log fields on every line. */
export function logContextMixin(): Record<string, unknown> {
  const fields = activeLogFields();
  return fields ? { ...fields } : {};
}
