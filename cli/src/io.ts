import type { Env } from "./args.js";
import type { ProgressSink } from "./progress.js";

/** Where a command reads and writes: process streams in main.ts, buffers in tests. */
export interface Io {
  stdout: { write(text: string): unknown };
  /** Progress, hints and errors; `isTTY` picks the progress bar over plain lines. */
  stderr: ProgressSink;
  env: Env;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
}

export const printJson = (io: Io, value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);
