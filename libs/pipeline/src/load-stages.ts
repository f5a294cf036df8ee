import { stageNames, type StageName } from "@veriflow/events";
import { EnvReader, type Env } from "@veriflow/platform";
import type { StageHandlers, StageModule, StageRuntime } from "./stage-module.js";

export type StageModules = { [S in StageName]: StageModule<S> };

/**
 * Every stage's module, found by the pipeline descriptor: `@veriflow/<service>/stage`
 * (each stage service's `src/stage.ts`). A stage added to the descriptor is picked up
 * here with no edit; one whose package does not export its module fails loudly.
 */
export async function loadStageModules(): Promise<StageModules> {
  const entries = await Promise.all(
    stageNames.map(async (stage) => {
      const specifier = `@veriflow/${stage}/stage`;
      const mod = (await import(specifier)) as { stageModule?: StageModule };
      if (mod.stageModule?.stage !== stage) throw new Error(`${specifier} does not export the stageModule of "${stage}"`);
      return [stage, mod.stageModule] as const;
    }),
  );
  return Object.fromEntries(entries) as StageModules;
}

export interface InProcessStages {
  handlers: StageHandlers;
  close(): Promise<void>;
}

/**
 * Builds every stage for in-process use, each with the settings its own service reads
 * from the same environment (RPC_URL, IPFS_GATEWAYS, …). Throws one ConfigError listing
 * every problem.
 */
export async function createInProcessStages(env: Env, runtime: StageRuntime, modules?: StageModules): Promise<InProcessStages> {
  const all = modules ?? (await loadStageModules());
  const r = new EnvReader(env);
  const settings = stageNames.map((stage) => [stage, all[stage].readSettings(r)] as const);
  r.done();
  const instances = settings.map(([stage, s]) => [stage, (all[stage] as StageModule).create(s, runtime)] as const);
  return {
    handlers: Object.fromEntries(instances.map(([stage, i]) => [stage, i.handle])) as unknown as StageHandlers,
    async close() {
      await Promise.allSettled(instances.map(([, i]) => i.close()));
    },
  };
}
