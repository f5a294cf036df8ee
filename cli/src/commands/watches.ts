import { createApiClient } from "../api.js";
import type { Command } from "../args.js";
import { EXIT, exitCodeForJob } from "../exit-codes.js";
import { formatJob, formatWatchList } from "../format.js";
import { printJson, type Io } from "../io.js";
import { createWatchWithRetries } from "../retrying-submit.js";
import { followWithProgress, tellRetry } from "./verify.js";

type WatchCommand = Extract<Command, { kind: "watch" | "watches" | "unwatch" }>;

/** `veriflow watch <hash>`, `veriflow watches`, `veriflow unwatch <id>`: a watch's id is its job's, so --wait follows it as `verify --wait` does. */
export async function runWatches(cmd: WatchCommand, io: Io): Promise<number> {
  const api = createApiClient(cmd.common);
  const { json, quiet } = cmd.common;
  switch (cmd.kind) {
    case "watch": {
      const input = { contentHash: cmd.contentHash, manifestUri: cmd.manifestUri, registryAddress: cmd.registry, callbackUrl: cmd.callbackUrl, recheckEvery: cmd.recheckEvery };
      const answer = await createWatchWithRetries(api, input, { retryForMs: cmd.retryForMs, signal: io.signal, onWait: tellRetry(io, quiet) });
      if (!cmd.wait) {
        if (json) printJson(io, answer);
        else io.stdout.write(`${answer.watchId}\n`);
        if (!quiet && !json) io.stderr.write(`watching ${cmd.contentHash}: read it with veriflow jobs get ${answer.watchId}, stop it with veriflow unwatch ${answer.watchId}\n`);
        return EXIT.OK;
      }
      if (!quiet) io.stderr.write(`watch ${answer.watchId}: first verification queued\n`);
      const job = await followWithProgress(io, api, answer.watchId, cmd.timeoutMs, quiet);
      if (json) printJson(io, { ...answer, job });
      else io.stdout.write(formatJob(job));
      return exitCodeForJob(job);
    }
    case "watches": {
      const page = await api.listWatches({ ...(cmd.active === undefined ? {} : { active: cmd.active }), ...(cmd.limit ? { limit: cmd.limit } : {}), ...(cmd.offset ? { offset: cmd.offset } : {}) });
      if (json) printJson(io, page);
      else io.stdout.write(formatWatchList(page));
      return EXIT.OK;
    }
    case "unwatch": {
      await api.deleteWatch(cmd.id);
      if (json) printJson(io, { watchId: cmd.id, active: false });
      else io.stdout.write(`watch ${cmd.id} stopped\n`);
      return EXIT.OK;
    }
  }
}
