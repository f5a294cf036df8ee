import { HttpError } from "@veriflow/errors";

export type Query = Record<string, string | string[] | undefined>;

/**
 * Reads a request's query parameters, collecting every problem instead of stopping at the
 * first; `done()` throws them together as one 400 E_INVALID_QUERY (with `details.problems`).
 */
export function readQuery(query: Query) {
  const problems: string[] = [];
  /** A parameter given at most once; "" reads as absent. */
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (Array.isArray(v)) {
      problems.push(`${name} may be given once`);
      return undefined;
    }
    return v === "" ? undefined : v;
  };
  /** A whole number of at least `min` (0 unless told), or `fallback` when absent. */
  const count = (name: string, fallback: number, min = 0): number => {
    const raw = single(name);
    if (raw === undefined) return fallback;
    const n = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      problems.push(`${name} must be ${min === 0 ? "a non-negative integer" : `an integer >= ${min}`}, got "${raw.slice(0, 32)}"`);
      return fallback;
    }
    return n;
  };
  return {
    problems,
    single,
    count,
    done(): void {
      if (problems.length > 0) throw new HttpError("E_INVALID_QUERY", problems.join("; "), { details: { problems } });
    },
  };
}
