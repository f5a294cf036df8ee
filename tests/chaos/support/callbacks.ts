import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { isTerminalType, type EventType } from "@veriflow/events";
import { verifyWebhookSignature } from "../../../services/webhooks/src/signature.js";

/** One POST the receiver got: the envelope's id and type, and whether its signature held. */
export interface ReceivedCallback {
  jobId: string;
  eventId: string;
  type: string;
  signed: boolean;
}

export interface CallbackReceiver {
  /** A job's callbackUrl for one scenario: the path names the scenario. */
  urlFor(scenario: string): string;
  /** Every POST received for the scenario, in arrival order. */
  received(scenario: string): ReceivedCallback[];
  stop(): Promise<void>;
}

/**
 * The loopback receiver of job callbacks: answers 204 to every POST (so the webhooks service
 * has no reason to retry), checks the Standard Webhooks signature with the suite's secret,
 * and records what came, per scenario. Terminal callbacks are the ones counted.
 */
export async function startCallbackReceiver(secret: string): Promise<CallbackReceiver> {
  const byScenario = new Map<string, ReceivedCallback[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const scenario = decodeURIComponent((req.url ?? "/").split("/")[2] ?? "");
      try {
        const envelope = JSON.parse(body.toString("utf8")) as { id: string; type: string; correlationId: string; data?: { jobId?: string } };
        const list = byScenario.get(scenario) ?? [];
        byScenario.set(scenario, list);
        list.push({
          jobId: envelope.data?.jobId ?? envelope.correlationId,
          eventId: envelope.id,
          type: envelope.type,
          signed: verifyWebhookSignature(secret, req.headers, body),
        });
      } catch {
        /* not an envelope: not a callback of ours, nothing to count */
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    urlFor: (scenario) => `http://127.0.0.1:${port}/callbacks/${encodeURIComponent(scenario)}`,
    received: (scenario) => byScenario.get(scenario) ?? [],
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Distinct terminal events (by event id = webhook-id) per job, counting only correctly signed ones. */
export function terminalCallbacksByJob(received: readonly ReceivedCallback[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of received) {
    if (!r.signed || !isTerminalType(r.type as EventType)) continue;
    const ids = out.get(r.jobId) ?? new Set<string>();
    ids.add(r.eventId);
    out.set(r.jobId, ids);
  }
  return out;
}
