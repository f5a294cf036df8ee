import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { serviceNames, stageNames } from "@veriflow/events";
import { describe, expect, it } from "vitest";

// What a new service or stage needs besides the descriptor, checked here so a missing
// piece fails a test instead of a deployment.
const root = fileURLToPath(new URL("../../", import.meta.url));
const readJson = (path: string) => JSON.parse(readFileSync(`${root}${path}`, "utf8")) as Record<string, any>;

describe("the workspace agrees with the pipeline descriptor", () => {
  it("has a folder with a service definition and a main for every service", () => {
    for (const name of serviceNames) {
      expect(existsSync(`${root}services/${name}/src/service.ts`), name).toBe(true);
      expect(existsSync(`${root}services/${name}/src/main.ts`), name).toBe(true);
    }
  });

  it("has no service folder the descriptor does not name", () => {
    expect(readdirSync(`${root}services`).sort()).toEqual([...serviceNames].sort());
  });

  it("exports every stage's module as @veriflow/<stage>/stage (how the in-process runner finds it)", () => {
    for (const stage of stageNames) {
      const pkg = readJson(`services/${stage}/package.json`);
      expect(pkg.name).toBe(`@veriflow/${stage}`);
      expect(pkg.exports?.["./stage"]?.default, stage).toBe("./dist/stage.js");
      expect(existsSync(`${root}services/${stage}/src/stage.ts`), stage).toBe(true);
    }
  });

  it("builds every workspace: the root tsconfig references each one", () => {
    const referenced = new Set((readJson("tsconfig.json").references as { path: string }[]).map((r) => r.path));
    const workspaces = ["libs", "services", "examples"].flatMap((dir) => readdirSync(`${root}${dir}`).map((name) => `${dir}/${name}`));
    for (const ws of [...workspaces, "deploy/local", "cli"].filter((w) => existsSync(`${root}${w}/tsconfig.json`))) {
      expect(referenced.has(ws), `${ws} is missing from the root tsconfig.json references`).toBe(true);
    }
  });
});
