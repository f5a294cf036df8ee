/**
 * What every generator of a committed file shares (the OpenAPI document, the errors doc, the
 * NATS config, the Kubernetes base): rendered text compared with the file, written on demand,
 * and a `--check` mode for CI. Each generator says what it renders; this says what happens.
 */
import { readFile, writeFile } from "node:fs/promises";
import { relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A file a generator owns: where it goes and what it must hold. */
export interface GeneratedFile {
  path: string;
  render: () => string;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const shown = (path: string) => relative(ROOT, path);

/** The generated files whose committed text differs from what is rendered now (empty: all current). */
export async function staleFiles(files: readonly GeneratedFile[]): Promise<string[]> {
  const stale: string[] = [];
  for (const f of files) if ((await readFile(f.path, "utf8").catch(() => undefined)) !== f.render()) stale.push(shown(f.path));
  return stale;
}

/**
 * A generator's command line: with `--check`, exit 1 naming the stale files (and `npm run
 * <command>`, which writes them); otherwise write them. Runs only when `moduleUrl` is the
 * script node was started with, so tests can import the generator's functions.
 */
export async function runGenerator(moduleUrl: string, command: string, files: () => readonly GeneratedFile[]): Promise<void> {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const all = files();
  if (process.argv.includes("--check")) {
    const stale = await staleFiles(all);
    if (stale.length > 0) {
      console.error(`${stale.join(", ")} ${stale.length === 1 ? "is" : "are"} stale: run \`npm run ${command}\` and commit the result`);
      process.exit(1);
    }
    console.log(`${all.map((f) => shown(f.path)).join(", ")}: up to date`);
    return;
  }
  for (const f of all) await writeFile(f.path, f.render());
  console.log(`wrote ${all.map((f) => shown(f.path)).join(", ")}`);
}
