import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/**
 * A real Chromium for the dashboard's tests, screenshots and bench: Debian's `chromium`
 * package driven by playwright-core (no browser download). CHROMIUM_PATH overrides where.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Why the browser cannot run here, or null when it can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

/** Headless, sandbox off (containers run as root), nothing phoning home; a fresh temporary profile each launch. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Builds the dashboard from its sources (vite's JS API) into a new temporary directory, for a
 * gateway started with GATEWAY_DASHBOARD_DIR there: a clean clone has no dist, and a test
 * should see the sources as they are, not a build left from before.
 */
export async function buildDashboard(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), "veriflow-dashboard-build-"));
  const { build } = await import("vite");
  await build({
    configFile: fileURLToPath(new URL("../../web/dashboard/vite.config.ts", import.meta.url)),
    build: { outDir, emptyOutDir: true },
    logLevel: "error",
  });
  return outDir;
}

/** Opens the dashboard and enters `key` on its key form; resolves once the jobs table shows. */
export async function signIn(page: Page, gatewayUrl: string, key: string, path = "/dashboard/"): Promise<void> {
  await page.goto(`${gatewayUrl}${path}`);
  await page.getByTestId("api-key").fill(key);
  await page.getByTestId("sign-in").click();
  await page.getByTestId("nav-jobs").waitFor();
}

/** Drops a file on an element as a person drags one from their desktop (a DataTransfer with a File). */
export async function dropFile(page: Page, selector: string, name: string, content: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    dt.items.add(new File([${JSON.stringify(content)}], ${JSON.stringify(name)}, { type: "text/plain" }));
    return dt;
  })()`);
  await page.dispatchEvent(selector, "dragover", { dataTransfer });
  await page.dispatchEvent(selector, "drop", { dataTransfer });
}
