import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * One registry per process. Libraries define their metrics and register them here
 * when a composition root asks (`registerMetrics`), so importing a module has no
 * side effect and a process that starts several services (the test system) registers
 * each metric once.
 */
export const metricsRegistry = new Registry();

let defaultsCollected = false;

/** Node's default process metrics (heap, event loop lag, GC); called once by runMain. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** Registers metrics in the process registry, skipping any already there. */
export function registerMetrics(...metrics: Parameters<Registry["registerMetric"]>[0][]): void {
  for (const m of metrics) {
    const name = (m as unknown as { name: string }).name;
    if (!metricsRegistry.getSingleMetric(name)) metricsRegistry.registerMetric(m);
  }
}
