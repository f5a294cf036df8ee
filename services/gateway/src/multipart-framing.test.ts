import { describe, expect, it } from "vitest";
import { createFramingCheck } from "./multipart-framing.js";

const B = "----veriflow-7d3f";
const field = (name: string, value: string) => `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const filePart = (bytes: string) => `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${bytes}\r\n`;
const close = `--${B}--\r\n`;

/** What the check says of `body` fed in chunks of `size` bytes (every split point is a chunk edge somewhere). */
function verdict(body: string, size: number): string | null {
  let refused: string | null = null;
  const check = createFramingCheck(B, (m) => (refused ??= m));
  const bytes = Buffer.from(body, "latin1");
  for (let i = 0; i < bytes.length; i += size) check(bytes.subarray(i, i + size));
  return refused;
}

const SIZES = [1, 2, 3, 7, 16, 31, 64, 1000, 1 << 20];

describe("createFramingCheck", () => {
  // A file whose bytes look like delimiters without being one (no CRLF before, or other bytes after).
  const tricky = `x--${B}\r\n--${B}x\r\n-${B}\r\n\r\n--${B}0`.repeat(3) + "y".repeat(3000);

  it.each(SIZES)("lets a well-formed body through, in chunks of %i bytes", (size) => {
    expect(verdict(field("registryAddress", "0x1") + field("manifestURI", "https://m") + filePart(tricky) + close + "epilogue", size)).toBeNull();
    expect(verdict(`\r\n${field("a", "1")}${close}`, size)).toBeNull(); // a leading CRLF, as busboy tolerates
    expect(verdict(`--${B}\r\ncontent-disposition: FORM-DATA; NAME=plain\r\n\r\nv\r\n${close}`, size)).toBeNull();
    expect(verdict(`--${B}\r\nContent-Disposition: form-data; name*=utf-8''f%C3%A9\r\n\r\nv\r\n${close}`, size)).toBeNull();
  });

  it.each(SIZES)("refuses bytes before the first delimiter, in chunks of %i bytes", (size) => {
    expect(verdict(`--X\r\n${field("a", "1")}${filePart("cut sho")}`, size)).toMatch(/does not start with the boundary delimiter/);
    expect(verdict(`garbage\r\n${field("a", "1")}${close}`, size)).toMatch(/does not start with/);
  });

  it.each(SIZES)("refuses a part without a name, wherever it is, in chunks of %i bytes", (size) => {
    const nameless = [
      `--${B}\r\nContent-Disposition: form-data\r\n\r\nv\r\n`,
      `--${B}\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n`,
      `--${B}\r\nContent-Disposition: form-data; name=""\r\n\r\nv\r\n`,
      `--${B}\r\nContent-Disposition: form-data; filename="x.bin"\r\n\r\nv\r\n`,
      `--${B}\r\nContent-Type: text/plain\r\n\r\nv\r\n`,
      `--${B}\r\nContent-Disposition: attachment; name="file"\r\n\r\nv\r\n`,
    ];
    for (const part of nameless) {
      expect(verdict(part + field("a", "1") + close, size), part).toMatch(/^part 1 /);
      expect(verdict(field("a", "1") + filePart(tricky) + part + close, size), part).toMatch(/^part 3 /);
    }
  });

  it("stops looking after the closing delimiter and past an oversized header block (busboy refuses that one)", () => {
    expect(verdict(`${field("a", "1")}${close}--${B}\r\n\r\nnot a part\r\n`, 5)).toBeNull();
    expect(verdict(`--${B}\r\nX-Long: ${"h".repeat(20_000)}`, 100)).toBeNull();
  });
});
