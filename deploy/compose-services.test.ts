import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { serviceNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";

// docker-compose.yml is written by hand (it is read by people first); this keeps its
// service list equal to the pipeline descriptor's, which every other launcher derives from.
const compose = load(readFileSync(fileURLToPath(new URL("../docker-compose.yml", import.meta.url)), "utf8")) as {
  services: Record<string, { build?: { args?: { SERVICE?: string } }; environment?: Record<string, string> }>;
};
const infrastructure = ["nats", "postgres"];

describe("docker-compose.yml agrees with the pipeline descriptor", () => {
  it("runs exactly the descriptor's services, besides NATS and PostgreSQL", () => {
    const appServices = Object.keys(compose.services).filter((s) => !infrastructure.includes(s));
    expect(appServices.sort()).toEqual([...serviceNames].sort());
  });

  it("builds each service from its own folder's code (SERVICE build arg = the service's name)", () => {
    for (const name of serviceNames) expect(compose.services[name]?.build?.args?.SERVICE, name).toBe(name);
  });
});
