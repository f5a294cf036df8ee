import { setTimeout as sleep } from "node:timers/promises";
import { IdleHeartbeatMonitor } from "@nats-io/nats-core/internal";
import { describe, expect, it } from "vitest";

/**
 * nats.js abandons a pull request after two idle-heartbeat checks that saw nothing, and the
 * messages already on their way to it come back only after the ack wait. A process that was
 * stopped or starved (SIGSTOP, a frozen container, a CPU-starved node) wakes with its checks
 * overdue and the heartbeats still unread in its socket: our patch of the monitor
 * (patches/@nats-io+nats-core+*.patch) lets such a late check pass, so the pull survives.
 */
describe("idle heartbeat monitor (patched)", () => {
  const busyFor = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };

  it("does not call heartbeats missed for a check that comes late because the process did not run", async () => {
    const missed: number[] = [];
    // maxOut 1: the first check that sees nothing is fatal, so the overdue check alone decides.
    const monitor = new IdleHeartbeatMonitor(100, (n) => {
      missed.push(n);
      return false;
    }, { maxOut: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        await sleep(30);
        monitor.work();
      }
      // The process does not run for 400 ms; when it does, the overdue check fires before
      // the socket's heartbeats are handled (timers run before the next turn's I/O).
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          busyFor(400);
          setTimeout(() => {
            monitor.work();
            resolve();
          }, 0);
        }),
      );
      for (let i = 0; i < 4; i++) {
        await sleep(30);
        monitor.work();
      }
      expect(missed).toEqual([]);
    } finally {
      monitor.cancel();
    }
  });

  it("still calls them missed when the process runs and nothing arrives", async () => {
    const missed: number[] = [];
    const monitor = new IdleHeartbeatMonitor(50, (n) => {
      missed.push(n);
      return false;
    }, { maxOut: 2 });
    try {
      await sleep(200);
      expect(missed.length).toBeGreaterThan(0);
    } finally {
      monitor.cancel();
    }
  });
});
