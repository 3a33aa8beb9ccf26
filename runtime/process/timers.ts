/**
 * Timers for the whole node on one `Clock`: call timeouts, receive timeouts and
 * `sendAfter`. Timers of equal duration expire in the order they were set, so each
 * duration keeps a doubly linked FIFO and one clock timer for its head: setting and
 * cancelling are O(1) and allocate one small entry (Node's own timer lists, lighter).
 */
import type { Clock } from '../clock.js';

export class TimerEntry {
  prev: TimerEntry | undefined = undefined;
  next: TimerEntry | undefined = undefined;
  constructor(
    readonly deadline: number,
    /** Called with `arg`: a shared function and its argument instead of a closure per timer. */
    public fn: ((arg: never) => void) | undefined,
    public list: TimerList | undefined,
    public arg: unknown,
  ) {}
}

class TimerList {
  head: TimerEntry | undefined = undefined;
  tail: TimerEntry | undefined = undefined;
  handle: unknown = undefined;
  /** True while `fire` runs this list's callbacks; they may add to it. */
  firing = false;
  constructor(readonly ms: number) {}
}

export class Timers {
  private readonly lists = new Map<number, TimerList>();

  constructor(
    readonly clock: Clock,
    private readonly onError: (err: unknown) => void = (e) => {
      throw e;
    },
  ) {}

  /** Run `fn(arg)` after `ms` milliseconds (rounded to whole ms, at least 0). */
  after<T>(ms: number, fn: (arg: T) => void, arg?: T): TimerEntry {
    const d = ms > 0 ? Math.ceil(ms) : 0;
    let list = this.lists.get(d);
    if (list === undefined) {
      list = new TimerList(d);
      this.lists.set(d, list);
    }
    const e = new TimerEntry(this.clock.now() + d, fn, list, arg);
    if (list.tail === undefined) {
      list.head = list.tail = e;
      // An armed clock timer is for an earlier deadline of this same duration: it will
      // re-arm for this entry when it fires.
      if (list.handle === undefined && !list.firing) this.arm(list);
    } else {
      e.prev = list.tail;
      list.tail.next = e;
      list.tail = e;
    }
    return e;
  }

  /**
   * Cancel a pending timer; returns the milliseconds it had left, or false if it already
   * fired or was cancelled. The clock timer of its list is left armed: when it fires it
   * re-arms for the new head (or stops), so a call that answers in time costs no clock
   * operation at all.
   */
  cancel(e: TimerEntry): number | false {
    const list = e.list;
    if (list === undefined) return false;
    const left = Math.max(0, e.deadline - this.clock.now());
    this.unlink(list, e);
    e.fn = undefined;
    e.arg = undefined;
    return left;
  }

  /** Milliseconds left, or false if the timer is no longer pending. */
  remaining(e: TimerEntry): number | false {
    return e.list === undefined ? false : Math.max(0, e.deadline - this.clock.now());
  }

  /** Cancel every pending timer (the node is stopping). */
  cancelAll(): void {
    for (const list of this.lists.values()) {
      this.clock.clearTimeout(list.handle);
      for (let e = list.head; e !== undefined; ) {
        const next = e.next;
        e.prev = e.next = undefined;
        e.list = undefined;
        e.fn = undefined;
        e.arg = undefined;
        e = next;
      }
      list.head = list.tail = undefined;
    }
    this.lists.clear();
  }

  /** Number of pending timers (for inspection and tests). */
  pending(): number {
    let n = 0;
    for (const l of this.lists.values()) for (let e = l.head; e !== undefined; e = e.next) n++;
    return n;
  }

  private arm(list: TimerList): void {
    const head = list.head!;
    list.handle = this.clock.setTimeout(() => this.fire(list), Math.max(0, head.deadline - this.clock.now()));
  }

  private fire(list: TimerList): void {
    list.handle = undefined;
    list.firing = true;
    const now = this.clock.now();
    // Node may wake a fraction of a millisecond early; treat that as due.
    while (list.head !== undefined && list.head.deadline <= now + 0.5) {
      const e = list.head;
      const fn = e.fn;
      const arg = e.arg;
      this.unlink(list, e);
      e.fn = undefined;
      e.arg = undefined;
      try {
        (fn as ((a: unknown) => void) | undefined)?.(arg);
      } catch (err) {
        this.onError(err);
      }
    }
    list.firing = false;
    if (list.head !== undefined) this.arm(list);
    else if (this.lists.get(list.ms) === list) this.lists.delete(list.ms);
  }

  private unlink(list: TimerList, e: TimerEntry): void {
    if (e.prev !== undefined) e.prev.next = e.next;
    else list.head = e.next;
    if (e.next !== undefined) e.next.prev = e.prev;
    else list.tail = e.prev;
    e.prev = e.next = undefined;
    e.list = undefined;
  }
}
