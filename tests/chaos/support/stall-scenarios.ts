import { spawn, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { pipeline, type ServiceName } from "@veriflow/events";
import type { Scenario } from "./scenarios.js";

/**
 * Faults that stop or slow consumers without killing them: what the ack wait must not
 * mistake for a dead consumer. Both mark themselves `noExtraAttempts`: the run fails if any
 * consumer received a message again that its loop did not ask for (redeliveries.ts): an ack
 * wait that ran out while the consumer was alive, or deliveries its client dropped. Retries a
 * handler asked for (a manifest fetch whose timer ran out during the freeze) are allowed.
 */

/** Every service holding JetStream messages: the stages and the observers (status, webhooks). */
const consumers: ServiceName[] = [...pipeline.stages.map((s) => s.service), ...pipeline.observers.map((o) => o.service)];

/** Freezes, as fractions of the load; each lasts FREEZE_MS (under ack wait − heartbeat interval: 8 − 2 = 6 s). */
const FREEZE_AT = [0.2, 0.7];
const FREEZE_MS = 4_000;
/** The least time running between two freezes (a late first one must not make one long freeze of two). */
const THAW_MS = 3_000;

export function freezeScenario(minLoadS: number): Scenario {
  return {
    name: "freeze-consumers",
    fault: `SIGSTOP of every consumer (${consumers.join(", ")}) for ${FREEZE_MS / 1000} s at ${FREEZE_AT.map((f) => `${f * 100}%`).join(" and ")} of the load`,
    minLoadS,
    noExtraAttempts: true,
    async inject({ stack, at, log }) {
      for (const fraction of FREEZE_AT) {
        await at(fraction);
        for (const name of consumers) for (const p of stack.local.services[name]) p.child.kill("SIGSTOP");
        log(`consumers frozen (SIGSTOP) for ${FREEZE_MS} ms`);
        await sleep(FREEZE_MS);
        for (const name of consumers) for (const p of stack.local.services[name]) p.child.kill("SIGCONT");
        log("consumers running again (SIGCONT)");
        await sleep(THAW_MS);
      }
      return { kills: FREEZE_AT.length };
    },
  };
}

/** Starvation window, as fractions of the load. */
const STARVE = { from: 0.2, to: 0.7 } as const;
/** Busy-looping processes at normal priority, against consumers lowered to this nice value. */
const BURNERS = 3;
const CONSUMER_NICE = 10;

export function starveScenario(minLoadS: number): Scenario {
  return {
    name: "starve-consumers",
    fault: `every consumer at nice ${CONSUMER_NICE} against ${BURNERS} busy-looping processes from ${STARVE.from * 100}% to ${STARVE.to * 100}% of the load`,
    minLoadS,
    noExtraAttempts: true,
    async inject({ stack, at, log }) {
      await at(STARVE.from);
      const burners: ChildProcess[] = [];
      try {
        for (let i = 0; i < BURNERS; i++) burners.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
        // Unprivileged: lowered for good (the scenario's processes end with it), never raised back.
        for (const name of consumers) for (const p of stack.local.services[name]) setPriority(p.child.pid!, CONSUMER_NICE);
        log(`consumers at nice ${CONSUMER_NICE}, ${BURNERS} CPU burners started`);
        await at(STARVE.to);
      } finally {
        for (const b of burners) b.kill("SIGKILL");
      }
      log("CPU burners stopped");
      return { kills: 0 };
    },
  };
}
