import { HttpError, isErrorCode } from "@veriflow/errors";

/**
 * A failed job (or an error of the in-process fallback) as the edge error that answers it:
 * its code and the code's HTTP status from the catalog (libs/errors, docs/errors.md), so
 * the answer is 4xx when the submission can't be verified as sent (422) or was refused
 * (400), 502/503/504 when someone did not answer, and 500 only for E_INTERNAL.
 *
 * A code this gateway does not know (a newer or older stage's) answers E_INTERNAL, with
 * the stage's code kept in `details.failureCode`.
 */
export function failureError(code: string, message: string, details: Record<string, unknown>): HttpError {
  if (isErrorCode(code)) return new HttpError(code, message, { expose: true, details });
  return new HttpError("E_INTERNAL", message, { expose: true, details: { ...details, failureCode: code } });
}
