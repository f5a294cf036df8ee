import { Gauge, type LabelValues } from "prom-client";

/**
 * A reading taken when Prometheus scrapes (a gauge's `collect()`), never on the hot path:
 * reused for `ttlMs`, shared by concurrent scrapes, and bounded by `timeoutMs` so a slow
 * source (JetStream, PostgreSQL) never holds `/metrics`. A read that times out keeps going
 * and its answer serves the next scrape; a failed or late one answers `undefined`, and the
 * gauges fed by it then export no series (absent, not a stale value dressed as current).
 */
export interface ScrapeReading<T> {
  /** The cached value while fresh, else a new reading within the timeout; undefined when none came. */
  get(): Promise<T | undefined>;
}

export interface ScrapeReadingOptions {
  /** How long a reading is reused (default 5 s: Prometheus scrapes every 15 s, replicas and dashboards add a few). */
  ttlMs?: number;
  /** The longest a scrape waits for a new reading (default 2 s). */
  timeoutMs?: number;
  /** Told about a failed read (a debug log): the scrape itself never fails for it. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

export function createScrapeReading<T>(read: () => Promise<T>, opts: ScrapeReadingOptions = {}): ScrapeReading<T> {
  const ttlMs = opts.ttlMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const now = opts.now ?? Date.now;
  let last: { at: number; value: T } | undefined;
  let reading: Promise<T | undefined> | undefined;

  const start = () =>
    (reading ??= read()
      .then((value) => {
        last = { at: now(), value };
        return value;
      })
      .catch((err: unknown) => {
        opts.onError?.(err);
        return undefined;
      })
      .finally(() => (reading = undefined)));

  return {
    async get() {
      if (last && now() - last.at < ttlMs) return last.value;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
        timer.unref();
      });
      try {
        return await Promise.race([start(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface ScrapedGaugeOptions<T, L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** The reading the gauge exports (looked up on each scrape: a composition root sets it after the gauge exists). */
  reading: () => ScrapeReading<T> | undefined;
  /** Sets the gauge's series from a reading; none are left from the scrape before. */
  update: (value: T, set: (labels: LabelValues<L>, value: number) => void) => void;
}

/** A gauge whose series are a scrape reading's: reset on every scrape, none while there is no reading. */
export function createScrapedGauge<T, L extends string = string>(opts: ScrapedGaugeOptions<T, L>): Gauge<L> {
  return new Gauge<L>({
    name: opts.name,
    help: opts.help,
    labelNames: opts.labelNames ?? [],
    registers: [],
    async collect() {
      this.reset();
      const value = await opts.reading()?.get();
      if (value !== undefined) opts.update(value, (labels, v) => this.set(labels, v));
    },
  });
}
