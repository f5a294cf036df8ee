import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger("test", "debug", stream) };
}

describe("createLogger", () => {
  it("never writes API keys, passwords or secrets it is handed by name", async () => {
    const { lines, log } = capture();
    log.info(
      {
        headers: { authorization: "Bearer k-123", "x-api-key": "k-456", accept: "application/json" },
        req: { headers: { authorization: "Bearer k-789", "x-api-key": "k-000" } },
        config: { apiKeys: ["k-1"], signingSecret: "whsec_x", natsUrl: "nats://127.0.0.1:4222" },
        password: "pw",
      },
      "request",
    );
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(lines);
    for (const secret of ["k-123", "k-456", "k-789", "k-000", "k-1", "whsec_x", '"pw"']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ headers: { accept: "application/json", authorization: "[redacted]" }, config: { natsUrl: "nats://127.0.0.1:4222" } });
  });
});
