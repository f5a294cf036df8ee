import { pino, type Logger } from "pino";

export type { Logger };

/** One JSON logger per process; `service` names it in every line. */
export function createLogger(service: string, level: string = "info"): Logger {
  return pino({ name: service, level, base: { service } });
}

/** For tests and tools that want silence. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
