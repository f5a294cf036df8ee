import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { NATS_CONFIG_FILE, isNatsConfigCurrent } from "../scripts/generate-nats-config.js";
import { eventTypes, type EventType } from "./catalog.js";
import { NATS_ADMIN_USER, NATS_SUBSCRIBER_USER, natsUsers } from "./nats-permissions.js";
import { pipeline, serviceNames, type ObserverSpec } from "./pipeline.js";
import { subjectFor } from "./topology.js";

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const mayPublish = (subject: string) =>
  natsUsers()
    .filter((u) => u.publish === null || (u.publish.some((p) => matches(p, subject)) && !u.publishDeny?.some((p) => matches(p, subject))))
    .map((u) => u.user)
    .sort();

describe("deploy/nats/nats-server.conf", () => {
  it("is what the pipeline descriptor generates (run `npm run generate:nats-config` if not)", async () => {
    expect(await isNatsConfigCurrent()).toBe(true);
  });

  it("has a user per service, a subscriber and an admin, each with a password from the environment, and no anonymous one", async () => {
    const conf = await readFile(NATS_CONFIG_FILE, "utf8");
    expect(natsUsers().map((u) => u.user)).toEqual([...serviceNames, NATS_SUBSCRIBER_USER, NATS_ADMIN_USER]);
    for (const u of natsUsers()) expect(conf).toContain(`user: "${u.user}"\n        password: $${u.passwordVariable}\n`);
    expect(conf).not.toMatch(/no_auth_user/);
  });

  it("lets an event type be published only by what the descriptor says produces it (stages and observers), status (retries, replays) and admin", () => {
    const producers = (type: string) => [
      ...(pipeline.edge.produces === type || pipeline.batch.submitted === type ? [pipeline.edge.service] : []),
      ...pipeline.stages.filter((s) => (s.produces as readonly string[]).includes(type) || pipeline.giveUp === type).map((s) => s.service),
      ...pipeline.observers.filter((o) => ((o as ObserverSpec).produces ?? []).includes(type as EventType)).map((o) => o.service),
    ];
    for (const type of eventTypes) {
      expect(mayPublish(subjectFor(type, "92a08901-0000-4000-8000-000000000000")), type).toEqual([...new Set([...producers(type), "status", NATS_ADMIN_USER])].sort());
    }
  });

  it("lets only a pipeline consumer's own service pull from it and ack its messages", () => {
    for (const { service, durable } of [...pipeline.stages, ...pipeline.observers]) {
      expect(mayPublish(`$JS.API.CONSUMER.MSG.NEXT.VERIFLOW.${durable}`), durable).toEqual([service, NATS_ADMIN_USER].sort());
      expect(mayPublish(`$JS.ACK.VERIFLOW.${durable}.1.2.3.1700000000000000000.0`), durable).toEqual([service, NATS_ADMIN_USER].sort());
    }
  });
});
