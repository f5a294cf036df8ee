import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A port nobody listens on, for a server the caller starts next. Drawn at random below the
 * kernel's ephemeral range, never from it: a port the OS hands out for `listen(0)` comes from
 * the range outgoing connections take their local ports from too, so between the pick and the
 * bind a service's own connection (to NATS, PostgreSQL, the chain) could take it, and the server
 * then failed with EADDRINUSE (seen in the chaos suite). Each candidate is bound and released to
 * check it is free; one process never gets the same port twice.
 */
export async function findFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (ephemeralLow() - PICK_FROM));
    if (handedOut.has(port)) continue;
    // Taken before the check, so concurrent calls in this process never test the same port.
    handedOut.add(port);
    if (await isBindable(port)) return port;
  }
  return osPort();
}

/** The lowest port of the range the picks come from (above the well-known and registered services most machines run). */
const PICK_FROM = 20_000;
const handedOut = new Set<number>();

/** Where the kernel's ephemeral ports start (Linux: ip_local_port_range), 32768 when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > PICK_FROM + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function isBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** The OS's own pick (`listen(0)`): the fallback when no port below its range was free. */
function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no port"));
      srv.close(() => resolve(addr.port));
    });
  });
}

/** Resolves once a TCP port accepts connections, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, host = "127.0.0.1", timeoutMs = 30_000): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
