import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { load } from "js-yaml";
import { natsUsers, serviceNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
/** A password for every NATS user (values only a test would use). */
const natsPasswords = Object.fromEntries(natsUsers().map((u) => [u.passwordVariable, `p${u.user.replace(/-/g, "")}test`]));
const secrets = { RPC_URL: "http://chain:8545", WEBHOOK_SECRETS_KEY: "c2VjcmV0cyBrZXkgb2YgdGhpcnR5LXR3byBieXRlcyE=", ...natsPasswords };
const hasCompose = await run("docker-compose", ["version"]).then(() => true, () => false);

// No Docker engine runs here; docker-compose still parses and validates the file offline.
describe.skipIf(!hasCompose)("docker-compose.yml", () => {
  it("is valid and wires every service to NATS, and the gateway, status, webhooks and registry-watch to PostgreSQL", async () => {
    const { stdout } = await run("docker-compose", ["config"], { cwd: root, env: { ...process.env, ...secrets, API_KEYS: "k1,k2" } });
    for (const service of ["nats", "postgres", ...serviceNames]) {
      expect(stdout).toMatch(new RegExp(`^  ${service}:`, "m"));
    }
    // Every service, and setup (veriflow setup) before them.
    expect(stdout.match(/NATS_URL: nats:\/\/nats:4222/g)?.length).toBe(serviceNames.length + 1);
    // setup, gateway, status, webhooks, registry-watch.
    expect(stdout.match(/DATABASE_URL: postgres:\/\/veriflow:veriflow@postgres:5432\/veriflow/g)?.length).toBe(5);
    expect(stdout).toMatch(/condition: service_completed_successfully/);
    expect(stdout).toMatch(/RPC_URL: http:\/\/chain:8545/);
    expect(stdout).toMatch(/SERVICE: chain-check/);
    expect(stdout).toMatch(/STATUS_URL: http:\/\/status:3002/);
    expect(stdout).toMatch(/WEBHOOKS_URL: http:\/\/webhooks:3003/);
    // Every service that authenticates knows the bootstrap keys.
    expect(stdout.match(/API_KEYS: k1,k2/g)?.length).toBe(3);
    // Each service logs in as its own NATS user; nats-server gets every password; 4222 stays inside.
    const resolved = load(stdout) as { services: Record<string, { environment?: Record<string, string>; ports?: unknown }> };
    expect(resolved.services.nats?.environment).toEqual({ ...natsPasswords, NATS_SERVER_NAME: "nats" });
    expect(resolved.services.nats?.ports).toBeUndefined();
    for (const name of serviceNames) {
      const variable = natsUsers().find((u) => u.user === name)!.passwordVariable;
      expect(resolved.services[name]?.environment, name).toMatchObject({ NATS_USER: name, NATS_PASSWORD: natsPasswords[variable] });
    }
  });

  it("runs a three-node NATS cluster with the `cluster` profile: every service given all three nodes, the streams at R3", async () => {
    const cluster = {
      COMPOSE_PROFILES: "cluster",
      NATS_CONFIG: "cluster.conf",
      NATS_URL: "nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222",
      STREAM_REPLICAS: "3",
    };
    const { stdout } = await run("docker-compose", ["config"], { cwd: root, env: { ...process.env, ...secrets, API_KEYS: "k1", ...cluster } });
    const resolved = load(stdout) as { services: Record<string, { environment?: Record<string, string>; command?: string[]; profiles?: string[] }> };
    for (const name of ["setup", ...serviceNames]) {
      expect(resolved.services[name]?.environment, name).toMatchObject({ NATS_URL: cluster.NATS_URL, STREAM_REPLICAS: "3" });
    }
    for (const name of ["nats", "nats-2", "nats-3"]) {
      expect(resolved.services[name]?.command?.slice(0, 2), name).toEqual(["-c", "/etc/nats/cluster.conf"]);
      expect(resolved.services[name]?.environment?.NATS_SERVER_NAME, name).toBe(name);
    }
    // Without the profile, nats-2 and nats-3 stay off (they carry it) and the one node runs as before.
    const single = load((await run("docker-compose", ["config"], { cwd: root, env: { ...process.env, ...secrets, API_KEYS: "k1" } })).stdout) as typeof resolved;
    expect(single.services["nats-2"]?.profiles).toEqual(["cluster"]);
    expect(single.services.nats?.command?.slice(0, 2)).toEqual(["-c", "/etc/nats/nats-server.conf"]);
    expect(single.services.gateway?.environment).toMatchObject({ NATS_URL: "nats://nats:4222", STREAM_REPLICAS: "1" });
  });

  it("refuses to run without the secrets production needs (bootstrap API keys, the key sealing webhook secrets, NATS passwords)", async () => {
    const base = { ...process.env, ...secrets, API_KEYS: "k1" };
    for (const missing of ["API_KEYS", "WEBHOOK_SECRETS_KEY", "NATS_HASHING_PASSWORD", "NATS_ADMIN_PASSWORD"] as const) {
      const env: NodeJS.ProcessEnv = { ...base };
      delete env[missing];
      await expect(run("docker-compose", ["config", "-q"], { cwd: root, env }), missing).rejects.toThrow(new RegExp(missing));
    }
  });

  it("fails validation when the file is broken (so the check above can fail)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "compose-"));
    const file = join(dir, "docker-compose.yml");
    await writeFile(file, "services:\n  gateway:\n    image: 12\n    ports: nope\n");
    await expect(run("docker-compose", ["-f", file, "config", "-q"])).rejects.toThrow();
  });
});
