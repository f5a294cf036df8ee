import type { z as zod } from "zod";
import { HttpError } from "@veriflow/errors";
import { z } from "./zod.js";

/** A request's query as Koa parses it: repeated names are arrays. */
export type Query = Record<string, string | string[] | undefined>;

/** A value as an error message quotes it: cut short, the input as sent. */
const shown = (input: unknown, max = 32) => `"${String(input).slice(0, max)}"`;

/**
 * A query parameter given at most once: a second `name=` is a problem of its own, and ""
 * reads as absent (`?status=` is no filter). `inner` checks the single value.
 */
export function queryParam<T extends zod.ZodType>(name: string, inner: T) {
  return z.preprocess((v, ctx) => {
    if (!Array.isArray(v)) return v === "" ? undefined : v;
    ctx.addIssue({ code: "custom", input: v, message: `${name} may be given once` });
    return undefined;
  }, inner.optional());
}

/** A whole number of at least `min` (0 unless told) as a query string; `fallback` when absent. */
export function queryCount(name: string, fallback: number, opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 0;
  const problem = (iss: { input: unknown }) => `${name} must be ${min === 0 ? "a non-negative integer" : `an integer >= ${min}`}, got ${shown(iss.input)}`;
  const digits = z
    .string({ error: problem })
    .regex(/^\d{1,15}$/, { error: problem, abort: true })
    .refine((raw) => Number.isSafeInteger(Number(raw)) && Number(raw) >= min, { error: problem })
    .openapi({ description: `a whole number${min > 0 ? ` of at least ${min}` : ""}; ${fallback} when absent${opts.max !== undefined ? `, and at most ${opts.max} (more reads as ${opts.max})` : ""}`, example: String(fallback) });
  return queryParam(name, digits).transform((raw) => (raw === undefined ? fallback : Math.min(Number(raw), opts.max ?? Number.MAX_SAFE_INTEGER)));
}

/** One of `values`, given once. */
export function queryEnum<const V extends readonly [string, ...string[]]>(name: string, values: V) {
  return queryParam(name, z.enum(values, { error: (iss) => `${name} must be one of ${values.join(", ")}, got ${shown(iss.input)}` }));
}

/** Each problem of a failed parse, as a person reads it: the schemas' own messages, in field order. */
export function queryProblems(error: zod.ZodError): string[] {
  return error.issues.map((issue) => issue.message);
}

/**
 * Reads each parameter of `schema` from `query` on its own, so that every problem is found at
 * once and the parameters that are fine are there for checks across them (`values`).
 */
export function readQueryFields<S extends Record<string, zod.ZodType>>(schema: zod.ZodObject<S>, query: Query) {
  const values: Partial<{ [K in keyof S]: zod.output<S[K]> }> = {};
  const problems: string[] = [];
  for (const [name, field] of Object.entries<zod.ZodType>(schema.shape)) {
    const parsed = field.safeParse(query[name]);
    if (parsed.success) values[name as keyof S] = parsed.data as zod.output<S[keyof S]>;
    else problems.push(...queryProblems(parsed.error));
  }
  return { values, problems };
}

/** Every problem of a query as one 400 E_INVALID_QUERY (`details.problems` lists them); nothing when there is none. */
export function refuseQueryProblems(problems: string[]): void {
  if (problems.length > 0) throw new HttpError("E_INVALID_QUERY", problems.join("; "), { details: { problems } });
}
