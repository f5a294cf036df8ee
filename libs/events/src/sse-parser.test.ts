import { describe, expect, it } from "vitest";
import { createSseParser } from "./sse-parser.js";

describe("SSE parser", () => {
  it("reads events split anywhere across chunks, drops comments, joins data lines", () => {
    const parse = createSseParser();
    const stream = 'retry: 5000\n\n: heartbeat\n\nid: 1\nevent: job\ndata: {"a":1}\n\nevent: end\r\ndata: x\r\ndata: y\r\n\r\n';
    const events = [];
    for (let i = 0; i < stream.length; i += 7) events.push(...parse(stream.slice(i, i + 7)));
    // Every split point, one character at a time: a CRLF across two chunks is one line end.
    const byChar = createSseParser();
    expect([...stream].flatMap((c) => byChar(c))).toHaveLength(2);
    expect(events).toEqual([
      { event: "job", data: '{"a":1}', id: "1" },
      { event: "end", data: "x\ny", id: "1" },
    ]);
  });
});
