import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { out } from "./output.js";

/** A loopback HTTP server that answers every delivery 204 and counts them: the subscribers of the "active" run. */
export interface WebhookReceiver {
  url: string;
  /** Deliveries received so far. */
  received(): number;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received: () => received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Registers a subscription to every job's ending at `url` (through the gateway, as a client would). */
export async function subscribeToEndings(gatewayUrl: string, url: string): Promise<string> {
  const res = await fetch(`${gatewayUrl}/api/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ url, eventTypes: ["verification.completed", "verification.failed"], description: "bench subscriber" }),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`registering the bench's webhook answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  return body.id;
}

export async function unsubscribe(gatewayUrl: string, id: string): Promise<void> {
  await fetch(`${gatewayUrl}/api/webhooks/${id}`, { method: "DELETE" });
}

/** Waits until `expected` deliveries arrived (or nothing arrives for `stallMs`); prints what came. */
export async function waitForDeliveries(receiver: WebhookReceiver, expected: number, stallMs = 30_000): Promise<number> {
  let last = -1;
  let lastMove = Date.now();
  while (receiver.received() < expected) {
    const n = receiver.received();
    if (n !== last) {
      last = n;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > stallMs) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  out(`  webhook deliveries   ${receiver.received()} of ${expected} received (a callback per job + the subscription's)`);
  return receiver.received();
}
