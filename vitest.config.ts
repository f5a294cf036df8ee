import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

// Tests run from source: each @veriflow/* library resolves to its src/index.ts,
// so `npm test` never tests a stale build of a library.
const libs = ["api", "events", "errors", "platform", "tracing", "pipeline", "nats", "http", "pg", "verify", "adapters", "testing", "contracts", "grpc", "auth"];

const roots = ["libs/*/src", "services/*/src", "tests", "deploy", "cli/src", "examples", "web/dashboard/src"];
const filesEndingIn = (suffix: string) => roots.map((root) => `${root}/**/*${suffix}`);

// Integration files that only need the whole system with its default env (systemTest from
// tests/support/shared-system.ts) and leave it as they found it. The "system" project runs them
// one after another in one worker without isolation, so they share one system instead of
// booting one each. A file that stops or restarts a server, or needs other env, starts its own
// (startSystem(env)) and belongs in "integration".
const sharedSystemFiles = [
  "tests/e2e/pipeline.int.test.ts",
  "tests/e2e/webhooks.int.test.ts",
  "tests/e2e/reverify.int.test.ts",
  "tests/e2e/known-verdicts.int.test.ts",
  "tests/e2e/hostile-input.int.test.ts",
  "tests/e2e/metrics.int.test.ts",
  "tests/e2e/tracing-off.int.test.ts",
  "cli/src/cli.int.test.ts",
  "examples/completion-subscriber/src/subscriber.int.test.ts",
];

export default defineConfig({
  resolve: {
    alias: [
      ...libs.map((l) => ({ find: `@veriflow/${l}`, replacement: fileURLToPath(new URL(`./libs/${l}/src/index.ts`, import.meta.url)) })),
      // A stage's module (`@veriflow/<stage>/stage`), as the in-process runner loads it by name, and
      // a service's schema (`@veriflow/<service>/schema`), as `veriflow setup` imports it.
      { find: /^@veriflow\/([a-z-]+)\/(stage|schema)$/, replacement: fileURLToPath(new URL("./services/$1/src/$2.ts", import.meta.url)) },
    ],
  },
  test: {
    // Integration tests start real servers (nats-server, PostgreSQL, a chain): give them room.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    projects: [
      // *.test.ts: handlers and domain logic with plain fakes, no I/O, no build needed.
      { extends: true, test: { name: "unit", include: filesEndingIn(".test.ts"), exclude: [...configDefaults.exclude, "**/*.int.test.ts"] } },
      // *.int.test.ts: real nats-server, PostgreSQL, chain and HTTP, one set per file.
      { extends: true, test: { name: "integration", include: filesEndingIn(".int.test.ts"), exclude: [...configDefaults.exclude, ...sharedSystemFiles] } },
      { extends: true, test: { name: "system", include: sharedSystemFiles, isolate: false } },
    ],
  },
});
