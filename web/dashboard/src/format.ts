/** Display formatting, pure: unit-tested in format.test.ts. */

/** "4 s", "3 min", "2 h", "5 d" from a duration in ms (never negative). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** A schedule's period in the largest unit that divides it: "6 h", "1 d", "90 min", "45 s". */
export function formatPeriod(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** A latency: "850 ms", "1.2 s", "2.5 min"; "–" when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** "512 B", "1.5 KB", "2.0 MB" (1024-based, as file managers show sizes). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A long hex value shortened for a table cell: "0x3fa2…9c1e". */
export function shortHex(value: string | null | undefined, keep = 6): string {
  if (!value) return "–";
  return value.length <= keep * 2 + 3 ? value : `${value.slice(0, keep)}…${value.slice(-4)}`;
}

/** A whole number with thousands separators. */
export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en");
}

/** A time of day (UTC, as the services log it): "14:03:27". */
export function formatClock(iso: string): string {
  return new Date(iso).toISOString().slice(11, 19);
}

/** What the search box holds: a job id (uuid), a content hash (0x + 64 hex), or neither. */
export type SearchTerm = { kind: "jobId"; value: string } | { kind: "contentHash"; value: string } | { kind: "invalid"; value: string } | { kind: "none" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HASH = /^(0x)?[0-9a-f]{64}$/i;

export function parseSearch(raw: string): SearchTerm {
  const value = raw.trim();
  if (value === "") return { kind: "none" };
  if (UUID.test(value)) return { kind: "jobId", value: value.toLowerCase() };
  if (HASH.test(value)) return { kind: "contentHash", value: `0x${value.slice(-64).toLowerCase()}` };
  return { kind: "invalid", value };
}
