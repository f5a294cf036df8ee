import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postMultipart } from "./upload.js";

let dir: string;
let server: Server;
let url: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "veriflow-upload-"));
  // Answers 401 at once, reading nothing, and drops the connection, as an auth check in front of an upload does.
  server = createServer((req, res) => {
    if (req.url === "/early") {
      res.writeHead(401, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: { code: "E_UNAUTHORIZED", message: "no key" } }), () => req.destroy());
      return;
    }
    let size = 0;
    req.on("data", (c: Buffer) => (size += c.length));
    req.on("end", () => res.end(JSON.stringify({ size, length: Number(req.headers["content-length"]), type: req.headers["content-type"] })));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe("postMultipart", () => {
  it("sends the fields and the file with an exact Content-Length", async () => {
    const file = join(dir, "née.txt");
    await writeFile(file, "x".repeat(100_000));
    const answer = await postMultipart(`${url}/up`, { a: "1" }, file, {});
    const body = JSON.parse(answer.text);
    expect(answer.status).toBe(200);
    expect(body.size).toBe(body.length);
    expect(body.size).toBeGreaterThan(100_000);
    expect(body.type).toMatch(/^multipart\/form-data; boundary=----veriflow-[0-9a-f]{24}$/);
  });

  it("an answer sent before the body was read wins over the broken upload", async () => {
    const file = join(dir, "big.bin");
    await writeFile(file, Buffer.alloc(64 * 1024 * 1024));
    const answer = await postMultipart(`${url}/early`, {}, file, {});
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text).error.code).toBe("E_UNAUTHORIZED");
  });
});
