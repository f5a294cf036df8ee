/**
 * A least-recently-used cache bounded in entries and in bytes (as `sizeOf` counts them): a hit
 * moves the entry to the back, a set evicts from the front until both bounds hold. A value
 * larger than the byte bound on its own is not kept. Map keeps insertion order, which is all
 * the bookkeeping an LRU needs.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    const size = this.sizeOf(value);
    if (size > this.maxBytes || this.maxEntries < 1) return;
    this.delete(key);
    this.map.set(key, value);
    this.bytes += size;
    for (const k of this.map.keys()) {
      if (this.map.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.bytes -= this.sizeOf(old);
  }

  get size(): number {
    return this.map.size;
  }
}
