/**
 * A process mailbox: a FIFO ring buffer with O(1) push and shift, plus the scans and
 * removals selective receive needs (the "save queue" is simply the messages a
 * receive skipped, left in place). Idle mailboxes hold no buffer at all.
 * Pure: no scheduling, no logging.
 */

const NO_BUFFER: unknown[] = [];
const FIRST_CAPACITY = 8;
/** A mailbox that grew past this and then emptied gives its buffer back. */
const SHRINK_ABOVE = 1024;

export class Mailbox {
  private buf: unknown[] = NO_BUFFER;
  private head = 0;
  private len = 0;

  get length(): number {
    return this.len;
  }

  push(m: unknown): void {
    const cap = this.buf.length;
    if (this.len === cap) this.grow();
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = m;
    this.len++;
  }

  /** Remove and return the oldest message. Callers check `length` first. */
  shift(): unknown {
    const buf = this.buf;
    const m = buf[this.head];
    buf[this.head] = undefined;
    this.head = (this.head + 1) & (buf.length - 1);
    if (--this.len === 0) {
      this.head = 0;
      // Stored on every emptying, not only on a shrink: a store first reached after
      // TurboFan compiled the scheduler (the first burst over SHRINK_ABOVE) deoptimized
      // turn, drain and shift at once.
      this.buf = buf.length > SHRINK_ABOVE ? NO_BUFFER : buf;
    }
    return m;
  }

  /** The i-th oldest message (0 = next to be received). */
  at(i: number): unknown {
    return this.buf[(this.head + i) & (this.buf.length - 1)];
  }

  /** Remove and return the i-th oldest message, keeping the order of the rest. */
  removeAt(i: number): unknown {
    const mask = this.buf.length - 1;
    const m = this.buf[(this.head + i) & mask];
    // Shift the younger messages one slot towards the head.
    for (let j = i; j < this.len - 1; j++) {
      this.buf[(this.head + j) & mask] = this.buf[(this.head + j + 1) & mask];
    }
    this.buf[(this.head + this.len - 1) & mask] = undefined;
    if (--this.len === 0) this.head = 0;
    return m;
  }

  /** Index of the first message (from `from`) for which `pred` holds, or -1. */
  findIndex(pred: (m: unknown) => boolean, from = 0): number {
    for (let i = from; i < this.len; i++) if (pred(this.at(i))) return i;
    return -1;
  }

  /** All messages, oldest first (for inspection). */
  toArray(): unknown[] {
    const out = new Array<unknown>(this.len);
    for (let i = 0; i < this.len; i++) out[i] = this.at(i);
    return out;
  }

  clear(): void {
    this.buf = NO_BUFFER;
    this.head = 0;
    this.len = 0;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length === 0 ? FIRST_CAPACITY : old.length * 2;
    const next = new Array<unknown>(cap);
    for (let i = 0; i < this.len; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}
