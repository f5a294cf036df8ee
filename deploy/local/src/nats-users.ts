import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { natsUsers } from "@veriflow/events";

/**
 * The nats-server config every deployment runs: the veriflow account, one user per service
 * and their permissions, generated from the pipeline descriptor (`npm run generate:nats-config`).
 */
export const NATS_CONFIG_FILE = fileURLToPath(new URL("../../nats/nats-server.conf", import.meta.url));

/** A password per user of that config, by the variable nats-server reads it from (NATS_<USER>_PASSWORD). */
export type NatsPasswords = Record<string, string>;

/**
 * Random passwords nats-server can take from its environment: it parses a variable's value as
 * a config value, so one must read as a plain string (a leading letter, then letters, digits,
 * `-` and `_`): `123…` would be a number, `1e5…` or `9-…` a parse error.
 */
export function createNatsPasswords(): NatsPasswords {
  return Object.fromEntries(natsUsers().map((u) => [u.passwordVariable, `p${randomBytes(24).toString("base64url")}`]));
}

/** How a process connects as `user` (a service's name, `subscriber` or `admin`). */
export function natsUserEnv(user: string, passwords: NatsPasswords): { NATS_USER: string; NATS_PASSWORD: string } {
  const entry = natsUsers().find((u) => u.user === user);
  const password = entry && passwords[entry.passwordVariable];
  if (password === undefined) throw new Error(`no NATS user "${user}" in ${NATS_CONFIG_FILE}`);
  return { NATS_USER: user, NATS_PASSWORD: password };
}

export const NATS_PASSWORDS_FILE = "nats-passwords.json";

/**
 * `npm start`'s passwords: made on the first start and kept in <dataDir>/nats-passwords.json
 * (mode 600), so tools on this machine (the nats CLI as admin, a subscriber) can log in across
 * restarts; a user the config gained since gets one.
 */
export async function loadNatsPasswords(dataDir: string): Promise<NatsPasswords> {
  const file = join(dataDir, NATS_PASSWORDS_FILE);
  const kept = await readFile(file, "utf8").then((s) => JSON.parse(s) as NatsPasswords, (): NatsPasswords => ({}));
  const passwords = { ...createNatsPasswords(), ...kept };
  if (Object.keys(passwords).some((v) => kept[v] === undefined)) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600 });
  }
  return passwords;
}
