import { serviceNames } from "@veriflow/events";

/**
 * The services' log lines (the bench runs them at LOG_LEVEL=warn, so warnings and errors):
 * counted per service, the first few of each kept for the summary. The stack's own lines
 * ("nats-server  started on …") are not service lines and are dropped.
 */
export function createServiceLog() {
  const counts = new Map<string, number>();
  const samples: string[] = [];
  const services = new Set<string>(serviceNames);
  return {
    counts,
    samples,
    /** The `print` given to the local stack: its lines start with the service name padded to 11. */
    print(line: string): void {
      const name = line.slice(0, 11).trim();
      if (!services.has(name)) return;
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (samples.filter((l) => l.startsWith(name)).length < 5) samples.push(line.slice(0, 400));
    },
  };
}

export type ServiceLog = ReturnType<typeof createServiceLog>;
