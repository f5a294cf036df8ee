import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load } from "js-yaml";

/**
 * The PromQL deploy/ ships: every alert rule's expression and every Grafana panel target's.
 * The tests check them against what the services export, so a renamed metric cannot leave
 * an alert silent or a panel empty.
 */
const file = (path: string) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8");

export interface Query {
  /** Where it is used: "alert VeriflowDeadLetters", "panel Dead letters". */
  where: string;
  expr: string;
}

export function alertQueries(): Query[] {
  const rules = load(file("./alerts.yml")) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

export function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(file("../grafana/veriflow.json")) as { panels: Panel[] };
  const all = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...all(p.panels ?? [])]);
  return all(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.title}`, expr: t.expr })));
}

/**
 * The metric names an expression reads, as exported (a histogram's `_bucket` / `_count`
 * included): veriflow's own and Node's process metrics. `up` is Prometheus' own.
 */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set(withoutStrings.match(/\b(?:veriflow|process|nodejs)_[a-zA-Z0-9_]+/g) ?? [])];
}
