import type { Job } from "./api.js";

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressReporter {
  update(job: Job): void;
  /** How the job is followed (logged as a plain line where there is no bar). */
  following(via: "sse" | "poll"): void;
  /** Clears the bar (TTY) before the verdict is printed. */
  done(): void;
}

/** What a job's progress means (README: 10 hashed, 50 manifest checked, 100 completed). */
export function describeProgress(job: Pick<Job, "status" | "progress" | "failure">): string {
  if (job.status === "failed") return `failed at ${job.failure?.stage ?? "a stage"}${job.failure ? ` (${job.failure.code})` : ""}`;
  if (job.status === "completed") return "completed";
  if (job.progress >= 50) return "manifest checked, reading the chain";
  if (job.progress >= 10) return "hashed, checking the manifest";
  return job.status === "queued" ? "queued" : "hashing";
}

const WIDTH = 24;
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * Progress on stderr: on a terminal, one bar redrawn in place (plain ANSI: carriage return and
 * erase-line) with a spinner and the elapsed time; elsewhere (CI logs, pipes) one plain line
 * per change, so logs stay readable.
 */
export function createProgressReporter(
  sink: ProgressSink,
  jobId: string,
  opts: {
    enabled: boolean;
    now?: () => number;
    /** What the bar stands for ("job <id>" unless told: a folder's batches say how many files). */
    subject?: string;
    /** What the progress means (describeProgress unless told). */
    describe?: (job: Job) => string;
  },
): ProgressReporter {
  const now = opts.now ?? Date.now;
  const subject = opts.subject ?? `job ${jobId}`;
  const describe = opts.describe ?? describeProgress;
  const started = now();
  const elapsed = () => `${((now() - started) / 1000).toFixed(1)}s`;
  if (!opts.enabled) return { update() {}, following() {}, done() {} };

  if (!sink.isTTY) {
    return {
      following(via) {
        sink.write(`following ${subject} ${via === "sse" ? "through server-sent events" : "by polling (the server offers no event stream)"}\n`);
      },
      update(job) {
        sink.write(`progress ${String(job.progress).padStart(3)}% ${job.status}: ${describe(job)} (${subject}, ${elapsed()})\n`);
      },
      done() {},
    };
  }

  let current: Job | null = null;
  let frame = 0;
  const draw = () => {
    if (!current) return;
    const filled = Math.round((Math.max(0, Math.min(100, current.progress)) / 100) * WIDTH);
    const bar = `${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}`;
    const spin = current.status === "completed" || current.status === "failed" ? " " : SPINNER[frame++ % SPINNER.length];
    const line = `${spin} [${bar}] ${String(current.progress).padStart(3)}% ${describe(current)}  ${elapsed()}`;
    sink.write(`\r\x1b[2K${line.slice(0, Math.max(20, (sink.columns || 100) - 1))}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    update(job) {
      current = job;
      draw();
    },
    following() {},
    done() {
      clearInterval(timer);
      if (current) sink.write("\r\x1b[2K");
    },
  };
}
