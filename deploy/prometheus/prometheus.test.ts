import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { load } from "js-yaml";
import { opsPortOf, serviceNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { alertQueries, dashboardQueries, metricNamesIn } from "./queries.js";

const run = promisify(execFile);
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

describe("prometheus.yml", () => {
  const config = load(readFileSync(here("./prometheus.yml"), "utf8")) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };

  it("scrapes every service of the pipeline descriptor on its ops port, one job each, and loads the alerts", () => {
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));
    expect(Object.keys(jobs).sort()).toEqual(serviceNames.map((s) => `veriflow-${s}`).sort());
    for (const service of serviceNames) expect(jobs[`veriflow-${service}`], service).toEqual([`${service}:${opsPortOf(service)}`]);
    expect(config.rule_files).toEqual(["alerts.yml"]);
  });
});

describe("alert and dashboard queries", () => {
  it("read veriflow's metrics by the names they are exported under", () => {
    const queries = [...alertQueries(), ...dashboardQueries()];
    expect(queries.length).toBeGreaterThan(20);
    // Each reads at least one of veriflow's or Node's metrics, or Prometheus' own `up`.
    for (const q of queries) expect(metricNamesIn(q.expr).length > 0 || /^up\{/.test(q.expr), q.where).toBe(true);
    expect(metricNamesIn('sum(rate(veriflow_x_total{route="/a_b"}[5m])) / veriflow_y')).toEqual(["veriflow_x_total", "veriflow_y"]);
  });

  it("the dashboard picks its Prometheus from a datasource variable", () => {
    const dashboard = JSON.parse(readFileSync(here("../grafana/veriflow.json"), "utf8")) as {
      templating: { list: { type: string; name: string; query: string }[] };
      panels: { type: string; datasource?: { uid: string } }[];
    };
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ type: "datasource", name: "datasource", query: "prometheus" }));
    for (const p of dashboard.panels.filter((x) => x.type !== "row")) expect(p.datasource?.uid).toBe("${datasource}");
  });
});

// promtool ships with Prometheus (Debian: the prometheus package; .ci/run installs it and sets
// VERIFLOW_REQUIRE_PROMTOOL=1, so CI fails rather than skips without it).
const promtool = await run("promtool", ["--version"]).then(
  () => true,
  () => false,
);
const required = process.env.VERIFLOW_REQUIRE_PROMTOOL === "1";
if (!promtool) console.warn(`promtool not found: the alert rule tests are ${required ? "FAILING (VERIFLOW_REQUIRE_PROMTOOL=1)" : "SKIPPED"}`);

describe("promtool", () => {
  it.runIf(!promtool && required)("is installed (VERIFLOW_REQUIRE_PROMTOOL=1)", () => {
    expect.fail("promtool is not on PATH: install Prometheus' promtool (Debian package prometheus)");
  });

  describe.skipIf(!promtool)("with promtool", () => {
    const promtoolIn = (args: string[]) => run("promtool", args, { cwd: here(".") });

    it("accepts the scrape config and its rule files", async () => {
      const { stdout } = await promtoolIn(["check", "config", "prometheus.yml"]);
      expect(stdout).toContain(`SUCCESS: ${alertQueries().length} rules found`);
    });

    it("passes the alert rules' unit tests: each alert fires and stays silent as alerts.test.yml expects", async () => {
      const { stdout, stderr } = await promtoolIn(["test", "rules", "alerts.test.yml"]);
      expect(`${stdout}${stderr}`).toMatch(/SUCCESS/);
    });

    it("has a unit test for every alert", () => {
      const tests = readFileSync(here("./alerts.test.yml"), "utf8");
      for (const { where } of alertQueries()) expect(tests, where).toContain(`alertname: ${where.replace("alert ", "")}`);
    });
  });
});
