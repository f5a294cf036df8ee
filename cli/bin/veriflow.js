#!/usr/bin/env node
// The workspace's `veriflow` bin (node_modules/.bin/veriflow, `npx veriflow`): it exists before the
// build, so npm links it on install; the command itself is the build output.
try {
  await import("../dist/main.js");
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes("dist/main.js")) throw err;
  console.error("veriflow: the CLI is not built yet: run `npm run build` first");
  process.exit(70);
}
