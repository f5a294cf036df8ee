/**
 * A seeded PRNG for the fuzz suite: the same seed replays the same inputs, so a failure
 * printed with its seed reproduces with `FUZZ_SEED=<seed>`. sfc32, seeded through
 * splitmix32: small, fast, and good enough to pick hostile inputs (nothing here is secret).
 */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, max). */
  int(max: number): number;
  /** An integer in [min, max], both included. */
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /**
   * An independent stream for one part of the run (a surface, a route): what it draws does
   * not shift with how much the others drew, so each part replays alone.
   */
  fork(label: string): Random;
}

export function createRandom(seed: number): Random {
  const s = splitmix32(seed >>> 0);
  let a = s();
  let b = s();
  let c = s();
  let d = s();
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  const next = () => next32() / 2 ** 32;
  const int = (max: number) => Math.floor(next() * max);
  return {
    seed,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[int(items.length)]!;
    },
    bytes(n) {
      const out = Buffer.alloc(n);
      let word = 0;
      for (let i = 0; i < n; i++) {
        if (i % 4 === 0) word = next32();
        out[i] = (word >>> ((i % 4) * 8)) & 0xff;
      }
      return out;
    },
    fork: (label) => createRandom((seed ^ hash32(label)) >>> 0),
  };
}

function splitmix32(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a: a label's 32-bit hash, to derive a fork's seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface FuzzSettings {
  seed: number;
  /** How many inputs a surface tries, before its share (each surface scales it). */
  inputs: number;
}

/** `FUZZ_SEED` (a 32-bit unsigned integer; a fresh one when unset) and `FUZZ_INPUTS` (default 1500). */
export function loadFuzzSettings(env: Record<string, string | undefined>): FuzzSettings {
  const seed = env.FUZZ_SEED ? Number(env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`FUZZ_SEED must be an integer in [0, 2^32), got "${env.FUZZ_SEED}"`);
  const inputs = env.FUZZ_INPUTS ? Number(env.FUZZ_INPUTS) : 1500;
  if (!Number.isInteger(inputs) || inputs < 1) throw new Error(`FUZZ_INPUTS must be a positive integer, got "${env.FUZZ_INPUTS}"`);
  return { seed, inputs };
}
