import type { Random } from "./random.js";

/**
 * Values a hostile or broken client sends where a name, an id, a number or a URL is
 * expected. Chosen for what trips parsers and the layers behind them: lengths, encodings,
 * control and bidi characters, NATS subject tokens (`.`, `*`, `>`, spaces), SQL and path
 * metacharacters, numbers past every integer width, JSON's odd corners.
 */

const FIXED = [
  "",
  " ",
  "\t",
  "0",
  "-1",
  "-0",
  "1.5",
  "1e309",
  "-1e309",
  "NaN",
  "Infinity",
  "0x10",
  "+1",
  " 1 ",
  "٣", // Arabic-Indic three
  "１", // fullwidth one
  "2147483648",
  "4294967296",
  "9007199254740993",
  "18446744073709551615",
  "18446744073709551616",
  "99999999999999999999999999999999999999",
  "null",
  "true",
  "[]",
  "{}",
  '"',
  "'",
  "\\",
  "' OR 1=1 --",
  "%",
  "_",
  "%00",
  "%zz",
  "%E0%A4%A",
  "../../../../etc/passwd",
  "..",
  ".",
  "*",
  ">",
  "a.b",
  "a b",
  "a.*.>",
  "$JS.API.STREAM.DELETE.VERIFLOW",
  "_INBOX.x",
  "__proto__",
  "constructor",
  "toString",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "7D3F0C1E-0000-4000-8000-000000000000",
  "7d3f0c1e-0000-4000-8000-00000000000",
  "7d3f0c1e-0000-4000-8000-0000000000000",
  "{7d3f0c1e-0000-4000-8000-000000000000}",
  "0x0000000000000000000000000000000000000000",
  "0x" + "f".repeat(64),
  "\u0000",
  "a\u0000b",
  "\r\n",
  "\u0085",
  "\u2028",
  "\u202Egnp.exe",
  "\u2066x\u2069",
  "\uFEFF",
  "\uFFFD",
  "\uD800", // a lone surrogate: not valid UTF-16, written as U+FFFD
  "😀",
  "Ω≈ç√∫",
  "ｔｅｓｔ",
  "<script>alert(1)</script>",
  "${jndi:ldap://127.0.0.1:1/a}",
  "{{7*7}}",
];

/** A character of a random kind: ASCII, C0/C1 controls, bidi marks, any BMP or astral code point. */
function hostileChar(r: Random): string {
  switch (r.int(6)) {
    case 0:
      return String.fromCharCode(r.between(0x20, 0x7e));
    case 1:
      return String.fromCharCode(r.pick([r.between(0, 0x1f), 0x7f, r.between(0x80, 0x9f)]));
    case 2:
      return String.fromCharCode(r.pick([0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200b, 0xfeff]));
    case 3:
      return String.fromCodePoint(r.between(0xa0, 0xd7ff));
    case 4:
      return String.fromCodePoint(r.between(0x10000, 0x10ffff));
    default:
      return r.pick(["/", ".", "*", ">", " ", "%", "?", "#", "&", "=", ";", '"', "'", "\\", ":", "@", "[", "]"]);
  }
}

/** Never an http(s) URL with a host (see withoutWebScheme): whatever field it lands in, nothing reaches beyond loopback. */
export function hostileString(r: Random, maxLength = 20_000): string {
  return withoutWebScheme(anyHostileString(r, maxLength));
}

function anyHostileString(r: Random, maxLength: number): string {
  switch (r.int(6)) {
    case 0:
    case 1:
      return r.pick(FIXED);
    case 2: {
      let s = "";
      for (let i = r.between(1, 40); i > 0; i--) s += hostileChar(r);
      return s;
    }
    case 3: // long: one character repeated, or a fixed value repeated
      return (r.chance(0.5) ? hostileChar(r) : r.pick(FIXED) || "x").repeat(r.between(256, Math.max(256, maxLength))).slice(0, maxLength);
    case 4: // a valid-looking value with one hostile character spliced in
      return spliced(r, r.pick(["7d3f0c1e-0000-4000-8000-000000000000", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "completed", "20", "file.txt"]));
    default:
      return r.pick(FIXED) + hostileChar(r) + r.pick(FIXED);
  }
}

function spliced(r: Random, base: string): string {
  const at = r.int(base.length + 1);
  return base.slice(0, at) + hostileChar(r) + base.slice(at);
}

/** Numbers JSON can carry that no field expects: negatives, fractions, past 2^31, 2^53 and 2^64. */
export function hostileNumber(r: Random): number {
  return r.pick([0, -1, 1.5, -0.000001, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308, Number.MIN_VALUE, r.between(-1000, 1000), r.next() * 1e12]);
}

/** Any JSON value, nested up to `depth`. */
export function randomJson(r: Random, depth = 3): unknown {
  const kind = r.int(depth > 0 ? 8 : 5);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return hostileNumber(r);
    case 3:
    case 4:
      return hostileString(r, 2000);
    case 5:
      return Array.from({ length: r.int(5) }, () => randomJson(r, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.chance(0.3) ? hostileString(r, 50) : r.pick(["id", "type", "data", "url", "jobId", "__proto__", "constructor"])] = randomJson(r, depth - 1);
      return o;
    }
  }
}

/** Where a fuzzed value may point without leaving this machine: a closed loopback port, or addresses every guard refuses. */
const NEVER_PUBLIC_HOSTS = ["127.0.0.1:1", "[::1]:1", "localhost:1", "10.0.0.1", "169.254.169.254", "[fe80::1]", "[::ffff:10.0.0.1]", "0", "2130706433:1", "0x7f.1:1", "100.64.0.1", "224.0.0.1"];

/**
 * A URL-ish value that never names a public host: the services may try to reach what a
 * fuzzed field names (a manifest, an RPC endpoint, a webhook), and a fuzz run talks to
 * loopback only. `local` is a base URL on this machine that answers (the manifest server).
 */
export function hostileUrl(r: Random, local: string): string {
  switch (r.int(5)) {
    case 0:
      return `${r.pick(["http", "https", "HTTP", "ftp", "file", "javascript", "ipfs", "ws"])}://${r.pick(NEVER_PUBLIC_HOSTS)}/${percentEncode(hostileString(r, 200))}`;
    case 1:
      return `${local}/${r.chance(0.5) ? percentEncode(hostileString(r, 200)) : hostileString(r, 200).replace(/^[/\\]+/, "")}`;
    case 2:
      return `ipfs://${r.chance(0.5) ? "bafkrei" + "a".repeat(r.between(0, 60)) : percentEncode(hostileString(r, 100))}`;
    case 3:
      return `http://${r.pick(NEVER_PUBLIC_HOSTS)}/${"a".repeat(r.between(1, 9000))}`;
    default:
      return withoutWebScheme(hostileString(r, 2000));
  }
}

/**
 * A random string never parses as an http(s) URL with a host of its own: the WHATWG parser
 * reads `http:example.com` as `http://example.com/`, so such a prefix is broken here.
 */
export function withoutWebScheme(value: string): string {
  return /^[\s\u0000-\u0020]*(https?|wss?|ftp):/i.test(value) ? `x${value}` : value;
}

/** encodeURIComponent for any string: a lone surrogate (which it refuses) goes as U+FFFD, as a UTF-8 encoder writes it. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"));
}

/** A well-formed UUID no job has (drawn from the seeded PRNG, so a run replays). */
export function randomUuid(r: Random): string {
  const h = r.bytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
