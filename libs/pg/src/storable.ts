/**
 * PostgreSQL cannot store every JavaScript string: NUL (U+0000) is refused in `text` and
 * `jsonb`, and a lone UTF-16 surrogate is refused in `jsonb`. Such a value in one event
 * used to fail the whole batch it arrived in, again on every redelivery. The edges refuse
 * NUL (a 400); what arrives anyway (an event published by another client, an older gateway)
 * is made storable by the readers that write it, with each offending code unit replaced
 * by U+FFFD, the Unicode replacement character, so the value stays recognisable.
 */

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_UNSTORABLE = new RegExp(UNSTORABLE.source);

/** A string PostgreSQL can store in text and jsonb. */
export function storableText(value: string): string {
  return value.replace(UNSTORABLE, "\uFFFD");
}

/** A JSON-like value with every string (keys too) made storable; the same object when nothing needed it. */
export function storable<T>(value: T): T {
  return clean(value) as T;
}

function clean(value: unknown): unknown {
  if (typeof value === "string") return HAS_UNSTORABLE.test(value) ? storableText(value) : value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const c = clean(v);
      changed ||= c !== v;
      return c;
    });
    return changed ? out : value;
  }
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = clean(k) as string;
      const c = clean(v);
      changed ||= c !== v || key !== k;
      out[key] = c;
    }
    return changed ? out : value;
  }
  return value;
}
