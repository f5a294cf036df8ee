import type { Logger } from "./logger.js";

type Step = () => Promise<void> | void;

/**
 * Graceful shutdown: steps run in reverse order of registration (stop taking work,
 * finish in-flight work, then close connections). Signals are handled
 * once, in run-main.ts.
 */
export class Shutdown {
  private readonly steps: { name: string; run: Step }[] = [];
  private running: Promise<void> | undefined;
  constructor(private readonly log: Logger) {}

  add(name: string, run: Step): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (err) {
          this.log.error({ err, step: step.name }, "shutdown step failed");
        }
      }
    })();
    return this.running;
  }
}
