import { createServer } from "node:net";
import { findFreePort } from "@veriflow/testing";

/** True when nothing listens on the port (so we may take it). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The conventional port when free, else any free one (a machine may already run NATS or Postgres). */
export async function preferPort(port: number): Promise<number> {
  return (await isPortFree(port)) ? port : findFreePort();
}
