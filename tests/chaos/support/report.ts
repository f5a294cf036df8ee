import { FAULT_COUNTS, type Audit, type Counts } from "./audit.js";
import { unaskedRedeliveries, type Redelivered } from "./redeliveries.js";

/** One scenario's outcome: its audit, or the error that kept the harness from running it. */
export interface ScenarioResult {
  name: string;
  fault: string;
  kills: number;
  seconds: number;
  audit: Audit | null;
  drain: string;
  error: string | null;
  /** Messages each consumer received more than once, and the retries it asked for (redeliveries.ts); null when not counted. */
  redeliveries?: Record<string, Redelivered> | null;
  /** The scenario allows none (a stall, not a death). */
  noExtraAttempts?: boolean;
}

const extraAttempts = (r: ScenarioResult) => unaskedRedeliveries(r.redeliveries ?? {});

export const out = (line = "") => process.stdout.write(line + "\n");

const COLUMNS: (keyof Counts)[] = ["submitted", "accepted", "completed", "failed", ...FAULT_COUNTS];

export const passed = (r: ScenarioResult) =>
  r.error === null && r.audit !== null && FAULT_COUNTS.every((k) => r.audit!.counts[k] === 0) && !(r.noExtraAttempts && extraAttempts(r) > 0);

/** The table of counts per scenario, a totals row, then each scenario's notes. */
export function printReport(results: readonly ScenarioResult[], totalS: number): void {
  const nameW = Math.max(10, ...results.map((r) => r.name.length));
  const head = ["scenario".padEnd(nameW), ...COLUMNS.map((c) => c.padStart(Math.max(6, c.length))), "kills".padStart(5), "time".padStart(6), "result"];
  out(head.join(" "));
  const totals = Object.fromEntries(COLUMNS.map((c) => [c, 0])) as Record<keyof Counts, number>;
  let kills = 0;
  for (const r of results) {
    kills += r.kills;
    const cells = COLUMNS.map((c) => {
      const v = r.audit?.counts[c];
      if (v !== undefined) totals[c] += v;
      return (v === undefined ? "-" : String(v)).padStart(Math.max(6, c.length));
    });
    out([r.name.padEnd(nameW), ...cells, String(r.kills).padStart(5), `${r.seconds.toFixed(0)}s`.padStart(6), r.error ? "ERROR" : passed(r) ? "pass" : "FAIL"].join(" "));
  }
  const failedCount = results.filter((r) => !passed(r)).length;
  out(
    [
      "TOTAL".padEnd(nameW),
      ...COLUMNS.map((c) => String(totals[c]).padStart(Math.max(6, c.length))),
      String(kills).padStart(5),
      `${totalS.toFixed(0)}s`.padStart(6),
      failedCount ? `${failedCount} of ${results.length} failed` : "all passed",
    ].join(" "),
  );
  out();
  for (const r of results) {
    out(`${r.name}: ${r.fault}`);
    if (r.error) out(`  harness error: ${r.error}`);
    out(`  drain: ${r.drain}`);
    if (r.audit) {
      const a = r.audit;
      out(`  client: ${a.counts.accepted} accepted (202), ${a.sync} answered in-process (sync), ${a.refused} refused, ${a.unanswered} unanswered`);
      for (const n of a.notes) out(`  ${n}`);
      if (r.redeliveries) {
        const per = Object.entries(r.redeliveries).map(([d, n]) => `${d} ${n.redelivered} (${n.retried} retries)`).join(", ");
        out(`  redelivered messages: ${per}; not asked for: ${extraAttempts(r)}${r.noExtraAttempts ? ` (must be 0: ${extraAttempts(r) === 0 ? "ok" : "FAIL"})` : ""}`);
      }
    }
  }
}
