import { hostileString, hostileUrl, percentEncode } from "./hostile-values.js";
import type { Random } from "./random.js";

/** What a fuzzed submission body may name: a registry that exists, and a base URL on this machine. */
export interface SubmissionTargets {
  registry: string;
  /** The manifest server's base URL (loopback). */
  manifestsUrl: string;
}

export interface FuzzedBody {
  /** The request's Content-Type header; undefined: none is sent. */
  contentType: string | undefined;
  body: Buffer;
}

interface Part {
  headers: string[];
  value: Buffer;
}

/**
 * A multipart submission, well-formed or broken in one or more ways at once: the boundary
 * (missing, empty, too long, quoted oddly, not the body's), the framing (LF-only lines, a
 * preamble, no closing delimiter, no CRLF after a delimiter), the parts (nameless,
 * without a disposition, thousands of fields, huge fields, several file parts, file names
 * long, unicode, with control characters or path traversal), and the field values.
 * Truncation is the caller's (it cuts the whole request).
 */
export function fuzzedMultipart(r: Random, targets: SubmissionTargets): FuzzedBody {
  const boundary = fuzzedBoundary(r);
  const bodyBoundary = r.chance(0.05) ? fuzzedBoundary(r) : boundary;
  const parts = fuzzedParts(r, targets);
  const eol = r.chance(0.05) ? "\n" : "\r\n";
  const chunks: Buffer[] = [];
  if (r.chance(0.05)) chunks.push(Buffer.from(r.pick(["preamble\r\n", "\r\n", "--\r\n", hostileString(r, 200)])));
  for (const part of parts) {
    chunks.push(Buffer.from(`--${bodyBoundary}${r.chance(0.02) ? r.pick([" ", "\t", "--", "x"]) : ""}${eol}`));
    chunks.push(Buffer.from(part.headers.map((h) => h + eol).join("") + eol, "utf8"));
    chunks.push(part.value, Buffer.from(eol));
  }
  if (!r.chance(0.05)) chunks.push(Buffer.from(`--${bodyBoundary}--${r.chance(0.1) ? eol : ""}`));
  if (r.chance(0.03)) chunks.push(Buffer.from(hostileString(r, 500)));
  return { contentType: fuzzedContentType(r, boundary), body: Buffer.concat(chunks) };
}

function fuzzedBoundary(r: Random): string {
  switch (r.int(12)) {
    case 0:
      return "";
    case 1:
      return "x".repeat(r.between(71, 5000)); // RFC 2046: at most 70
    case 2:
      return hostileString(r, 100).replace(/[\r\n]/g, "");
    case 3:
      return "a b";
    default:
      return `----fuzz${r.bytes(8).toString("hex")}`;
  }
}

function fuzzedContentType(r: Random, boundary: string): string | undefined {
  switch (r.int(20)) {
    case 0:
      return undefined;
    case 1:
      return "multipart/form-data";
    case 2:
      return `multipart/form-data; boundary="${boundary}`; // an unterminated quote
    case 3:
      return `multipart/mixed; boundary=${boundary}`;
    case 4:
      return r.pick(["application/json", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream", "*/*", ""]);
    case 5:
      return `multipart/form-data; boundary=${boundary}; boundary=other`;
    case 6:
      return `MULTIPART/FORM-DATA; BOUNDARY="${boundary.replace(/"/g, '\\"')}"; charset=${r.pick(["utf-8", "latin1", "x-unknown", hostileString(r, 20)])}`;
    case 7:
      return `multipart/form-data;boundary=${boundary};${hostileString(r, 100)}`;
    default:
      return `multipart/form-data; boundary=${boundary}`;
  }
}

const disposition = (name: string, filename?: string) => `Content-Disposition: form-data; name="${name}"${filename === undefined ? "" : `; filename="${filename}"`}`;

function field(name: string, value: string | Buffer): Part {
  return { headers: [disposition(name)], value: typeof value === "string" ? Buffer.from(value, "utf8") : value };
}

function fuzzedParts(r: Random, t: SubmissionTargets): Part[] {
  const parts: Part[] = [];
  if (!r.chance(0.1)) parts.push(field("registryAddress", r.chance(0.7) ? t.registry : hostileString(r, 200)));
  if (!r.chance(0.1)) parts.push(field("manifestURI", r.chance(0.5) ? `${t.manifestsUrl}/fuzz-${r.int(1e9)}.json` : hostileUrl(r, t.manifestsUrl)));
  if (r.chance(0.15)) parts.push(field("rpcUrl", hostileUrl(r, t.manifestsUrl)));
  if (r.chance(0.15)) parts.push(field("callbackUrl", hostileUrl(r, t.manifestsUrl)));
  if (r.chance(0.1)) parts.push(field(r.pick(["registryAddress", "manifestURI", "type", hostileString(r, 100)]), hostileString(r, 300))); // a duplicate, or a stranger
  if (r.chance(0.05)) for (let i = r.between(20, 3000); i > 0; i--) parts.push(field(`f${i}`, "v")); // thousands of fields
  if (r.chance(0.05)) parts.push(field(r.pick(["manifestURI", "registryAddress", "notes"]), "a".repeat(r.pick([16 * 1024 + 1, 100_000, 2_000_000]))));
  const files = r.pick([0, 1, 1, 1, 1, 1, 1, 2, 3]);
  for (let i = 0; i < files; i++) parts.splice(r.int(parts.length + 1), 0, filePart(r));
  for (const part of parts) if (r.chance(0.03)) mangleHeaders(r, part);
  return parts;
}

function filePart(r: Random): Part {
  const name = r.chance(0.9) ? "file" : r.pick(["File", "file[]", "upload", "", hostileString(r, 50)]);
  const headers = [r.chance(0.9) ? disposition(name, fuzzedFileName(r)) : `Content-Disposition: form-data; name="${name}"; filename*=UTF-8''${percentEncode(hostileString(r, 200))}`];
  if (r.chance(0.7)) headers.push(`Content-Type: ${r.pick(["application/octet-stream", "text/plain", "image/png", "", "x", hostileString(r, 100), "multipart/form-data; boundary=inner"])}`);
  const size = r.chance(0.97) ? r.between(0, 4096) : r.between(64 * 1024, 1024 * 1024);
  return { headers, value: r.bytes(size) };
}

function fuzzedFileName(r: Random): string {
  switch (r.int(8)) {
    case 0:
      return "";
    case 1:
      return "a".repeat(r.between(256, 10_000)) + ".txt";
    case 2:
      return r.pick(["../../etc/passwd", "C:\\Windows\\system.ini", "/abs/path", "CON", "nul.txt", ".", "..", "a\\b"]);
    case 3:
    case 4:
      return hostileString(r, 300).replace(/"/g, "%22");
    default:
      return `upload-${r.int(1000)}.bin`;
  }
}

/** One part's headers broken: no disposition, no name, an unknown disposition, a header too long, folded, without a colon. */
function mangleHeaders(r: Random, part: Part): void {
  switch (r.int(6)) {
    case 0:
      part.headers = [];
      break;
    case 1:
      part.headers = [r.pick(["Content-Disposition: form-data", "Content-Disposition: form-data; name", 'Content-Disposition: form-data; name=""', "Content-Disposition: attachment; name=\"file\""])];
      break;
    case 2:
      part.headers.push(`X-Long: ${"h".repeat(r.between(8 * 1024, 20 * 1024))}`);
      break;
    case 3:
      part.headers.push(" folded continuation");
      break;
    case 4:
      part.headers.push("no colon here");
      break;
    default:
      part.headers = part.headers.map((h) => h.replace("form-data", r.pick(["FORM-DATA", "form_data", "form-data ", hostileString(r, 20)])));
  }
}
