import postgres from "postgres";
import { queryJobs } from "../../services/status/src/job-list.js";
import type { JobCursor } from "../../services/status/src/job-cursor.js";
import type { JobFilter } from "../../services/status/src/job-filter.js";
import { fmt, out } from "./output.js";
import { SCALE_TENANT, type DeepPosition } from "./scale-data.js";

export interface FilterPlan {
  name: string;
  /** The indexes the plan reads. */
  indexes: string[];
  /** A Seq Scan or a Sort in the plan: the page's cost then grows with the table. */
  flat: boolean;
  /** Rows the plan's scans returned (what the page cost). */
  rowsRead: number;
  ms: number;
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}

/**
 * EXPLAIN ANALYZE of the very statement ListJobs (and the REST list) runs for each filter the
 * list supports, alone and combined, first page and after a cursor deep in the table: the SQL
 * is taken from the status service's own queryJobs (postgres.js's debug hook), not restated.
 */
export async function explainFilterPlans(databaseUrl: string, deep: DeepPosition): Promise<FilterPlan[]> {
  let captured: { query: string; params: unknown[] } | undefined;
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, debug: (_c, query, params) => (captured = { query, params: params as unknown[] }) });
  try {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    const cases: [string, JobFilter, JobCursor?][] = [
      ["no filter", {}],
      ["status=completed", { status: "completed" }],
      ["status=failed", { status: "failed" }],
      ["status=queued", { status: "queued" }],
      ["type=proof", { type: "proof" }],
      ["status=failed, type=proof", { status: "failed", type: "proof" }],
      ["content hash", { contentHash: deep.contentHash }],
      ["content hash, status=failed", { contentHash: deep.contentHash, status: "failed" }],
      ["created in the last hour", { createdAfter: hoursAgo(1) }],
      ["status=completed, created before 3 days ago", { status: "completed", createdBefore: hoursAgo(72) }],
      ["type=verify, a 1-hour window 2 days ago", { type: "verify", createdAfter: hoursAgo(49), createdBefore: hoursAgo(48) }],
      ["status=completed, after a deep cursor", { status: "completed" }, deep],
      ["no filter, after a deep cursor", {}, deep],
      ["status=failed, type=proof, after a deep cursor", { status: "failed", type: "proof" }, deep],
    ];
    const plans: FilterPlan[] = [];
    for (const [name, filter, after] of cases) {
      await queryJobs(sql, SCALE_TENANT, filter, { limit: 20, after });
      const { query, params } = captured!;
      const [row] = await sql.unsafe<[{ "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }] }]>(`explain (analyze, format json) ${query}`, params as never[]);
      const { Plan, "Execution Time": ms } = row["QUERY PLAN"][0];
      const nodes = flatten(Plan);
      plans.push({
        name,
        indexes: [...new Set(nodes.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : [])))],
        flat: !nodes.some((n) => n["Node Type"] === "Seq Scan" || n["Node Type"] === "Sort" || n["Node Type"].startsWith("Bitmap")),
        rowsRead: nodes.filter((n) => n["Node Type"].includes("Scan")).reduce((a, n) => a + (n["Actual Rows"] ?? 0) * (n["Actual Loops"] ?? 1) + (n["Rows Removed by Filter"] ?? 0), 0),
        ms,
      });
    }
    return plans;
  } finally {
    await sql.end();
  }
}

export function printFilterPlans(plans: FilterPlan[]): void {
  out(`  EXPLAIN ANALYZE of each list filter (page of 20, tenant ${SCALE_TENANT}):`);
  for (const p of plans) {
    out(`    ${p.name.padEnd(48)} ${fmt(p.ms, 2).padStart(7)} ms  ${String(p.rowsRead).padStart(7)} rows read  ${p.flat ? "index order" : "SCAN/SORT  "}  ${p.indexes.join(", ") || "-"}`);
  }
}

function flatten(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(flatten)];
}
