import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";
import { natsUsers, serviceNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";

// docker-compose.yml is written by hand (it is read by people first); this keeps its
// service list equal to the pipeline descriptor's, which every other launcher derives from.
const compose = load(readFileSync(fileURLToPath(new URL("../docker-compose.yml", import.meta.url)), "utf8")) as {
  services: Record<
    string,
    { build?: { args?: { SERVICE?: string } }; environment?: Record<string, string>; ports?: string[]; volumes?: string[]; command?: string[]; depends_on?: Record<string, { condition: string }>; profiles?: string[] }
  >;
};
const envExample = readFileSync(fileURLToPath(new URL("../.env.example", import.meta.url)), "utf8");
const clusterConf = readFileSync(fileURLToPath(new URL("./nats/cluster.conf", import.meta.url)), "utf8");
/** The `cluster` profile's other NATS nodes, beside `nats`. */
const clusterNodes = ["nats-2", "nats-3"];
const infrastructure = ["nats", ...clusterNodes, "postgres", "prometheus", "setup"];

describe("docker-compose.yml agrees with the pipeline descriptor", () => {
  it("runs exactly the descriptor's services, besides NATS, PostgreSQL, Prometheus and setup", () => {
    const appServices = Object.keys(compose.services).filter((s) => !infrastructure.includes(s));
    expect(appServices.sort()).toEqual([...serviceNames].sort());
  });

  it("lets each service serve its ops endpoints on its conventional port, which Prometheus scrapes", () => {
    for (const name of serviceNames) expect(compose.services[name]?.environment?.OPS_PORT, name).toBeUndefined();
    expect(compose.services.prometheus?.volumes).toContain("./deploy/prometheus:/etc/prometheus:ro");
  });

  it("builds each service from its own folder's code (SERVICE build arg = the service's name)", () => {
    for (const name of serviceNames) expect(compose.services[name]?.build?.args?.SERVICE, name).toBe(name);
  });

  it("runs NATS with the generated permissions, unpublished, and logs each service in as its own user", () => {
    const nats = compose.services.nats!;
    expect(nats.ports).toBeUndefined();
    expect(nats.volumes).toContain("./deploy/nats/nats-server.conf:/etc/nats/nats-server.conf:ro");
    expect(nats.command?.slice(0, 2)).toEqual(["-c", "/etc/nats/${NATS_CONFIG:-nats-server.conf}"]);
    for (const { user, passwordVariable } of natsUsers()) {
      // nats-server resolves every user's password from its environment; .env.example names it.
      expect(nats.environment?.[passwordVariable], user).toMatch(new RegExp(`^\\$\\{${passwordVariable}:\\?`));
      expect(envExample, user).toMatch(new RegExp(`^${passwordVariable}=$`, "m"));
      if (!(serviceNames as string[]).includes(user)) continue;
      expect(compose.services[user]?.environment?.NATS_USER, user).toBe(user);
      expect(compose.services[user]?.environment?.NATS_PASSWORD, user).toBe(nats.environment?.[passwordVariable]);
    }
  });

  it("makes the topology once with veriflow setup (as admin) before any service, which only checks it", () => {
    const setup = compose.services.setup!;
    expect(setup.command).toEqual(["node", "cli/bin/veriflow.js", "setup"]);
    expect(setup.environment?.NATS_USER).toBe("admin");
    expect(setup.environment?.DATABASE_URL).toBe(compose.services.status?.environment?.DATABASE_URL);
    for (const name of serviceNames) {
      expect(compose.services[name]?.depends_on?.setup, name).toEqual({ condition: "service_completed_successfully" });
      expect(compose.services[name]?.environment?.NATS_TOPOLOGY, name).toBe("check");
    }
  });

  it("has a `cluster` profile: two more nodes, routed to `nats`, with the same users, each on its own store", () => {
    const nats = compose.services.nats!;
    for (const name of clusterNodes) {
      const node = compose.services[name]!;
      expect(node.profiles, name).toEqual(["cluster"]);
      expect(node.command?.slice(0, 2), name).toEqual(["-c", "/etc/nats/cluster.conf"]);
      expect(node.ports, name).toBeUndefined();
      expect(node.environment, name).toEqual({ ...nats.environment, NATS_SERVER_NAME: name });
      expect(node.volumes, name).toContain(`${name}-data:/data`);
      expect(node.volumes, name).toContain("./deploy/nats/nats-server.conf:/etc/nats/nats-server.conf:ro");
    }
    expect(nats.environment?.NATS_SERVER_NAME).toBe("nats");
    // The generated accounts unchanged, and a route to every node of the profile.
    expect(clusterConf).toMatch(/^include \.\/nats-server\.conf$/m);
    for (const name of ["nats", ...clusterNodes]) expect(clusterConf).toContain(`nats-route://${name}:6222`);
    // setup makes the streams at R3 only once the first node has routes to the others.
    expect(compose.services.setup?.depends_on?.nats).toEqual({ condition: "service_healthy" });
    // Without the profile nothing changes: one node, R1; .env.example has the four lines that switch it on.
    for (const line of ["COMPOSE_PROFILES=cluster", "NATS_CONFIG=cluster.conf", "NATS_URL=nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222", "STREAM_REPLICAS=3"]) {
      expect(envExample).toContain(`#${line}\n`);
    }
  });
});
