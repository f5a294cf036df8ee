#!/usr/bin/env node
import { run } from "./run.js";

// The `veriflow` command: the only file that touches process (argv, env, streams, signals, exit).
const interrupt = new AbortController();
process.once("SIGINT", () => interrupt.abort());
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0); // `veriflow jobs list | head`
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupt.signal,
});
