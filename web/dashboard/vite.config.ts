import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

/**
 * The operator dashboard: built into dist/ (root `npm run build`), which the gateway serves at
 * /dashboard from memory. Everything is bundled (no CDN); asset names carry their content hash,
 * so the gateway caches them for a year and revalidates only index.html.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/dashboard/",
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles: the gateway's Content-Security-Policy allows only files of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
