import { RequestOne, type MuxSubscription } from "@nats-io/nats-core/internal";
import { describe, expect, it } from "vitest";

/**
 * nats.js cancels every request once it is answered, and its cancel rejected the (already
 * resolved) promise with a new RequestError("cancelled"): an Error and its stack trace built
 * for nothing on every JetStream publish and direct get, up to 6 % of a service's CPU in
 * bench:priority's profiles. Our patch (patches/@nats-io+nats-core+*.patch) skips the
 * rejection of a request that was settled; an unanswered one is still rejected.
 */
describe("request cancel (patched)", () => {
  const mux = { cancel: () => {} } as unknown as MuxSubscription;

  it("builds no rejection for a request that was answered", async () => {
    const request = new RequestOne(mux, "subject", { timeout: 1000 }, false);
    const rejected: unknown[] = [];
    const reject = request.deferred.reject.bind(request.deferred);
    request.deferred.reject = (err?: unknown) => {
      rejected.push(err);
      reject(err);
    };
    request.resolver(null, { data: new Uint8Array() } as never);
    expect(await request.deferred).toBeDefined();
    expect(rejected).toEqual([]);
  });

  it("still rejects one cancelled before its answer", async () => {
    const request = new RequestOne(mux, "subject", { timeout: 1000 }, false);
    request.cancel();
    await expect(request.deferred).rejects.toThrow("cancelled");
  });
});
