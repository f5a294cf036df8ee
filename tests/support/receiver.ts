import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a webhook receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

/**
 * A webhook receiver on loopback (allow-listed through WEBHOOK_ALLOWED_PRIVATE_HOSTS=127.0.0.1
 * in the test system), answering the given statuses in turn (the last one repeats).
 */
export async function startReceiver(statuses: number[] = [200]): Promise<Receiver> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      res.writeHead(statuses[Math.min(requests.length, statuses.length) - 1]!, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/veriflow`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
