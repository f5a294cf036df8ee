import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy } from "@nats-io/jetstream";
import { connect, errors } from "@nats-io/transport-node";
import { DEAD_LETTER_STREAM, KNOWN_VERDICTS_BUCKET, STREAM_NAME, UPLOADS_BUCKET, deadLetterSubject, pipeline, stageConsumer, subjectsOf } from "@veriflow/events";
import { connectNats, ensureConsumer, ensureStreams, findLastEvent, openUploadsBucket, publishEvents, type NatsClients } from "@veriflow/nats";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { checkedFor, completedFor, hashedFor, requestFor } from "../../libs/nats/src/pipeline-events.fixture.js";
import { isPermissionViolation, refusal, startNatsWithUsers, topology, type NatsWithUsers } from "./nats-users.fixture.js";

// What deploy/nats/nats-server.conf must refuse: clients that do not log in, and any user
// publishing what it does not own. Each refusal is nats.js's typed PermissionViolationError
// (or AuthorizationError), and what was refused is not in the stream.
let nats: NatsWithUsers;
let admin: NatsClients;
const jobId = randomUUID();
const request = requestFor(jobId);
const checked = checkedFor(hashedFor(request));

beforeAll(async () => {
  nats = await startNatsWithUsers();
  admin = await nats.connectAs("admin");
  await ensureStreams(admin.jsm, topology);
  await openUploadsBucket(admin.js, topology);
  for (const stage of pipeline.stages) await ensureConsumer(admin.jsm, stageConsumer(stage.service), topology);
});
afterAll(async () => {
  await nats?.stop();
});

describe("NATS refuses", () => {
  it("a client that does not log in, or logs in with a wrong password", async () => {
    await expect(connect({ servers: nats.server.url, timeout: 3000 })).rejects.toBeInstanceOf(errors.AuthorizationError);
    await expect(connect({ servers: nats.server.url, user: "manifest", pass: "not its password", timeout: 3000 })).rejects.toBeInstanceOf(errors.AuthorizationError);
    // A service with the wrong password fails at start instead of waiting for NATS forever.
    const wrong = connectNats({ url: nats.server.url, auth: { kind: "password", user: "gateway", password: "wrong" }, name: "wrong", log: createSilentLogger() });
    await expect(wrong).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  // Only chain-check states verdicts: the manifest stage, which answers from known verdicts by
  // pointing chain-check at them, is the service most tempted to, and is refused like any other.
  it("a verdict forged by the manifest service: the publish is refused and the stream never holds it", async () => {
    const manifest = await nats.connectAs("manifest");
    const err = await refusal(publishEvents(manifest.js, [completedFor(checked)]));
    expect(isPermissionViolation(err)).toBe(true);
    expect(await findLastEvent(admin.jsm, "verification.completed", jobId)).toBeNull();
    // What it owns still goes through on the same connection.
    await expect(publishEvents(manifest.js, [checked])).resolves.toHaveLength(1);
  });

  it.each<[string, string, (c: NatsClients) => Promise<unknown>]>([
    ["gateway", "publish content.hashed", (c) => publishEvents(c.js, [hashedFor(request)])],
    ["hashing", "publish manifest.checked", (c) => publishEvents(c.js, [checked])],
    ["chain-check", "publish verification.requested", (c) => publishEvents(c.js, [requestFor(randomUUID())])],
    ["webhooks", "publish verification.failed", (c) => publishEvents(c.js, [failedEventFor("manifest", request, new Error("forged"), 1)])],
    ["subscriber", "publish verification.completed", (c) => publishEvents(c.js, [completedFor(checked)])],
    ["webhooks", "set a message aside as another consumer's dead letter", (c) => c.js.publish(deadLetterSubject("hashing"), "x")],
    ["hashing", "create or change the manifest stage's consumer", (c) => ensureConsumer(c.jsm, stageConsumer("manifest"), topology)],
    [
      "subscriber",
      "take over a pipeline consumer (a consumer named chain-check)",
      (c) => c.jsm.consumers.add(STREAM_NAME, { durable_name: "chain-check", filter_subject: subjectsOf("manifest.checked"), ack_policy: AckPolicy.Explicit }),
    ],
    ["manifest", "open the uploads bucket (a stage that reads no uploads)", (c) => openUploadsBucket(c.js, topology)],
    ["manifest", "write a known verdict (registry-watch keeps them; the stage only reads)", (c) => c.js.publish(`$KV.${KNOWN_VERDICTS_BUCKET}.forged`, "{}")],
    ["hashing", "publish verification.completed", (c) => publishEvents(c.js, [completedFor(checked)])],
    ["chain-check", "write a known verdict (it reads the record a pointer names, never writes one)", (c) => c.js.publish(`$KV.${KNOWN_VERDICTS_BUCKET}.forged`, "{}")],
    ["hashing", "read the known verdicts (a stage without readsKnownVerdicts)", (c) => c.jsm.streams.getMessage(`KV_${KNOWN_VERDICTS_BUCKET}`, { last_by_subj: `$KV.${KNOWN_VERDICTS_BUCKET}.x` })],
    ["status", "purge the uploads bucket", (c) => c.jsm.streams.purge(`OBJ_${UPLOADS_BUCKET}`)],
    ["gateway", "delete the events stream", (c) => c.jsm.streams.delete(STREAM_NAME)],
    ["hashing", "read the dead letters", (c) => c.jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq: 1 })],
  ])("%s: %s", async (user, _what, action) => {
    const c = await nats.connectAs(user);
    expect(isPermissionViolation(await refusal(action(c)))).toBe(true);
  });

  it("a service listening to events it does not consume over core NATS", async () => {
    const manifest = await nats.connectAs("manifest");
    const sub = manifest.nc.subscribe("veriflow.>");
    expect(isPermissionViolation(await sub.closed)).toBe(true);
  });

  it("and the server logged each refusal", () => {
    expect(nats.server.errors().filter((line) => /violation/i.test(line)).length).toBeGreaterThanOrEqual(12);
  });
});
