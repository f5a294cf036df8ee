/**
 * What a fuzz run tried and what came back, per surface: how many inputs, how many ended
 * each way (status and code), and every input that broke a rule, with enough to replay it.
 */
export interface Problem {
  surface: string;
  input: string;
  problem: string;
}

export function createTally() {
  const surfaces = new Map<string, { tried: number; outcomes: Map<string, number> }>();
  const problems: Problem[] = [];
  const surface = (name: string) => {
    let s = surfaces.get(name);
    if (!s) surfaces.set(name, (s = { tried: 0, outcomes: new Map() }));
    return s;
  };
  return {
    problems,
    /** One input tried on `name`: how it ended, and the rule it broke if it broke one. */
    record(name: string, outcome: string, input: string, problem?: string) {
      const s = surface(name);
      s.tried += 1;
      s.outcomes.set(outcome, (s.outcomes.get(outcome) ?? 0) + 1);
      if (problem) problems.push({ surface: name, input, problem });
    },
    /** A rule broken by the run as a whole (a service not ready, a job stuck). */
    problem(name: string, problem: string) {
      problems.push({ surface: name, input: "(after the run)", problem });
    },
    problemsOf: (name: string) => problems.filter((p) => p.surface === name),
    /** The counts of every surface, and the problems of `only` (of all surfaces when not given). */
    report(seed: number, only?: string): string {
      const lines = [`fuzz run, seed ${seed} (replay: FUZZ_SEED=${seed})`];
      let total = 0;
      for (const [name, s] of surfaces) {
        total += s.tried;
        const top = [...s.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([o, n]) => `${o} ×${n}`);
        lines.push(`  ${name.padEnd(10)} ${String(s.tried).padStart(6)} inputs: ${top.join(", ")}${s.outcomes.size > 12 ? ", …" : ""}`);
      }
      lines.push(`  ${"total".padEnd(10)} ${String(total).padStart(6)} inputs, ${problems.length} problems`);
      const shown = problems.filter((p) => only === undefined || p.surface === only);
      for (const p of shown.slice(0, 40)) lines.push(`  ✗ [${p.surface}] ${p.problem}\n      input: ${p.input}`);
      if (shown.length > 40) lines.push(`  … and ${shown.length - 40} more`);
      return lines.join("\n");
    },
  };
}

export type Tally = ReturnType<typeof createTally>;

/** Runs `work` over `items`, `width` at a time, in order of start. */
export async function inPool<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
