import { describe, expect, it } from "vitest";
import { createPrioritySlots } from "./priority-slots.js";

/** Acquires and records when each waiter got its slot. */
function track(slots: ReturnType<typeof createPrioritySlots>) {
  const started: string[] = [];
  const take = (p: "interactive" | "bulk", name: string) => slots.of(p).acquire().then((ok) => (ok ? started.push(name) : started.push(`${name}:cancelled`)));
  return { started, take };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("priority slots", () => {
  it("keeps the last eighth for interactive work: a batch never fills the stage", async () => {
    const slots = createPrioritySlots(16);
    const { take } = track(slots);
    for (let i = 0; i < 20; i++) void take("bulk", `b${i}`);
    await tick();
    expect(slots.running("bulk")).toBe(14);
    expect(slots.bulkLimit).toBe(14);
    void take("interactive", "i0");
    await tick();
    expect(slots.running("interactive")).toBe(1); // started at once, no bulk message had to end
  });

  it("gives a freed slot to waiting interactive work before waiting bulk work", async () => {
    const slots = createPrioritySlots(4);
    const { started, take } = track(slots);
    for (let i = 0; i < 4; i++) void take("interactive", `i${i}`);
    await tick();
    void take("bulk", "b0");
    void take("bulk", "b1");
    void take("interactive", "i4");
    await tick();
    expect(started).toEqual(["i0", "i1", "i2", "i3"]);
    slots.of("interactive").release();
    await tick();
    // b0 takes the bulk floor (one slot of four) rather than i4: bulk is never starved.
    expect(started.slice(4)).toEqual(["b0"]);
    slots.of("interactive").release();
    await tick();
    expect(started.slice(5)).toEqual(["i4"]);
  });

  it("lets interactive work use every slot while no bulk work waits", async () => {
    const slots = createPrioritySlots(10);
    const { take } = track(slots);
    for (let i = 0; i < 12; i++) void take("interactive", `i${i}`);
    await tick();
    expect(slots.running("interactive")).toBe(10);
  });

  it("answers false to the waiters of a class that is cancelled (a stopping loop)", async () => {
    const slots = createPrioritySlots(1);
    const { started, take } = track(slots);
    void take("bulk", "b0");
    void take("bulk", "b1");
    await tick();
    slots.of("bulk").cancel();
    await tick();
    expect(started).toEqual(["b0", "b1:cancelled"]);
  });
});
