/** The pipeline view's arithmetic, pure: unit-tested in pipeline-series.test.ts. */

/** Each consumer's acknowledged count at one moment. */
export interface Sample {
  at: number;
  acked: Record<string, number>;
}

/** Messages acknowledged per second between two samples, per consumer; a counter that went back (a recreated consumer) reads 0. */
export function rates(prev: Sample, next: Sample): Record<string, number> {
  const seconds = (next.at - prev.at) / 1000;
  const out: Record<string, number> = {};
  if (seconds <= 0) return out;
  for (const [name, n] of Object.entries(next.acked)) {
    const before = prev.acked[name];
    if (before !== undefined) out[name] = Math.max(0, n - before) / seconds;
  }
  return out;
}

/**
 * Per-minute counts as uPlot's columns ([seconds], [completed], [failed]), one point for every
 * minute from `since` to `now` (minutes with nothing finished are 0, not a gap).
 */
export function minuteSeries(minutes: { minute: string; completed: number; failed: number }[], since: number, now: number): [number[], number[], number[]] {
  const byMinute = new Map(minutes.map((m) => [Math.floor(Date.parse(m.minute) / 60_000), m]));
  const xs: number[] = [];
  const completed: number[] = [];
  const failed: number[] = [];
  for (let m = Math.floor(since / 60_000); m <= Math.floor(now / 60_000); m++) {
    const row = byMinute.get(m);
    xs.push(m * 60);
    completed.push(row?.completed ?? 0);
    failed.push(row?.failed ?? 0);
  }
  return [xs, completed, failed];
}
