import { describe, expect, it } from "vitest";
import { createBulkYield } from "./bulk-yield.js";

describe("bulk uploads yield to interactive ones", () => {
  it("go on at once while no interactive submission is being stored", () => {
    const y = createBulkYield(1000);
    expect(y.turn()).toBeNull();
    const done = y.interactive();
    done();
    expect(y.turn()).toBeNull();
  });

  it("wait while one is, and go on the moment the last one ends", async () => {
    const y = createBulkYield(10_000);
    const a = y.interactive();
    const b = y.interactive();
    let went = false;
    const turn = y.turn()!.then(() => (went = true));
    a();
    await new Promise((r) => setTimeout(r, 20));
    expect(went).toBe(false); // b is still being stored
    b();
    b(); // ending twice counts once
    await turn;
    expect(went).toBe(true);
    expect(y.active()).toBe(0);
  });

  it("wait no longer than the pause: a steady stream of singles slows a batch, never stops it", async () => {
    const y = createBulkYield(50);
    const endless = y.interactive();
    const started = Date.now();
    await y.turn();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(Date.now() - started).toBeLessThan(1000);
    endless();
  });
});
