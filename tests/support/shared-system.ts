import { test } from "vitest";
import { startSystem } from "./system.js";

/**
 * The whole system with its default env as a worker-scoped fixture: started on first use in a
 * vitest worker, stopped when that worker ends. Use it from a suite hook:
 *
 *   systemTest.beforeAll(({ system }) => { sys = system; });
 *
 * The "system" project of vitest.config.ts runs its files in one worker without isolation, so
 * they all get the same system (one nats-server, database, chain, manifest server and set of
 * services) instead of starting one each; anywhere else (another project, one file on its own)
 * a file's worker starts its own. A file using it must leave the system as it found it: no
 * stopped services or servers, fresh content and job ids for its own data.
 */
export const systemTest = test.extend("system", { scope: "worker" }, async ({}, { onCleanup }) => {
  const system = await startSystem();
  onCleanup(() => system.stop());
  return system;
});
