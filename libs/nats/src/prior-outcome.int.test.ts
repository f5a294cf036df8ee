import { createRetryEvent, newJobId } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, type NatsClients } from "./nats.js";
import { checkedFor, hashedFor, requestFor } from "./pipeline-events.fixture.js";
import { findPriorOutcome } from "./prior-outcome.js";
import { publishEvents } from "./publish-events.js";
import { ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

const topology = testTopology();
let server: NatsServerHandle;
let nats: NatsClients;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "prior-outcome-test", log: createSilentLogger() });
  await ensureStreams(nats.jsm, topology);
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

describe("findPriorOutcome across runs of a job", () => {
  it("takes an earlier run's failure for nothing done in a retry, and the retry's own outcome for done", async () => {
    const request = requestFor(newJobId());
    const hashed = hashedFor(request);
    const run1Failed = failedEventFor("manifest", hashed, new PermanentError("E_MANIFEST_NOT_FOUND", "404"), 1);
    await publishEvents(nats.js, [request, hashed, run1Failed]);
    // Run 1's input, handed again: its job's run ended, nothing more to do.
    expect(await findPriorOutcome(nats.jsm, hashed, ["manifest.checked"])).toMatchObject({ id: run1Failed.id });

    // Run 2 starts again at the manifest stage: run 1's failure must not stop it.
    const retried = createRetryEvent(hashed, 2, run1Failed.id);
    expect(await findPriorOutcome(nats.jsm, retried, ["manifest.checked"])).toBeNull();

    // Once run 2 produced its output, a redelivery of its input is done.
    const checked = checkedFor(retried);
    await publishEvents(nats.js, [checked]);
    expect(await findPriorOutcome(nats.jsm, retried, ["manifest.checked"])).toMatchObject({ id: checked.id });
    expect(checked.run).toBe(2);
  });
});
