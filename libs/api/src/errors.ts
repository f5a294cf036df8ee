import { errorCatalog, errorCodes, type ErrorCode } from "@veriflow/errors";
import { z } from "./zod.js";

/** Every E_* code of the catalog (libs/errors): the `code` of an error body. */
export const ErrorCodeSchema = z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]).openapi("ErrorCode", {
  description: "A stable code of the error catalog (docs/errors.md): what went wrong, whatever the message says.",
});

export const ErrorDetail = z
  .object({
    code: ErrorCodeSchema,
    message: z.string().openapi({ description: "What went wrong and what to change, for a person." }),
    details: z.unknown().optional().openapi({ description: "Structured details, by code (E_INVALID_QUERY: `problems`; a failed sync job: `jobId`, `stage`, …)." }),
  })
  .openapi("ErrorDetail");

/** The body of every error answer: `{ error: { code, message, details? }, requestId }`. */
export const ErrorBody = z
  .object({
    error: ErrorDetail,
    requestId: z.string().openapi({ description: "The request's id (also the `x-request-id` header): it finds the request in the logs." }),
  })
  .openapi("ErrorBody");

/**
 * The error body of one answer, its `code` narrowed to the codes that answer can carry: the
 * ErrorBody component and a JSON Schema constraint beside it (a zod `.extend` per answer made
 * the document three times slower to generate, for the same meaning).
 */
export function errorBodyOf(codes: readonly ErrorCode[]) {
  return { allOf: [{ $ref: "#/components/schemas/ErrorBody" }, { properties: { error: { properties: { code: { enum: [...codes] } } } } }] };
}

/** Codes grouped by the HTTP status the catalog gives them, statuses in order. */
export function codesByStatus(codes: Iterable<ErrorCode>): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorCatalog[code].http;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}
