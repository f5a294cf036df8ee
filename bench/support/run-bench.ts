import { out } from "./output.js";
import type { ServiceLog } from "./service-log.js";

/**
 * A bench's entry: runs `main`, exits 0 when it returns; when it throws, prints why and the
 * services' log lines (a service that died during start-up says why there), stops the stack
 * and exits 1. Ctrl-C stops the stack too.
 */
export function runBench(main: () => Promise<void>, opts: { stack: () => { stop(): Promise<void> } | undefined; serviceLog: ServiceLog }): void {
  const stop = () => opts.stack()?.stop() ?? Promise.resolve();
  process.on("SIGINT", () => void stop().then(() => process.exit(130)));
  main().then(
    () => process.exit(0),
    async (err) => {
      out(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
      for (const l of opts.serviceLog.samples) out(`  ${l}`);
      await stop();
      process.exit(1);
    },
  );
}
