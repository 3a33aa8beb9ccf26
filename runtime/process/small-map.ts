/**
 * A Map that keeps up to two entries in its own fields and becomes a real Map only at
 * the third. For a process's links and monitors: most processes have one or two (the
 * supervisor it is linked to; whoever registered it and watches it), and a broker keeps
 * one process per connected client for hours. A Map costs about 200 bytes even when it
 * holds one entry; this costs about 40 until it grows.
 *
 * Keys compare with `===` (ours are strings and numbers, never NaN). Only the part of
 * Map's interface its users need (the broker's sessions keep their subscriptions in one).
 */
export class SmallMap<K, V> implements ReadonlySmallMap<K, V> {
  private n = 0;
  private k0: K | undefined = undefined;
  private v0: V | undefined = undefined;
  private k1: K | undefined = undefined;
  private v1: V | undefined = undefined;
  private map: Map<K, V> | undefined = undefined;

  get size(): number {
    return this.map !== undefined ? this.map.size : this.n;
  }

  has(k: K): boolean {
    if (this.map !== undefined) return this.map.has(k);
    return (this.n > 0 && this.k0 === k) || (this.n > 1 && this.k1 === k);
  }

  get(k: K): V | undefined {
    if (this.map !== undefined) return this.map.get(k);
    if (this.n > 0 && this.k0 === k) return this.v0;
    if (this.n > 1 && this.k1 === k) return this.v1;
    return undefined;
  }

  set(k: K, v: V): this {
    if (this.map !== undefined) {
      this.map.set(k, v);
    } else if (this.n > 0 && this.k0 === k) {
      this.v0 = v;
    } else if (this.n > 1 && this.k1 === k) {
      this.v1 = v;
    } else if (this.n === 0) {
      this.k0 = k;
      this.v0 = v;
      this.n = 1;
    } else if (this.n === 1) {
      this.k1 = k;
      this.v1 = v;
      this.n = 2;
    } else {
      // Insertion order is kept, as a Map's.
      this.map = new Map<K, V>([
        [this.k0 as K, this.v0 as V],
        [this.k1 as K, this.v1 as V],
        [k, v],
      ]);
      this.clearSlots();
    }
    return this;
  }

  delete(k: K): boolean {
    if (this.map !== undefined) return this.map.delete(k);
    if (this.n > 0 && this.k0 === k) {
      // The second entry moves up: order is kept.
      this.k0 = this.k1;
      this.v0 = this.v1;
      this.k1 = undefined;
      this.v1 = undefined;
      this.n--;
      return true;
    }
    if (this.n > 1 && this.k1 === k) {
      this.k1 = undefined;
      this.v1 = undefined;
      this.n = 1;
      return true;
    }
    return false;
  }

  values(): IterableIterator<V> {
    if (this.map !== undefined) return this.map.values();
    return (this.n === 0 ? [] : this.n === 1 ? [this.v0 as V] : [this.v0 as V, this.v1 as V]).values();
  }

  entries(): IterableIterator<[K, V]> {
    if (this.map !== undefined) return this.map.entries();
    const out: [K, V][] = [];
    if (this.n > 0) out.push([this.k0 as K, this.v0 as V]);
    if (this.n > 1) out.push([this.k1 as K, this.v1 as V]);
    return out.values();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private clearSlots(): void {
    this.k0 = this.k1 = undefined;
    this.v0 = this.v1 = undefined;
    this.n = 0;
  }
}

/** A SmallMap to read. */
export interface ReadonlySmallMap<K, V> extends Iterable<[K, V]> {
  readonly size: number;
  has(k: K): boolean;
  get(k: K): V | undefined;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[K, V]>;
}
