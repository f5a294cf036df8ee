import { badRequest } from "@veriflow/errors";

/**
 * Characters no text a client sends may contain, in any field we keep, forward or print:
 * C0 controls (NUL, which PostgreSQL cannot store, and CR/LF, which split log lines and
 * headers), DEL, C1 controls, and the bidirectional embeddings, overrides and isolates that
 * make a file name or URL read differently from what it is ("Trojan Source").
 * A URL field is checked before it is parsed: WHATWG URL parsing silently drops tabs and
 * newlines, so "http://exa\nmple.com" would otherwise pass as something else.
 */
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

/** The first forbidden character of `value`, as "U+XXXX", or null. */
export function forbiddenCharacterIn(value: string): string | null {
  const m = FORBIDDEN.exec(value);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}` : null;
}

/** Throws 400 E_CONTROL_CHARACTER when `value` holds a forbidden character; `name` says which field. */
export function checkTextField(name: string, value: string | null | undefined): void {
  if (value == null) return;
  const found = forbiddenCharacterIn(value);
  if (found !== null) {
    const field = forbiddenCharacterIn(name) === null ? `"${name.slice(0, 64)}"` : "a field name";
    throw badRequest("E_CONTROL_CHARACTER", `${field} contains the control character ${found}; send it without control characters or bidirectional overrides`);
  }
}
