/** The bench's figures go to stdout, one line each, so a run can be kept with `> file`. */
export function out(line = ""): void {
  process.stdout.write(line + "\n");
}

/** A figure with `digits` decimals, or "n/a" when it could not be measured (NaN, Infinity). */
export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
