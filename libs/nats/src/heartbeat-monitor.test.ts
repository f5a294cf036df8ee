import { connect, createServer, type AddressInfo, type Socket } from "node:net";
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

  it("reads a heartbeat already in the socket before it judges a check that is due (a busy, not stopped, process)", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
    const peer = await accepted;
    const missed: number[] = [];
    const monitor = new IdleHeartbeatMonitor(100, (n) => {
      missed.push(n);
      return false;
    }, { maxOut: 1 });
    client.on("data", () => monitor.work());
    try {
      // 60 ms in, the heartbeat is written (on loopback it is in the client's socket at once),
      // and the process stays busy past the check's time but not late enough to call it
      // stalled (< 1.5 intervals): the check comes due in the same turn, before the socket is read.
      await sleep(60);
      peer.write("heartbeat");
      busyFor(80);
      await sleep(40);
      expect(missed).toEqual([]);
    } finally {
      monitor.cancel();
      client.destroy();
      peer.destroy();
      await new Promise((r) => server.close(r));
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
