import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect, errors, nkeys } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvReader, createSilentLogger, readNatsConnectionConfig, type Env } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type ConnectNatsOptions } from "./nats.js";

// connectNats with each way of logging in that readNatsConnectionConfig reads, against a real
// nats-server configured for it. (A creds file needs an operator-mode server with JWTs: it goes
// through nats.js's credsAuthenticator, not tested here.)
const run = promisify(execFile);
const hasOpenssl = await run("openssl", ["version"]).then(() => true, () => false);
let dir: string;
const servers: NatsServerHandle[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "veriflow-nats-auth-"));
});
afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function serverWith(name: string, config: string): Promise<NatsServerHandle> {
  const file = join(dir, `${name}.conf`);
  await writeFile(file, config);
  const server = await startNatsServer({ configFile: file });
  servers.push(server);
  return server;
}

/** Connects with the settings `env` gives, as a service does; resolves once JetStream answers, then closes. */
async function connectWith(server: NatsServerHandle, env: Env, extra: Partial<ConnectNatsOptions> = {}): Promise<void> {
  const r = new EnvReader({ NATS_URL: server.url, ...env });
  const settings = readNatsConnectionConfig(r);
  r.done();
  const clients = await connectNats({ ...settings, name: "nats-auth-test", log: createSilentLogger(), ...extra });
  await clients.close();
}

describe("connectNats logs in as the environment says", () => {
  it("with credentials in NATS_URL, which it never logs", async () => {
    const server = await serverWith("password", 'authorization { users: [ { user: "svc", password: "hunter2-secret" } ] }\n');
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    await connectWith(server, { NATS_URL: `nats://svc:hunter2-secret@127.0.0.1:${server.port}` }, { log });
    expect(lines.join("")).toMatch(/nats connected/);
    expect(lines.join("")).toMatch(/"as":"user svc"/);
    expect(lines.join("")).not.toMatch(/hunter2/);
    await expect(connectWith(server, {})).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  it("with a token", async () => {
    const server = await serverWith("token", 'authorization { token: "t0k-s3cret" }\n');
    await connectWith(server, { NATS_TOKEN: "t0k-s3cret" });
    await expect(connectWith(server, { NATS_TOKEN: "wrong" })).rejects.toBeInstanceOf(errors.AuthorizationError);
  });

  it("with an nkey seed, given or in a file", async () => {
    const user = nkeys.createUser();
    const server = await serverWith("nkey", `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    const seed = new TextDecoder().decode(user.getSeed());
    await connectWith(server, { NATS_NKEY_SEED: seed });
    const seedFile = join(dir, "user.nk");
    await writeFile(seedFile, `${seed}\n`, { mode: 0o600 });
    await connectWith(server, { NATS_NKEY_SEED_FILE: seedFile });
    await expect(connectWith(server, { NATS_NKEY_SEED_FILE: join(dir, "missing.nk") })).rejects.toThrow(/NATS_NKEY_SEED_FILE: cannot read/);
  });

  it.skipIf(!hasOpenssl)("over TLS, verifying the server with NATS_TLS_CA and showing a client certificate", async () => {
    const pki = await makeCertificates(dir);
    const server = await serverWith("tls", `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.ca}", verify: true }\n`);
    await connectWith(server, { NATS_TLS_CA: pki.ca, NATS_TLS_CERT: pki.clientCert, NATS_TLS_KEY: pki.clientKey });
    // Without a client certificate the server refuses the handshake (so the one above was shown).
    await expect(connect({ servers: server.url, tls: { caFile: pki.ca }, timeout: 3000 })).rejects.toThrow();
  });
});

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function makeCertificates(base: string) {
  const f = (name: string) => join(base, name);
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...key, "-keyout", f("ca-key.pem"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=veriflow test CA"]);
  // nats.js on Node checks an IP server against "localhost" (no SNI for an IP): name both.
  await writeFile(f("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  await writeFile(f("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    await run("openssl", ["req", ...key, "-keyout", f(`${who}-key.pem`), "-out", f(`${who}.csr`), "-subj", `/CN=veriflow test ${who}`]);
    await run("openssl", ["x509", "-req", "-in", f(`${who}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"), "-CAcreateserial", "-out", f(`${who}.pem`), "-days", "1", "-extfile", f(`${who}.ext`)]);
  }
  return { ca: f("ca.pem"), serverCert: f("server.pem"), serverKey: f("server-key.pem"), clientCert: f("client.pem"), clientKey: f("client-key.pem") };
}
