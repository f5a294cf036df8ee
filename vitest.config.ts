import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run from source: each @veriflow/* library resolves to its src/index.ts,
// so `npm test` never tests a stale build of a library.
const libs = ["events", "errors", "platform", "pipeline", "nats", "http", "pg", "verify", "adapters", "testing", "contracts", "grpc"];

export default defineConfig({
  resolve: {
    alias: [
      ...libs.map((l) => ({ find: `@veriflow/${l}`, replacement: fileURLToPath(new URL(`./libs/${l}/src/index.ts`, import.meta.url)) })),
      // A stage's module (`@veriflow/<stage>/stage`), as the in-process runner loads it by name.
      { find: /^@veriflow\/([a-z-]+)\/stage$/, replacement: fileURLToPath(new URL("./services/$1/src/stage.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "tests/**/*.test.ts", "deploy/**/*.test.ts", "cli/src/**/*.test.ts", "examples/**/*.test.ts"],
    // Integration tests start real servers (nats-server, PostgreSQL, a chain): give them room.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
