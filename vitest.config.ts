import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run from source: each @veriflow/* library resolves to its src/index.ts,
// so `npm test` never tests a stale build of a library.
const libs = ["events", "errors", "platform", "nats", "http", "pg", "verify", "adapters", "testing", "contracts", "grpc"];

export default defineConfig({
  resolve: {
    alias: Object.fromEntries(
      libs.map((l) => [`@veriflow/${l}`, fileURLToPath(new URL(`./libs/${l}/src/index.ts`, import.meta.url))]),
    ),
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
